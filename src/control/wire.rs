//! Bytes on the wire: netlink + genetlink framing (netlink-packet-core and
//! netlink-packet-generic), attribute writing and defensive attribute
//! reading, extended-ACK parsing and errno naming.
//!
//! Nothing here touches a socket, so every function is unit-tested on
//! hand-built bytes. Nothing here panics on malformed input: every length
//! comes from a checked buffer (`NetlinkBuffer::new_checked`,
//! `NlasIterator`) and every slice is taken with `get`.

use std::fmt;

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NlaBuffer,
    NlasIterator, ParseableParametrized, NLA_HEADER_SIZE, NLM_F_ACK_TLVS, NLM_F_CAPPED,
};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};

use super::uapi::{self, UapiEnum};

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Size of `struct genlmsghdr`.
pub const GENL_HDRLEN: usize = 4;
/// Where the attributes of a genetlink message start, from its nlmsghdr.
pub const ATTRS_OFFSET: usize = NLMSG_HDRLEN + GENL_HDRLEN;

/// Longest attribute value a u16 `nla_len` can describe.
pub const MAX_ATTR_VALUE: usize = u16::MAX as usize - NLA_HEADER_SIZE;

// Extended-ACK attributes (`enum nlmsgerr_attrs`, linux/netlink.h).
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_OFFS: u16 = 2;
const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
const NLMSGERR_ATTR_MISS_NEST: u16 = 6;

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// A genetlink payload: command, version and the attributes still as bytes.
/// One type serves the `liteflow` family and `nlctrl`; attributes are
/// decoded later by [`Attrs`], which knows whose they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenlPayload {
    pub cmd: u8,
    pub version: u8,
    pub attrs: Vec<u8>,
}

impl GenlFamily for GenlPayload {
    fn family_name() -> &'static str {
        uapi::GENL_NAME
    }
    fn command(&self) -> u8 {
        self.cmd
    }
    fn version(&self) -> u8 {
        self.version
    }
}

impl Emitable for GenlPayload {
    fn buffer_len(&self) -> usize {
        self.attrs.len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        buffer[..self.attrs.len()].copy_from_slice(&self.attrs);
    }
}

impl ParseableParametrized<[u8], GenlHeader> for GenlPayload {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(GenlPayload {
            cmd: header.cmd,
            version: header.version,
            attrs: buf.to_vec(),
        })
    }
}

pub type Message = NetlinkMessage<GenlMessage<GenlPayload>>;

/// One request, serialized: nlmsghdr + genlmsghdr + attributes.
pub fn encode_request(
    family: u16,
    cmd: u8,
    version: u8,
    flags: u16,
    seq: u32,
    attrs: Vec<u8>,
) -> Vec<u8> {
    let genl = GenlMessage::new(
        GenlHeader { cmd, version },
        GenlPayload {
            cmd,
            version,
            attrs,
        },
        family,
    );
    let mut msg: Message = NetlinkMessage::from(genl);
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    header.port_number = 0; // to the kernel
    msg.header = header;
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// Split one received datagram into its netlink messages and parse each.
/// A length field that points outside the datagram is an error, not a panic.
pub fn decode_datagram(dgram: &[u8]) -> Result<Vec<Message>, String> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off < dgram.len() {
        let rest = &dgram[off..];
        let nb = NetlinkBuffer::new_checked(rest)
            .map_err(|e| format!("malformed netlink message at byte {off}: {e}"))?;
        let len = nb.length() as usize;
        let msg = Message::deserialize(&rest[..len])
            .map_err(|e| format!("malformed netlink message at byte {off}: {e}"))?;
        out.push(msg);
        off = off.saturating_add(align4(len));
    }
    Ok(out)
}

/// Serializes attributes in netlink order with NLA alignment.
#[derive(Default, Debug)]
pub struct AttrWriter {
    buf: Vec<u8>,
}

