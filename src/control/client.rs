//! Request/reply exchanges over a [`Transport`]: sequence matching, ACKs,
//! dumps, kernel errors with their extended ACK. The real transport is a
//! netlink-sys socket; tests script one.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkPayload, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket};

use super::proto::{self, Family, Request};
use super::uapi;
use super::wire::{self, ExtAck, GenlPayload, KernelError};

/// How long one reply may take before the client gives up (lf_kernel
/// answers from process context; only a wedged module takes this long).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

pub const NOT_LOADED: &str =
    "generic netlink family `liteflow` not found: is lf_kernel.ko loaded? (insmod runtime-kmod/lf_kernel.ko)";

/// Datagrams in, datagrams out.
pub trait Transport {
    fn send(&mut self, datagram: &[u8]) -> io::Result<()>;
    /// One whole datagram (which may hold several netlink messages).
    fn recv(&mut self) -> io::Result<Vec<u8>>;
}

/// A NETLINK_GENERIC socket with extended ACKs on and a receive timeout.
pub struct NlTransport {
    sock: Socket,
}

impl NlTransport {
    pub fn open() -> io::Result<NlTransport> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        // Both are best effort: without them errors still carry the errno.
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        set_recv_timeout(&sock, REPLY_TIMEOUT)?;
        Ok(NlTransport { sock })
    }

    /// A socket that listens to the multicast group `group` (records), with
    /// a short receive timeout so the reader can check its deadline and
    /// Ctrl-C between datagrams, a large receive buffer and
    /// `NETLINK_BROADCAST_ERROR`.
    ///
    /// The buffer: [`RECORDS_RCVBUF`] with `SO_RCVBUFFORCE` (root, or
    /// CAP_NET_ADMIN: past net.core.rmem_max, whose default of 208 KiB holds
    /// only about eleven 64-record Aurora messages), else as much as
    /// `SO_RCVBUF` gives; best effort either way (overruns are counted).
    /// `NETLINK_BROADCAST_ERROR` makes a multicast to this socket fail in
    /// the kernel when its buffer is full, so lf_kernel counts the records
    /// of a listener that falls behind as dropped (LF_ATTR_DROPPED) instead
    /// of believing them delivered.
    pub fn open_group(group: u32, timeout: Duration) -> io::Result<NlTransport> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        if setsockopt_int(
            &sock,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            RECORDS_RCVBUF,
        )
        .is_err()
        {
            let _ = sock.set_rx_buf_sz(RECORDS_RCVBUF);
        }
        setsockopt_int(&sock, libc::SOL_NETLINK, libc::NETLINK_BROADCAST_ERROR, 1)?;
        sock.add_membership(group)?;
        set_recv_timeout(&sock, timeout)?;
        Ok(NlTransport { sock })
    }
}

/// Receive buffer asked for on the records socket: 4 MiB, some 230 full
/// Aurora messages (64 records of 284 bytes).
pub const RECORDS_RCVBUF: libc::c_int = 4 << 20;

fn setsockopt_int(
    sock: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: a valid fd, a pointer to a live c_int and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_recv_timeout(sock: &Socket, t: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: a valid fd, a pointer to a live timeval and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl Transport for NlTransport {
    fn send(&mut self, datagram: &[u8]) -> io::Result<()> {
        let n = self.sock.send(datagram, 0)?;
        if n != datagram.len() {
            return Err(io::Error::other(format!(
                "sent {n} of {} bytes",
                datagram.len()
            )));
        }
        Ok(())
    }
    fn recv(&mut self) -> io::Result<Vec<u8>> {
        loop {
            match self.sock.recv_from_full() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other.map(|(buf, _)| buf),
            }
        }
    }
}

/// Why an exchange failed.
#[derive(Debug)]
pub enum Failure {
    /// The kernel answered with an error.
    Kernel(KernelError),
    /// Socket trouble or a reply that could not be decoded.
    Other(String),
}

/// Do-requests end with an ACK; dumps with NLMSG_DONE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Do,
    Dump,
}