impl AttrWriter {
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends one attribute; a value longer than `nla_len` can hold is an
    /// error (the caller names what it was).
    pub fn put(&mut self, kind: u16, value: &[u8]) -> Result<&mut Self, String> {
        if value.len() > MAX_ATTR_VALUE {
            return Err(format!(
                "attribute {kind} would hold {} bytes, netlink attributes hold at most {MAX_ATTR_VALUE}",
                value.len()
            ));
        }
        let nla = DefaultNla::new(kind, value.to_vec());
        let start = self.buf.len();
        self.buf.resize(start + nla.buffer_len(), 0);
        nla.emit(&mut self.buf[start..]);
        Ok(self)
    }
    pub fn u32(&mut self, kind: impl AttrKind, v: u32) -> &mut Self {
        self.put(kind.raw(), &v.to_ne_bytes())
            .expect("4-byte attribute")
    }
    pub fn u64(&mut self, kind: impl AttrKind, v: u64) -> &mut Self {
        self.put(kind.raw(), &v.to_ne_bytes())
            .expect("8-byte attribute")
    }
    pub fn u8(&mut self, kind: impl AttrKind, v: u8) -> &mut Self {
        self.put(kind.raw(), &[v]).expect("1-byte attribute")
    }
    /// NUL-terminated string, as `NLA_NUL_STRING` policies want.
    pub fn string(&mut self, kind: impl AttrKind, s: &str) -> Result<&mut Self, String> {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.put(kind.raw(), &v)
            .map_err(|_| format!("{} is too long", kind.name()))
    }
    /// s64 array in host byte order.
    pub fn s64_array(&mut self, kind: impl AttrKind, values: &[i64]) -> Result<&mut Self, String> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
        self.put(kind.raw(), &bytes)
            .map_err(|_| format!("{} is too long", kind.name()))
    }
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

/// Something that names an attribute type: the uapi enums, and the few
/// nlctrl attributes the client reads.
pub trait AttrKind: Copy {
    fn raw(self) -> u16;
    fn name(self) -> String;
}

impl<E: UapiEnum> AttrKind for E {
    fn raw(self) -> u16 {
        UapiEnum::raw(self)
    }
    fn name(self) -> String {
        self.c_name().to_string()
    }
}