/// Replies of one exchange, and whether a dump was interrupted by a
/// concurrent change (NLM_F_DUMP_INTR: the caller should dump again).
#[derive(Debug, Default)]
pub struct Replies {
    pub msgs: Vec<GenlPayload>,
    pub interrupted: bool,
}

/// The connection state shared by the public [`super::Client`].
pub struct Conn {
    io: Box<dyn Transport>,
    seq: u32,
    pub family: Family,
}

impl Conn {
    /// Resolves the liteflow family over `io` and checks its version.
    pub fn new(mut io: Box<dyn Transport>) -> crate::Result<Conn> {
        let mut seq = 1;
        let req = encode(
            proto::GENL_ID_CTRL,
            proto::CTRL_VERSION,
            proto::CTRL_CMD_GETFAMILY,
            Mode::Do,
            seq,
            proto::ctrl_getfamily(uapi::GENL_NAME),
        );
        seq += 1;
        let replies = match exchange(io.as_mut(), &req, proto::GENL_ID_CTRL) {
            Ok(r) => r,
            Err(Failure::Kernel(k)) if k.errno == libc::ENOENT => {
                return Err(crate::Error::Other(NOT_LOADED.to_string()))
            }
            Err(Failure::Kernel(k)) => {
                return Err(crate::Error::Other(format!(
                    "nlctrl: resolving family `{}`: {k}",
                    uapi::GENL_NAME
                )))
            }
            Err(Failure::Other(e)) => {
                return Err(crate::Error::Other(format!(
                    "nlctrl: resolving family `{}`: {e}",
                    uapi::GENL_NAME
                )))
            }
        };
        let first = replies.msgs.first().ok_or_else(|| {
            crate::Error::Other(format!(
                "nlctrl: no reply describing family `{}`",
                uapi::GENL_NAME
            ))
        })?;
        let family = proto::decode_family(&first.attrs).map_err(|e| {
            crate::Error::Other(format!("nlctrl: family `{}`: {e}", uapi::GENL_NAME))
        })?;
        if family.version != u32::from(uapi::GENL_VERSION) {
            return Err(crate::Error::Other(format!(
                "lf_kernel speaks version {} of the `{}` protocol, this lfc speaks version {}: rebuild one of them from the same tree",
                family.version,
                uapi::GENL_NAME,
                uapi::GENL_VERSION
            )));
        }
        Ok(Conn { io, seq, family })
    }

    /// One liteflow request; errors come out as `lf_kernel: <context>: ...`.
    pub fn call(&mut self, req: &Request, mode: Mode) -> crate::Result<Replies> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1).max(1);
        let bytes = encode(
            self.family.id,
            uapi::GENL_VERSION,
            req.cmd.byte(),
            mode,
            seq,
            req.attrs.clone(),
        );
        exchange(self.io.as_mut(), &bytes, self.family.id).map_err(|f| {
            crate::Error::Other(match f {
                Failure::Kernel(k) => format!("lf_kernel: {}: {k}", req.context),
                Failure::Other(e) => format!("lf_kernel: {}: {e}", req.context),
            })
        })
    }
}

/// The framed request: do-requests ask for an ACK, dumps for NLM_F_DUMP.
pub fn encode(family: u16, version: u8, cmd: u8, mode: Mode, seq: u32, attrs: Vec<u8>) -> Vec<u8> {
    let flags = NLM_F_REQUEST
        | match mode {
            Mode::Do => NLM_F_ACK,
            Mode::Dump => NLM_F_DUMP,
        };
    wire::encode_request(family, cmd, version, flags, seq, attrs)
}

fn seq_of(request: &[u8]) -> u32 {
    request
        .get(8..12)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

/// Sends `request` and collects the replies that carry its sequence number
/// until the ACK (do) or NLMSG_DONE (dump). Messages of other sequence
/// numbers (stale answers) are skipped.
pub fn exchange(io: &mut dyn Transport, request: &[u8], family: u16) -> Result<Replies, Failure> {
    let seq = seq_of(request);
    io.send(request)
        .map_err(|e| Failure::Other(format!("sending the request failed: {e}")))?;
    let mut out = Replies::default();
    loop {
        let dgram = io.recv().map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                Failure::Other(format!("no answer within {} s", REPLY_TIMEOUT.as_secs()))
            }
            _ => Failure::Other(format!("netlink receive failed: {e}")),
        })?;
        if dgram.is_empty() {
            return Err(Failure::Other(
                "the netlink socket returned an empty datagram".into(),
            ));
        }
        let msgs = wire::decode_datagram(&dgram)
            .map_err(|e| Failure::Other(format!("malformed reply: {e}")))?;
        for msg in msgs {
            if msg.header.sequence_number != seq {
                continue;
            }
            if msg.header.flags & NLM_F_DUMP_INTR != 0 {
                out.interrupted = true;
            }
            let flags = msg.header.flags;
            let msg_type = msg.header.message_type;
            match msg.payload {
                NetlinkPayload::Error(e) => match e.code {
                    None => return Ok(out),
                    Some(code) => {
                        let ext = ExtAck::from_error(flags, &e.header);
                        return Err(Failure::Kernel(KernelError::new(
                            code.get(),
                            ext,
                            Some(request),
                        )));
                    }
                },
                NetlinkPayload::Done(d) => {
                    if d.code < 0 {
                        let ext = if flags & NLM_F_ACK_TLVS != 0 {
                            ExtAck::parse(&d.extended_ack)
                        } else {
                            ExtAck::default()
                        };
                        return Err(Failure::Kernel(KernelError::new(
                            d.code,
                            ext,
                            Some(request),
                        )));
                    }
                    return Ok(out);
                }
                NetlinkPayload::InnerMessage(genl) => {
                    if msg_type != family {
                        return Err(Failure::Other(format!(
                            "malformed reply: message type {msg_type}, expected family {family}"
                        )));
                    }
                    out.msgs.push(genl.payload);
                }
                NetlinkPayload::Overrun(_) => {
                    return Err(Failure::Other(
                        "the kernel reported a receive overrun".into(),
                    ))
                }
                _ => {} // NLMSG_NOOP and anything newer: ignored
            }
        }
    }
}

#[cfg(test)]
mod socket_tests {
    use super::*;

    fn getsockopt_int(t: &NlTransport, level: libc::c_int, name: libc::c_int) -> libc::c_int {
        let mut v: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a valid fd, a live c_int and its size.
        let rc = unsafe {
            libc::getsockopt(
                t.sock.as_raw_fd(),
                level,
                name,
                &mut v as *mut libc::c_int as *mut libc::c_void,
                &mut len,
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        v
    }

    /// The records socket reports a full buffer to the kernel and has as
    /// large a buffer as it may (nlctrl's `notify` group, id 16, stands in
    /// for lf_kernel's, which needs the module).
    #[test]
    fn records_socket_options() {
        let t = match NlTransport::open_group(16, Duration::from_millis(10)) {
            Ok(t) => t,
            Err(e) if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) => return,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            getsockopt_int(&t, libc::SOL_NETLINK, libc::NETLINK_BROADCAST_ERROR),
            1
        );
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let got = getsockopt_int(&t, libc::SOL_SOCKET, libc::SO_RCVBUF) as usize;
        // The kernel doubles what it grants; SO_RCVBUFFORCE (root) gets
        // all of it, SO_RCVBUF at most rmem_max.
        let want = if unsafe { libc::geteuid() } == 0 {
            2 * RECORDS_RCVBUF as usize
        } else {
            (2 * max).min(2 * RECORDS_RCVBUF as usize)
        };
        assert!(got >= want, "receive buffer {got}, want >= {want}");
    }
}