/// An nlctrl attribute (`CTRL_ATTR_*`, linux/genetlink.h).
#[derive(Clone, Copy, Debug)]
pub struct CtrlAttr(pub u16, pub &'static str);

impl AttrKind for CtrlAttr {
    fn raw(self) -> u16 {
        self.0
    }
    fn name(self) -> String {
        self.1.to_string()
    }
}

/// The attributes of one message (or one nest), parsed up front so a
/// truncated buffer is reported before anything is used. Unknown types are
/// kept and simply never asked for. A repeated type answers with its last
/// occurrence, as the kernel's `nla_parse` does, except through [`Attrs::all`].
#[derive(Debug)]
pub struct Attrs<'a> {
    items: Vec<(u16, &'a [u8])>,
}

impl<'a> Attrs<'a> {
    /// `what` names the attribute set in errors (e.g. `LF_ATTR_SLOT`).
    pub fn parse(buf: &'a [u8], what: &str) -> Result<Attrs<'a>, String> {
        let mut items = Vec::new();
        for (i, nla) in NlasIterator::new(buf).enumerate() {
            let nla: NlaBuffer<&'a [u8]> =
                nla.map_err(|e| format!("attribute {i} of {what} is truncated: {e}"))?;
            let kind = nla.kind();
            let len = nla.length() as usize;
            let raw: &'a [u8] = nla.into_inner();
            let value = raw
                .get(NLA_HEADER_SIZE..len)
                .ok_or_else(|| format!("attribute {i} of {what} is truncated"))?;
            items.push((kind, value));
        }
        Ok(Attrs { items })
    }

    pub fn get(&self, kind: impl AttrKind) -> Option<&'a [u8]> {
        let k = kind.raw();
        self.items
            .iter()
            .rev()
            .find(|(t, _)| *t == k)
            .map(|(_, v)| *v)
    }

    pub fn all(&self, kind: impl AttrKind) -> impl Iterator<Item = &'a [u8]> + '_ {
        let k = kind.raw();
        self.items
            .iter()
            .filter(move |(t, _)| *t == k)
            .map(|(_, v)| *v)
    }

    /// Every value, whatever its type (for index-keyed nests).
    pub fn items(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.items.iter().map(|(_, v)| *v)
    }

    pub fn has(&self, kind: impl AttrKind) -> bool {
        self.get(kind).is_some()
    }

    fn fixed<const N: usize>(&self, kind: impl AttrKind) -> Result<Option<[u8; N]>, String> {
        match self.get(kind) {
            None => Ok(None),
            Some(v) => <[u8; N]>::try_from(v).map(Some).map_err(|_| {
                format!(
                    "attribute {} has {} bytes, expected {N}",
                    kind.name(),
                    v.len()
                )
            }),
        }
    }

    pub fn u8(&self, kind: impl AttrKind) -> Result<Option<u8>, String> {
        Ok(self.fixed::<1>(kind)?.map(|b| b[0]))
    }
    pub fn u16(&self, kind: impl AttrKind) -> Result<Option<u16>, String> {
        Ok(self.fixed::<2>(kind)?.map(u16::from_ne_bytes))
    }
    pub fn u32(&self, kind: impl AttrKind) -> Result<Option<u32>, String> {
        Ok(self.fixed::<4>(kind)?.map(u32::from_ne_bytes))
    }
    pub fn u64(&self, kind: impl AttrKind) -> Result<Option<u64>, String> {
        Ok(self.fixed::<8>(kind)?.map(u64::from_ne_bytes))
    }
    pub fn s64(&self, kind: impl AttrKind) -> Result<Option<i64>, String> {
        Ok(self.fixed::<8>(kind)?.map(i64::from_ne_bytes))
    }
    /// A string attribute up to its first NUL (or its end, if it has none).
    pub fn string(&self, kind: impl AttrKind) -> Result<Option<String>, String> {
        Ok(self.get(kind).map(|v| {
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            String::from_utf8_lossy(&v[..end]).into_owned()
        }))
    }
    /// An s64 array; its length must be a whole number of values.
    pub fn s64_array(&self, kind: impl AttrKind) -> Result<Option<Vec<i64>>, String> {
        match self.get(kind) {
            None => Ok(None),
            Some(v) if v.len() % 8 != 0 => Err(format!(
                "attribute {} has {} bytes, not a whole number of s64 values",
                kind.name(),
                v.len()
            )),
            Some(v) => Ok(Some(
                v.chunks_exact(8)
                    .map(|c| i64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect(),
            )),
        }
    }

    pub fn req<T>(&self, kind: impl AttrKind, v: Result<Option<T>, String>) -> Result<T, String> {
        v?.ok_or_else(|| format!("missing attribute {}", kind.name()))
    }
    pub fn req_u32(&self, kind: impl AttrKind) -> Result<u32, String> {
        self.req(kind, self.u32(kind))
    }
    pub fn req_u64(&self, kind: impl AttrKind) -> Result<u64, String> {
        self.req(kind, self.u64(kind))
    }
    pub fn req_s64(&self, kind: impl AttrKind) -> Result<i64, String> {
        self.req(kind, self.s64(kind))
    }
    pub fn req_string(&self, kind: impl AttrKind) -> Result<String, String> {
        self.req(kind, self.string(kind))
    }
}

/// What an extended ACK (`NLMSGERR_ATTR_*`) told us.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtAck {
    /// `NLMSGERR_ATTR_MSG`: the kernel's message (NL_SET_ERR_MSG).
    pub msg: Option<String>,
    /// `NLMSGERR_ATTR_OFFS`: byte offset of the offending attribute in our request.
    pub offset: Option<u32>,
    /// `NLMSGERR_ATTR_MISS_TYPE`: a required attribute that was missing.
    pub miss_type: Option<u32>,
    /// `NLMSGERR_ATTR_MISS_NEST`: offset of the nest it was missing from.
    pub miss_nest: Option<u32>,
}

impl ExtAck {
    /// Parses extack TLVs; it is best effort: whatever can be read is kept,
    /// a malformed tail is dropped (the errno is still reported).
    pub fn parse(tlvs: &[u8]) -> ExtAck {
        let mut ext = ExtAck::default();
        for nla in NlasIterator::new(tlvs) {
            let Ok(nla) = nla else { break };
            let kind = nla.kind();
            let len = nla.length() as usize;
            let raw = nla.into_inner();
            let Some(v) = raw.get(NLA_HEADER_SIZE..len) else {
                break;
            };
            let as_u32 = || <[u8; 4]>::try_from(v).ok().map(u32::from_ne_bytes);
            match kind {
                NLMSGERR_ATTR_MSG => {
                    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
                    let s = String::from_utf8_lossy(&v[..end]).trim().to_string();
                    if !s.is_empty() {
                        ext.msg = Some(s);
                    }
                }
                NLMSGERR_ATTR_OFFS => ext.offset = as_u32(),
                NLMSGERR_ATTR_MISS_TYPE => ext.miss_type = as_u32(),
                NLMSGERR_ATTR_MISS_NEST => ext.miss_nest = as_u32(),
                _ => {}
            }
        }
        ext
    }

    /// The TLVs of an `NLMSG_ERROR` payload (`payload` is what follows the
    /// error code): the echoed request header, its body unless the kernel
    /// capped it (`NLM_F_CAPPED`), then the TLVs if `NLM_F_ACK_TLVS` is set.
    pub fn from_error(outer_flags: u16, payload: &[u8]) -> ExtAck {
        if outer_flags & NLM_F_ACK_TLVS == 0 {
            return ExtAck::default();
        }
        let echoed = if outer_flags & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            match payload.get(0..4) {
                Some(b) => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize,
                None => return ExtAck::default(),
            }
        };
        match payload.get(align4(echoed.max(NLMSG_HDRLEN))..) {
            Some(tlvs) => ExtAck::parse(tlvs),
            None => ExtAck::default(),
        }
    }
}

/// Name of the `lf_attr` attribute of `request` that starts at (or
/// contains) byte `offset`, as the kernel's NLMSGERR_ATTR_OFFS reports it.
pub fn attr_at_offset(request: &[u8], offset: u32) -> Option<String> {
    let offset = offset as usize;
    let attrs = request.get(ATTRS_OFFSET..)?;
    let mut pos = ATTRS_OFFSET;
    for nla in NlasIterator::new(attrs) {
        let nla = nla.ok()?;
        let len = nla.length() as usize;
        if offset >= pos && offset < pos + len.max(NLA_HEADER_SIZE) {
            return Some(uapi::Attr::name_of(nla.kind()));
        }
        pos += align4(len);
    }
    None
}

/// An error the kernel answered with: errno plus whatever the extack said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelError {
    /// Positive errno.
    pub errno: i32,
    pub ext: ExtAck,
    /// Attribute the extack offset pointed at, resolved against our request.
    pub bad_attr: Option<String>,
}

impl KernelError {
    pub fn new(code: i32, ext: ExtAck, request: Option<&[u8]>) -> KernelError {
        let bad_attr = match (ext.offset, request) {
            (Some(off), Some(req)) => attr_at_offset(req, off),
            _ => None,
        };
        KernelError {
            errno: code.saturating_abs(),
            ext,
            bad_attr,
        }
    }
}

impl fmt::Display for KernelError {
    /// `vector has 232 bytes, app expects 240 (EINVAL)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut detail = match (&self.ext.msg, self.ext.miss_type) {
            // NL_SET_ERR_MSG_MOD prefixes the module name; the caller's
            // context already says `lf_kernel:`.
            (Some(m), _) => m.strip_prefix("lf_kernel: ").unwrap_or(m).to_string(),
            (None, Some(t)) if self.ext.miss_nest.is_none() => {
                format!("missing attribute {}", uapi::Attr::name_of(t as u16))
            }
            (None, Some(t)) => format!("missing attribute {t} in a nested attribute"),
            (None, None) => errno_text(self.errno),
        };
        if let Some(a) = &self.bad_attr {
            detail.push_str(&format!(" [{a}]"));
        }
        write!(f, "{detail} ({})", errno_name(self.errno))?;
        if self.errno == libc::EPERM {
            write!(f, "; lf_kernel commands need CAP_NET_ADMIN (run as root)")?;
        }
        Ok(())
    }
}

const ERRNO_NAMES: &[(i32, &str)] = &[
    (libc::EPERM, "EPERM"),
    (libc::ENOENT, "ENOENT"),
    (libc::ESRCH, "ESRCH"),
    (libc::EINTR, "EINTR"),
    (libc::EIO, "EIO"),
    (libc::ENXIO, "ENXIO"),
    (libc::E2BIG, "E2BIG"),
    (libc::ENOEXEC, "ENOEXEC"),
    (libc::EBADF, "EBADF"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EACCES, "EACCES"),
    (libc::EFAULT, "EFAULT"),
    (libc::EBUSY, "EBUSY"),
    (libc::EEXIST, "EEXIST"),
    (libc::ENODEV, "ENODEV"),
    (libc::EINVAL, "EINVAL"),
    (libc::ENFILE, "ENFILE"),
    (libc::EMFILE, "EMFILE"),
    (libc::ENOSPC, "ENOSPC"),
    (libc::EDOM, "EDOM"),
    (libc::ERANGE, "ERANGE"),
    (libc::ENOSYS, "ENOSYS"),
    (libc::ENODATA, "ENODATA"),
    (libc::EPROTO, "EPROTO"),
    (libc::EOVERFLOW, "EOVERFLOW"),
    (libc::EMSGSIZE, "EMSGSIZE"),
    (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
    (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    (libc::ENOBUFS, "ENOBUFS"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
    (libc::EALREADY, "EALREADY"),
    (libc::ECANCELED, "ECANCELED"),
    (libc::ENOKEY, "ENOKEY"),
    (libc::EKEYREJECTED, "EKEYREJECTED"),
    (524, "ENOTSUPP"),
];

/// `EINVAL` for 22; `errno 4242` for what the table does not know.
pub fn errno_name(errno: i32) -> String {
    ERRNO_NAMES
        .iter()
        .find(|(n, _)| *n == errno)
        .map(|(_, s)| s.to_string())
        .unwrap_or_else(|| format!("errno {errno}"))
}

/// strerror text, without std's ` (os error N)` suffix.
pub fn errno_text(errno: i32) -> String {
    if errno == 524 {
        // Kernel-internal ENOTSUPP; libc has no text for it.
        return "Operation is not supported".to_string();
    }
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
