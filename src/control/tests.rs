//! Unit tests of the control client: request bytes, reply decoding
//! (nested slots, extended ACKs, truncated and malformed input), whole
//! exchanges over a scripted transport, and the status report.
//!
//! Expected bytes are built here by hand (helpers below), not with the
//! encoder under test.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;

use super::client::{self, Mode, Transport};
use super::proto;
use super::uapi::{Attr, Cmd, SlotAttr};
use super::wire::{self, Attrs, ExtAck, KernelError};
use super::*;

const FAMILY: u16 = 0x1c;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;

// ---- hand-built bytes ------------------------------------------------------

fn pad4(v: &mut Vec<u8>) {
    while v.len() % 4 != 0 {
        v.push(0);
    }
}

fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(value);
    pad4(&mut v);
    v
}

fn nest(kind: u16, parts: &[Vec<u8>]) -> Vec<u8> {
    nla(kind | 0x8000, &parts.concat())
}

fn u32a(kind: impl Into<u16>, v: u32) -> Vec<u8> {
    nla(kind.into(), &v.to_ne_bytes())
}
fn u64a(kind: impl Into<u16>, v: u64) -> Vec<u8> {
    nla(kind.into(), &v.to_ne_bytes())
}
fn s64a(kind: impl Into<u16>, v: i64) -> Vec<u8> {
    nla(kind.into(), &v.to_ne_bytes())
}
fn stra(kind: impl Into<u16>, s: &str) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.push(0);
    nla(kind.into(), &b)
}

impl From<Attr> for u16 {
    fn from(a: Attr) -> u16 {
        a as u16
    }
}
impl From<SlotAttr> for u16 {
    fn from(a: SlotAttr) -> u16 {
        a as u16
    }
}

fn nlmsg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    v.extend_from_slice(payload);
    pad4(&mut v);
    v
}

fn genl(ty: u16, flags: u16, seq: u32, cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut p = vec![cmd, 1, 0, 0];
    p.extend(attrs.concat());
    nlmsg(ty, flags, seq, &p)
}

fn seq_of(req: &[u8]) -> u32 {
    u32::from_ne_bytes(req[8..12].try_into().unwrap())
}

/// NLMSG_ERROR answering `req`: capped (header only) or with the whole
/// request echoed, then extack TLVs.
fn nl_error(req: &[u8], code: i32, capped: bool, tlvs: &[Vec<u8>]) -> Vec<u8> {
    let mut p = code.to_ne_bytes().to_vec();
    if capped {
        p.extend_from_slice(&req[..16]);
    } else {
        p.extend_from_slice(req);
    }
    let tlvs = tlvs.concat();
    let mut flags = if capped { NLM_F_CAPPED } else { 0 };
    if !tlvs.is_empty() {
        flags |= NLM_F_ACK_TLVS;
    }
    p.extend(tlvs);
    nlmsg(NLMSG_ERROR, flags, seq_of(req), &p)
}

fn ack(req: &[u8]) -> Vec<u8> {
    nl_error(req, 0, true, &[])
}

fn done(seq: u32, code: i32, tlvs: &[Vec<u8>]) -> Vec<u8> {
    let mut p = code.to_ne_bytes().to_vec();
    let tlvs = tlvs.concat();
    let flags = NLM_F_MULTI | if tlvs.is_empty() { 0 } else { NLM_F_ACK_TLVS };
    p.extend(tlvs);
    nlmsg(NLMSG_DONE, flags, seq, &p)
}

fn ext_msg(s: &str) -> Vec<u8> {
    stra(1u16, s)
}
fn ext_offs(off: u32) -> Vec<u8> {
    u32a(2u16, off)
}
fn ext_miss_type(t: u32) -> Vec<u8> {
    u32a(5u16, t)
}

/// The nlctrl answer describing the liteflow family.
fn ctrl_reply(seq: u32, version: u32) -> Vec<u8> {
    let groups = nest(7, &[nest(1, &[stra(1u16, "records"), u32a(2u16, 5)])]);
    genl(
        16,
        0,
        seq,
        1, // CTRL_CMD_NEWFAMILY
        &[
            nla(1, &FAMILY.to_ne_bytes()),
            stra(2u16, "liteflow"),
            u32a(3u16, version),
            u32a(4u16, 0),
            u32a(5u16, 14),
            groups,
        ],
    )
}

fn slot_nest(index: u32, uuid: u64, active: bool) -> Vec<u8> {
    let mut parts = vec![
        u32a(SlotAttr::Index, index),
        nla(SlotAttr::Pad as u16, &[]),
        u64a(SlotAttr::Uuid, uuid),
        stra(SlotAttr::Name, &format!("aurora-v{index}")),
        stra(SlotAttr::Digest, &"ab".repeat(32)),
        stra(SlotAttr::Module, &format!("lf_model_{index}")),
        u64a(SlotAttr::Queries, 100 + u64::from(index)),
        u64a(SlotAttr::Errors, u64::from(index)),
        s64a(SlotAttr::InputScale, 1000),
        s64a(SlotAttr::OutputScale, -1000),
        nla(77, b"future"), // unknown: ignored
    ];
    if active {
        parts.push(nla(SlotAttr::Active as u16, &[]));
    }
    nest(Attr::Slot as u16, &parts)
}

fn app_attrs(app: u32) -> Vec<Vec<u8>> {
    vec![
        u32a(Attr::AppId, app),
        stra(Attr::AppName, "aurora"),
        u32a(Attr::InputLen, 30),
        u32a(Attr::OutputLen, 1),
        nla(Attr::Pad as u16, &[]),
        u64a(Attr::Queries, 1234),
        u64a(Attr::NoActive, 5),
        u32a(Attr::ActiveSlot, 1),
        slot_nest(1, 0xC0FFEE01, true),
        slot_nest(0, 0xC0FFEE00, false),
        nla(99, &[1, 2, 3]), // unknown: ignored
    ]
}

// ---- scripted transport ----------------------------------------------------

type Responder = Box<dyn FnMut(&[u8]) -> Vec<io::Result<Vec<u8>>>>;

/// Answers each request with the datagrams `respond` builds from it, and
/// records what was sent.
struct Script {
    respond: Responder,
    queue: VecDeque<io::Result<Vec<u8>>>,
    sent: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl Transport for Script {
    fn send(&mut self, d: &[u8]) -> io::Result<()> {
        self.sent.borrow_mut().push(d.to_vec());
        let replies = (self.respond)(d);
        self.queue.extend(replies);
        Ok(())
    }
    fn recv(&mut self) -> io::Result<Vec<u8>> {
        self.queue
            .pop_front()
            .unwrap_or_else(|| Err(io::Error::from(io::ErrorKind::WouldBlock)))
    }
}

/// A client whose family resolves, then `after` answers liteflow requests.
fn scripted(
    mut after: impl FnMut(&[u8]) -> Vec<io::Result<Vec<u8>>> + 'static,
) -> (Client, Rc<RefCell<Vec<Vec<u8>>>>) {
    let sent = Rc::new(RefCell::new(Vec::new()));
    let respond: Responder = Box::new(move |req: &[u8]| {
        if u16::from_ne_bytes([req[4], req[5]]) == 16 {
            vec![Ok([ctrl_reply(seq_of(req), 1), ack(req)].concat())]
        } else {
            after(req)
        }
    });
    let io = Script {
        respond,
        queue: VecDeque::new(),
        sent: sent.clone(),
    };
    let client = Client::over(Box::new(io)).expect("family resolves");
    (client, sent)
}

fn err_text<T: std::fmt::Debug>(r: crate::Result<T>) -> String {
    r.expect_err("an error").to_string()
}

// ---- request encoding ------------------------------------------------------

#[test]
fn encode_activate_exact_bytes() {
    let req = proto::activate(3, 0x1122_3344_5566_7788);
    let bytes = client::encode(FAMILY, 1, req.cmd.byte(), Mode::Do, 7, req.attrs);
    let expected = genl(
        FAMILY,
        NLM_F_REQUEST | NLM_F_ACK,
        7,
        4,
        &[u32a(1u16, 3), u64a(5u16, 0x1122_3344_5566_7788)],
    );
    assert_eq!(bytes, expected);
    if cfg!(target_endian = "little") {
        #[rustfmt::skip]
        let literal: Vec<u8> = vec![
            40, 0, 0, 0,  0x1c, 0,  5, 0,  7, 0, 0, 0,  0, 0, 0, 0, // nlmsghdr
            4, 1, 0, 0,                                             // genlmsghdr: ACTIVATE v1
            8, 0, 1, 0,  3, 0, 0, 0,                                // APP_ID 3
            12, 0, 5, 0,  0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // UUID
        ];
        assert_eq!(bytes, literal);
    }
}

#[test]
fn encode_each_request() {
    let enc = |r: proto::Request, mode| client::encode(FAMILY, 1, r.cmd.byte(), mode, 9, r.attrs);
    let do_flags = NLM_F_REQUEST | NLM_F_ACK;

    assert_eq!(
        enc(proto::get_app(), Mode::Dump),
        genl(FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 9, 1, &[])
    );
    assert_eq!(
        enc(
            proto::app_create(2, "cubic-nn", 30, 1, &Default::default()).unwrap(),
            Mode::Do
        ),
        genl(
            FAMILY,
            do_flags,
            9,
            2,
            &[
                u32a(1u16, 2),
                nla(2, b"cubic-nn\0"), // 9 bytes, padded to 12
                u32a(3u16, 30),
                u32a(4u16, 1),
            ]
        )
    );
    assert_eq!(
        enc(proto::app_destroy(2), Mode::Do),
        genl(FAMILY, do_flags, 9, 3, &[u32a(1u16, 2)])
    );
    assert_eq!(
        enc(proto::rollback(4), Mode::Do),
        genl(FAMILY, do_flags, 9, 5, &[u32a(1u16, 4)])
    );
    let input = [1i64, -2, i64::MAX, i64::MIN];
    let vec_bytes: Vec<u8> = input.iter().flat_map(|v| v.to_ne_bytes()).collect();
    assert_eq!(
        enc(proto::infer(1, &input).unwrap(), Mode::Do),
        genl(FAMILY, do_flags, 9, 6, &[u32a(1u16, 1), nla(6, &vec_bytes)])
    );
    assert_eq!(
        enc(proto::set_recording(1, true), Mode::Do),
        genl(FAMILY, do_flags, 9, 7, &[u32a(1u16, 1), nla(11, &[1])])
    );
    // nlctrl lookup of the family by name
    assert_eq!(
        client::encode(16, 2, 3, Mode::Do, 1, proto::ctrl_getfamily("liteflow")),
        {
            let mut p = vec![3, 2, 0, 0];
            p.extend(stra(2u16, "liteflow"));
            nlmsg(16, do_flags, 1, &p)
        }
    );
}

#[test]
fn requests_refuse_what_cannot_be_encoded() {
    let long = "x".repeat(64);
    let e = proto::app_create(1, &long, 1, 1, &Default::default()).unwrap_err();
    assert!(e.contains("64 bytes") && e.contains("at most 63"), "{e}");
    assert!(proto::app_create(1, &"x".repeat(63), 1, 1, &Default::default()).is_ok());
    let e = proto::app_create(1, "a\0b", 1, 1, &Default::default()).unwrap_err();
    assert!(e.contains("NUL"), "{e}");
    let e = proto::infer(1, &vec![0; 1025]).unwrap_err();
    assert_eq!(
        e,
        "INFER app 1: input has 1025 values, lf_kernel takes at most 1024 (LF_MAX_IO_LEN)"
    );
    assert!(proto::infer(1, &vec![0; 1024]).is_ok());
}

// ---- reply decoding --------------------------------------------------------

#[test]
fn decode_app_with_nested_slots() {
    let app = proto::decode_app(&app_attrs(7).concat()).unwrap();
    assert_eq!(app.app, 7);
    assert_eq!(app.name, "aurora");
    assert_eq!((app.input_len, app.output_len), (30, 1));
    assert_eq!(app.active_slot, Some(1));
    assert_eq!((app.queries, app.no_active), (1234, 5));
    assert_eq!((app.dropped, app.recording), (None, None));
    assert_eq!(app.slots.len(), 2);
    let s0 = &app.slots[0];
    assert_eq!(
        s0,
        &SlotStatus {
            index: 0,
            uuid: 0xC0FFEE00,
            name: "aurora-v0".into(),
            digest: "ab".repeat(32),
            module: "lf_model_0".into(),
            queries: 100,
            errors: 0,
            input_scale: 1000,
            output_scale: -1000,
            active: false,
            facts: Default::default(),
        }
    );
    assert!(app.slots[1].active);
    assert_eq!(app.slots[1].uuid, 0xC0FFEE01);
}

#[test]
fn decode_app_optional_attributes() {
    let mut attrs = app_attrs(1);
    attrs.retain(|a| u16::from_ne_bytes([a[2], a[3]]) != Attr::ActiveSlot as u16);
    attrs.push(u64a(Attr::Dropped, 42));
    attrs.push(nla(Attr::Recording as u16, &[1]));
    let app = proto::decode_app(&attrs.concat()).unwrap();
    assert_eq!(app.active_slot, None);
    assert_eq!(app.dropped, Some(42));
    assert_eq!(app.recording, Some(true));
    // active comes from the slot's own flag when ACTIVE_SLOT is absent
    assert!(app.slots[1].active && !app.slots[0].active);
}

#[test]
fn decode_app_missing_attributes_are_named() {
    let without = |kind: u16| -> Vec<u8> {
        app_attrs(3)
            .into_iter()
            .filter(|a| u16::from_ne_bytes([a[2], a[3]]) & 0x3fff != kind)
            .collect::<Vec<_>>()
            .concat()
    };
    assert_eq!(
        proto::decode_app(&without(Attr::AppId as u16)).unwrap_err(),
        "missing attribute LF_ATTR_APP_ID"
    );
    assert_eq!(
        proto::decode_app(&without(Attr::Queries as u16)).unwrap_err(),
        "app 3: missing attribute LF_ATTR_QUERIES"
    );
    // a slot without its uuid
    let e = proto::decode_app(
        &[
            u32a(Attr::AppId, 3),
            nest(Attr::Slot as u16, &[u32a(SlotAttr::Index, 0)]),
        ]
        .concat(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        "app 3: LF_ATTR_SLOT #0: missing attribute LF_SLOT_ATTR_UUID"
    );
}

#[test]
fn decode_wrong_sizes_are_errors() {
    let mut attrs = app_attrs(3);
    attrs[5] = u32a(Attr::Queries, 1); // u64 sent as u32
    assert_eq!(
        proto::decode_app(&attrs.concat()).unwrap_err(),
        "app 3: attribute LF_ATTR_QUERIES has 4 bytes, expected 8"
    );
    let e = proto::decode_infer(
        1,
        &[u32a(Attr::AppId, 1), u64a(Attr::Uuid, 9), nla(6, &[0; 12])].concat(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        "attribute LF_ATTR_VECTOR has 12 bytes, not a whole number of s64 values"
    );
}

#[test]
fn decode_infer_reply() {
    let out: Vec<u8> = [-5i64, 7].iter().flat_map(|v| v.to_ne_bytes()).collect();
    let attrs = [
        u32a(Attr::AppId, 1),
        nla(Attr::Pad as u16, &[]),
        u64a(Attr::Uuid, 0xabc),
        nla(6, &out),
    ]
    .concat();
    assert_eq!(
        proto::decode_infer(1, &attrs).unwrap(),
        InferReply {
            uuid: 0xabc,
            output: vec![-5, 7],
        }
    );
    assert_eq!(
        proto::decode_infer(2, &attrs).unwrap_err(),
        "the reply is for app 1"
    );
    let no_vec = [u32a(Attr::AppId, 1), u64a(Attr::Uuid, 0xabc)].concat();
    assert_eq!(
        proto::decode_infer(1, &no_vec).unwrap_err(),
        "missing attribute LF_ATTR_VECTOR"
    );
}

#[test]
fn truncated_input_is_an_error_never_a_panic() {
    let attrs = app_attrs(3).concat();
    // Cut inside an attribute (before the end its nla_len states; only the
    // alignment padding of the last one may go missing): always an error.
    let mut spans = Vec::new();
    let mut start = 0usize;
    for a in app_attrs(3) {
        let nla_len = u16::from_ne_bytes([a[0], a[1]]) as usize;
        spans.push((start, start + nla_len));
        start += a.len();
    }
    let mut cut_inside = 0;
    for cut in 0..attrs.len() {
        let r = proto::decode_app(&attrs[..cut]);
        if spans.iter().any(|&(s, e)| s < cut && cut < e) {
            cut_inside += 1;
            let e = r.expect_err("a cut attribute must not decode");
            assert!(e.contains("truncated"), "cut {cut}: {e}");
        } else {
            // at a boundary: decodes or misses something, by name
            if let Err(e) = r {
                assert!(e.contains("missing attribute"), "cut {cut}: {e}");
            }
        }
    }
    assert!(cut_inside > attrs.len() / 2);
    // A whole datagram cut anywhere: the netlink length no longer fits.
    let dgram = genl(FAMILY, NLM_F_MULTI, 1, 1, &app_attrs(3));
    assert!(wire::decode_datagram(&dgram).is_ok());
    for cut in 1..dgram.len() {
        assert!(wire::decode_datagram(&dgram[..cut]).is_err(), "cut {cut}");
    }
    // An attribute claiming more than there is, and one shorter than its header.
    assert!(Attrs::parse(&[200, 0, 1, 0, 0, 0, 0, 0], "t")
        .unwrap_err()
        .contains("truncated"));
    assert!(Attrs::parse(&[2, 0, 1, 0], "t")
        .unwrap_err()
        .contains("truncated"));
    // nlmsg_len smaller than a header, and a genl message without genlmsghdr
    let mut bad = nlmsg(FAMILY, 0, 1, &[]);
    bad[0] = 8;
    assert!(wire::decode_datagram(&bad).is_err());
    assert!(wire::decode_datagram(&nlmsg(FAMILY, 0, 1, &[1, 1])).is_err());
}

#[test]
fn garbage_never_panics() {
    // Deterministic xorshift: bytes of every length, some starting from a
    // valid message and then corrupted.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let valid = genl(FAMILY, NLM_F_MULTI, 1, 1, &app_attrs(3));
    for round in 0..3000 {
        let mut buf = if round % 2 == 0 {
            let len = (next() % 200) as usize;
            (0..len).map(|_| next() as u8).collect::<Vec<_>>()
        } else {
            valid.clone()
        };
        if !buf.is_empty() {
            for _ in 0..(1 + next() % 4) {
                let i = (next() as usize) % buf.len();
                buf[i] = next() as u8;
            }
        }
        if let Ok(msgs) = wire::decode_datagram(&buf) {
            for m in msgs {
                if let netlink_packet_core::NetlinkPayload::InnerMessage(g) = m.payload {
                    let _ = proto::decode_app(&g.payload.attrs);
                    let _ = proto::decode_infer(3, &g.payload.attrs);
                }
            }
        }
        let _ = proto::decode_app(&buf);
        let _ = proto::decode_family(&buf);
        let _ = ExtAck::parse(&buf);
        let _ = ExtAck::from_error(NLM_F_ACK_TLVS, &buf);
        let _ = wire::attr_at_offset(&buf, (next() % 64) as u32);
    }
}

// ---- extended ACKs ---------------------------------------------------------

fn infer_request(vec_len: usize) -> Vec<u8> {
    let r = proto::infer(1, &vec![0; vec_len]).unwrap();
    client::encode(FAMILY, 1, r.cmd.byte(), Mode::Do, 5, r.attrs)
}

/// The error part of an NLMSG_ERROR message: (outer flags, bytes after code).
fn error_parts(msg: &[u8]) -> (u16, Vec<u8>) {
    (u16::from_ne_bytes([msg[6], msg[7]]), msg[20..].to_vec())
}

#[test]
fn extack_message_capped_and_uncapped() {
    let req = infer_request(29);
    for capped in [true, false] {
        let msg = nl_error(
            &req,
            -22,
            capped,
            &[ext_msg("vector has 232 bytes, app expects 240")],
        );
        let (flags, payload) = error_parts(&msg);
        let ext = ExtAck::from_error(flags, &payload);
        assert_eq!(
            ext.msg.as_deref(),
            Some("vector has 232 bytes, app expects 240"),
            "capped={capped}"
        );
        let k = KernelError::new(-22, ext, Some(&req));
        assert_eq!(
            k.to_string(),
            "vector has 232 bytes, app expects 240 (EINVAL)"
        );
    }
}

#[test]
fn extack_offset_names_the_attribute() {
    let req = infer_request(29);
    // APP_ID at 20 (8 bytes), VECTOR at 28
    let msg = nl_error(
        &req,
        -22,
        true,
        &[
            ext_msg("lf_kernel: vector must hold exactly input_len s64 values"),
            ext_offs(28),
        ],
    );
    let (flags, payload) = error_parts(&msg);
    let k = KernelError::new(-22, ExtAck::from_error(flags, &payload), Some(&req));
    assert_eq!(k.bad_attr.as_deref(), Some("LF_ATTR_VECTOR"));
    assert_eq!(
        k.to_string(),
        "vector must hold exactly input_len s64 values [LF_ATTR_VECTOR] (EINVAL)"
    );
    assert_eq!(
        wire::attr_at_offset(&req, 20).as_deref(),
        Some("LF_ATTR_APP_ID")
    );
    assert_eq!(
        wire::attr_at_offset(&req, 24).as_deref(),
        Some("LF_ATTR_APP_ID")
    );
    assert_eq!(wire::attr_at_offset(&req, 4), None);
    assert_eq!(wire::attr_at_offset(&req, 100_000), None);
}

#[test]
fn extack_missing_attribute_and_plain_errno() {
    let req = infer_request(1);
    let msg = nl_error(&req, -22, true, &[ext_miss_type(Attr::Uuid as u32)]);
    let (flags, payload) = error_parts(&msg);
    let k = KernelError::new(-22, ExtAck::from_error(flags, &payload), Some(&req));
    assert_eq!(k.to_string(), "missing attribute LF_ATTR_UUID (EINVAL)");

    let k = KernelError::new(-2, ExtAck::default(), None);
    assert_eq!(k.to_string(), "No such file or directory (ENOENT)");
    let k = KernelError::new(-1, ExtAck::default(), None);
    assert_eq!(
        k.to_string(),
        "Operation not permitted (EPERM); lf_kernel commands need CAP_NET_ADMIN (run as root)"
    );
    assert_eq!(wire::errno_name(61), "ENODATA");
    assert_eq!(wire::errno_name(4242), "errno 4242");
    // No ACK_TLVS flag: whatever follows is not read as TLVs.
    assert_eq!(
        ExtAck::from_error(NLM_F_CAPPED, &payload),
        ExtAck::default()
    );
}

// ---- whole exchanges -------------------------------------------------------

#[test]
fn connect_resolves_family_and_groups() {
    let (client, sent) = scripted(|_| vec![]);
    assert_eq!(client.conn.family.id, FAMILY);
    assert_eq!(client.records_group(), Some(5));
    let sent = sent.borrow();
    assert_eq!(sent.len(), 1);
    let mut p = vec![3, 2, 0, 0];
    p.extend(stra(2u16, "liteflow"));
    assert_eq!(
        sent[0],
        nlmsg(16, NLM_F_REQUEST | NLM_F_ACK, seq_of(&sent[0]), &p)
    );
}

fn connect_with(reply: impl Fn(&[u8]) -> Vec<u8> + 'static) -> crate::Result<Client> {
    let io = Script {
        respond: Box::new(move |req: &[u8]| vec![Ok(reply(req))]),
        queue: VecDeque::new(),
        sent: Rc::new(RefCell::new(Vec::new())),
    };
    Client::over(Box::new(io))
}

#[test]
fn connect_reports_a_missing_module() {
    let e = err_text(connect_with(|req| {
        nl_error(
            req,
            -2,
            true,
            &[ext_msg("Generic Netlink family not found")],
        )
    }));
    assert_eq!(
        e,
        "generic netlink family `liteflow` not found: is lf_kernel.ko loaded? (insmod runtime-kmod/lf_kernel.ko)"
    );
}

#[test]
fn connect_refuses_another_protocol_version() {
    let e = err_text(connect_with(|req| {
        [ctrl_reply(seq_of(req), 2), ack(req)].concat()
    }));
    assert!(e.contains("version 2") && e.contains("version 1"), "{e}");
}

#[test]
fn infer_round_trip() {
    let (mut client, sent) = scripted(|req| {
        let out: Vec<u8> = [250i64].iter().flat_map(|v| v.to_ne_bytes()).collect();
        let reply = genl(
            FAMILY,
            0,
            seq_of(req),
            Cmd::Infer as u8,
            &[u32a(Attr::AppId, 1), u64a(Attr::Uuid, 0xfeed), nla(6, &out)],
        );
        // reply and ACK in separate datagrams, with a stale message first
        vec![
            Ok(genl(FAMILY, 0, seq_of(req) + 100, 6, &[])),
            Ok(reply),
            Ok(ack(req)),
        ]
    });
    let r = client.infer(1, &[1000, -1000]).unwrap();
    assert_eq!(
        r,
        InferReply {
            uuid: 0xfeed,
            output: vec![250],
        }
    );
    let sent = sent.borrow();
    let req = sent.last().unwrap();
    let v: Vec<u8> = [1000i64, -1000]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    assert_eq!(
        req,
        &genl(
            FAMILY,
            NLM_F_REQUEST | NLM_F_ACK,
            seq_of(req),
            6,
            &[u32a(1u16, 1), nla(6, &v)]
        )
    );
}

#[test]
fn infer_error_reads_like_the_kernel_said_it() {
    let (mut client, _) = scripted(|req| {
        vec![Ok(nl_error(
            req,
            -22,
            false,
            &[ext_msg("vector has 232 bytes, app expects 240")],
        ))]
    });
    let e = err_text(client.infer(1, &[0; 29]));
    assert_eq!(
        e,
        "lf_kernel: INFER app 1: vector has 232 bytes, app expects 240 (EINVAL)"
    );

    let (mut client, _) = scripted(|req| {
        vec![Ok(nl_error(
            req,
            -61,
            true,
            &[ext_msg("lf_kernel: app has no active snapshot")],
        ))]
    });
    let e = err_text(client.infer(4, &[0; 30]));
    assert_eq!(
        e,
        "lf_kernel: INFER app 4: app has no active snapshot (ENODATA)"
    );
}

#[test]
fn infer_without_reply_or_with_timeout() {
    let (mut client, _) = scripted(|req| vec![Ok(ack(req))]);
    assert_eq!(
        err_text(client.infer(1, &[0])),
        "lf_kernel: INFER app 1: malformed reply: no INFER reply before the ACK"
    );
    let (mut client, _) = scripted(|_| vec![]);
    assert_eq!(
        err_text(client.infer(1, &[0])),
        "lf_kernel: INFER app 1: no answer within 10 s"
    );
}

#[test]
fn do_commands_send_their_request_and_take_the_ack() {
    let (mut client, sent) = scripted(|req| vec![Ok(ack(req))]);
    client
        .app_create(2, "cubic", 8, 2, &crate::control::Cost::default())
        .unwrap();
    client.activate(2, 77).unwrap();
    client.rollback(2).unwrap();
    client.app_destroy(2).unwrap();
    let cmds: Vec<u8> = sent.borrow()[1..].iter().map(|r| r[16]).collect();
    assert_eq!(cmds, vec![2, 4, 5, 3]);
    // sequence numbers advance
    let seqs: Vec<u32> = sent.borrow().iter().map(|r| seq_of(r)).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
}

#[test]
fn do_command_errors_carry_context() {
    let (mut client, _) = scripted(|req| {
        vec![Ok(nl_error(
            req,
            -16,
            true,
            &[ext_msg("snapshot is installed")],
        ))]
    });
    assert_eq!(
        err_text(client.app_destroy(9)),
        "lf_kernel: APP_DESTROY app 9: snapshot is installed (EBUSY)"
    );
    let (mut client, _) = scripted(|req| vec![Ok(nl_error(req, -2, true, &[]))]);
    assert_eq!(
        err_text(client.activate(1, 5)),
        "lf_kernel: ACTIVATE app 1: No such file or directory (ENOENT)"
    );
}

#[test]
fn apps_dump_across_datagrams() {
    let (mut client, _) = scripted(|req| {
        let seq = seq_of(req);
        let mut second = app_attrs(2);
        second.truncate(7); // no active slot, no slots
        vec![
            Ok([
                genl(FAMILY, NLM_F_MULTI, seq, 1, &app_attrs(5)),
                genl(FAMILY, NLM_F_MULTI, seq, 1, &second),
            ]
            .concat()),
            Ok(done(seq, 0, &[])),
        ]
    });
    let apps = client.apps().unwrap();
    assert_eq!(apps.iter().map(|a| a.app).collect::<Vec<_>>(), vec![2, 5]);
    assert!(apps[0].slots.is_empty());
    assert_eq!(apps[1].slots.len(), 2);
}

#[test]
fn apps_dump_retries_when_interrupted() {
    let calls = Rc::new(RefCell::new(0));
    let c = calls.clone();
    let (mut client, _) = scripted(move |req| {
        *c.borrow_mut() += 1;
        let seq = seq_of(req);
        let flags = NLM_F_MULTI | if *c.borrow() == 1 { NLM_F_DUMP_INTR } else { 0 };
        vec![Ok([
            genl(FAMILY, flags, seq, 1, &app_attrs(1)),
            done(seq, 0, &[]),
        ]
        .concat())]
    });
    assert_eq!(client.apps().unwrap().len(), 1);
    assert_eq!(*calls.borrow(), 2);
}

#[test]
fn apps_dump_errors() {
    let (mut client, _) =
        scripted(|req| vec![Ok(done(seq_of(req), -12, &[ext_msg("out of memory")]))]);
    assert_eq!(
        err_text(client.apps()),
        "lf_kernel: GET_APP: out of memory (ENOMEM)"
    );
    let (mut client, _) = scripted(|req| vec![Ok(nl_error(req, -1, true, &[]))]);
    assert!(
        err_text(client.apps()).starts_with("lf_kernel: GET_APP: Operation not permitted (EPERM)")
    );
    let (mut client, _) = scripted(|req| {
        let seq = seq_of(req);
        vec![Ok([
            genl(FAMILY, NLM_F_MULTI, seq, 1, &app_attrs(1)[1..]),
            done(seq, 0, &[]),
        ]
        .concat())]
    });
    assert_eq!(
        err_text(client.apps()),
        "lf_kernel: GET_APP: malformed reply: missing attribute LF_ATTR_APP_ID"
    );
    let (mut client, _) =
        scripted(|req| vec![Ok(genl(FAMILY, 0, seq_of(req), 1, &[])[..10].to_vec())]);
    assert!(err_text(client.apps())
        .starts_with("lf_kernel: GET_APP: malformed reply: malformed netlink message"));
}

// ---- status report and uuid syntax -----------------------------------------

#[test]
fn status_report_layout() {
    let mut with_slots = proto::decode_app(&app_attrs(1).concat()).unwrap();
    with_slots.dropped = Some(0);
    with_slots.recording = Some(false);
    let empty = AppStatus {
        app: 2,
        name: "cubic".into(),
        input_len: 8,
        output_len: 2,
        active_slot: None,
        queries: 0,
        no_active: 17,
        dropped: None,
        recording: None,
        staging: None,
        shadow: None,
        slots: vec![],
        budget: None,
    };
    let text = format_status(&[with_slots, empty]);
    let expected = "\
app 1: aurora  inputs 30  outputs 1  active slot 1  recording off
    queries 1234  no-active 5  dropped 0
    slot 0 [standby]  uuid 3237998080  model aurora-v0
        module lf_model_0  digest abababababababab…  scale in 1000 out -1000
        queries 100  errors 0
    slot 1 [active]   uuid 3237998081  model aurora-v1
        module lf_model_1  digest abababababababab…  scale in 1000 out -1000
        queries 101  errors 1
app 2: cubic  inputs 8  outputs 2  no active snapshot
    queries 0  no-active 17
    (no snapshot loaded)
";
    assert_eq!(text, expected);
    assert_eq!(format_status(&[]), "no apps registered in lf_kernel\n");
}

#[test]
fn status_report_shows_staging_and_the_shadow() {
    let mut app = proto::decode_app(&app_attrs(1).concat()).unwrap();
    app.staging = Some(true);
    app.shadow = Some(crate::control::ShadowStatus {
        uuid: 7,
        every: 4,
        sampled: 120,
        dropped: 1,
        run: 119,
        errors: 0,
        unsent: 0,
        running: true,
        output_scale: 1000,
    });
    let text = format_status(std::slice::from_ref(&app));
    assert!(
        text.starts_with("app 1: aurora  inputs 30  outputs 1  active slot 1  staging on\n"),
        "{text}"
    );
    assert!(
        text.contains("\n    shadow uuid 7 (1 in 4 per CPU)  sampled 120  run 119  errors 0  dropped 1  unsent 0\n"),
        "{text}"
    );
    app.shadow.as_mut().unwrap().running = false;
    assert!(format_status(&[app]).contains("shadow uuid 7 (stopped)  sampled 120"));
}

#[test]
fn uuid_syntax() {
    assert_eq!(parse_uuid("0x00000000c0ffee01").unwrap(), 0xc0ffee01);
    assert_eq!(parse_uuid("0XFF").unwrap(), 255);
    assert_eq!(parse_uuid("1234").unwrap(), 1234);
    assert_eq!(parse_uuid("18446744073709551615").unwrap(), u64::MAX);
    assert!(parse_uuid("0x1_0000_0000_0000_0000").is_err());
    assert!(parse_uuid("c0ffee").is_err());
    assert!(parse_uuid("").is_err());
}

/// Against the running kernel: with lf_kernel not loaded, connecting must
/// say so. Ignored by default (it depends on the host); run it with
/// `cargo test --lib control -- --ignored` on a machine without the module.
#[test]
#[ignore]
fn real_kernel_without_module_says_not_loaded() {
    assert_eq!(err_text(Client::connect()), NOT_LOADED);
}

/// Against the running kernel's nlctrl: a do-request (reply + ACK) and a
/// dump (multi-part + NLMSG_DONE) through the real socket and decoders.
/// Ignored by default (needs netlink sockets); `-- --ignored` runs it.
#[test]
#[ignore]
fn real_kernel_nlctrl_exchanges() {
    let mut io = client::NlTransport::open().expect("netlink socket");
    let req = client::encode(
        16,
        2,
        proto::CTRL_CMD_GETFAMILY,
        Mode::Do,
        1,
        proto::ctrl_getfamily("nlctrl"),
    );
    let r = client::exchange(&mut io, &req, 16)
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    let fam = proto::decode_family(&r.msgs[0].attrs).unwrap();
    assert_eq!(fam.id, 16);
    assert!(
        fam.mcast_groups.iter().any(|(n, _)| n == "notify"),
        "{fam:?}"
    );

    let req = client::encode(16, 2, proto::CTRL_CMD_GETFAMILY, Mode::Dump, 2, Vec::new());
    let r = client::exchange(&mut io, &req, 16)
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    let ids: Vec<u16> = r
        .msgs
        .iter()
        .map(|m| proto::decode_family(&m.attrs).unwrap().id)
        .collect();
    assert!(ids.contains(&16) && ids.len() > 1, "{ids:?}");

    // an unknown family: ENOENT with the kernel's extack message
    let req = client::encode(
        16,
        2,
        proto::CTRL_CMD_GETFAMILY,
        Mode::Do,
        3,
        proto::ctrl_getfamily("no-such-family"),
    );
    match client::exchange(&mut io, &req, 16) {
        Err(client::Failure::Kernel(k)) => assert_eq!(k.errno, libc::ENOENT, "{k}"),
        other => panic!("{other:?}"),
    }
}

// ---- training records ------------------------------------------------------

use super::records::{self, RecordStream};
use super::uapi::RecAttr;
use std::time::Duration;

impl From<RecAttr> for u16 {
    fn from(a: RecAttr) -> u16 {
        a as u16
    }
}

fn s64s(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

fn record_nest(uuid: u64, ts: u64, input: &[i64], output: &[i64]) -> Vec<u8> {
    nest(
        Attr::Record as u16,
        &[
            u64a(RecAttr::Uuid, uuid),
            nla(RecAttr::Pad as u16, &[]),
            u64a(RecAttr::Timestamp, ts),
            nla(RecAttr::Input as u16, &s64s(input)),
            nla(RecAttr::Output as u16, &s64s(output)),
            nla(42, b"later"), // unknown: ignored
        ],
    )
}

/// [`record_nest`] with the `LF_REC_ATTR_FLAGS` an ABI 2 lf_kernel adds.
fn record_nest_flags(uuid: u64, ts: u64, input: &[i64], output: &[i64], flags: u32) -> Vec<u8> {
    nest(
        Attr::Record as u16,
        &[
            u64a(RecAttr::Uuid, uuid),
            u64a(RecAttr::Timestamp, ts),
            nla(RecAttr::Input as u16, &s64s(input)),
            nla(RecAttr::Output as u16, &s64s(output)),
            u32a(RecAttr::Flags, flags),
        ],
    )
}

/// A RECORDS multicast message (seq 0, as the kernel sends them).
fn records_msg(app: u32, recs: &[Vec<u8>]) -> Vec<u8> {
    let mut attrs = vec![u32a(Attr::AppId, app)];
    attrs.extend(recs.iter().cloned());
    genl(FAMILY, 0, 0, Cmd::Records as u8, &attrs)
}

#[test]
fn decode_records_message() {
    let attrs = [
        u32a(Attr::AppId, 3),
        record_nest(7, 1_000_000_001, &[1500, -2], &[250]),
        nla(Attr::Pad as u16, &[]),
        record_nest(u64::MAX, u64::MAX - 1, &[i64::MIN, i64::MAX], &[-1]),
    ]
    .concat();
    let b = proto::decode_records(&attrs).unwrap();
    assert_eq!(b.app, 3);
    assert_eq!(
        b.records,
        vec![
            Record {
                uuid: 7,
                timestamp_ns: 1_000_000_001,
                input: vec![1500, -2],
                output: vec![250],
                flags: None,
            },
            Record {
                uuid: u64::MAX,
                timestamp_ns: u64::MAX - 1,
                input: vec![i64::MIN, i64::MAX],
                output: vec![-1],
                flags: None,
            },
        ]
    );
    // an app with no record in this batch
    let b = proto::decode_records(&u32a(Attr::AppId, 9)).unwrap();
    assert_eq!((b.app, b.records.len()), (9, 0));
}

#[test]
fn decode_records_errors_are_named() {
    assert_eq!(
        proto::decode_records(&record_nest(1, 2, &[1], &[1])).unwrap_err(),
        "missing attribute LF_ATTR_APP_ID"
    );
    let no_ts = nest(
        Attr::Record as u16,
        &[
            u64a(RecAttr::Uuid, 1),
            nla(RecAttr::Input as u16, &s64s(&[1])),
            nla(RecAttr::Output as u16, &s64s(&[1])),
        ],
    );
    let attrs = [u32a(Attr::AppId, 2), record_nest(1, 2, &[1], &[1]), no_ts].concat();
    assert_eq!(
        proto::decode_records(&attrs).unwrap_err(),
        "app 2: LF_ATTR_RECORD #1: missing attribute LF_REC_ATTR_TIMESTAMP"
    );
    let odd = nest(
        Attr::Record as u16,
        &[
            u64a(RecAttr::Uuid, 1),
            u64a(RecAttr::Timestamp, 1),
            nla(RecAttr::Input as u16, &[0; 12]),
            nla(RecAttr::Output as u16, &s64s(&[1])),
        ],
    );
    assert_eq!(
        proto::decode_records(&[u32a(Attr::AppId, 2), odd].concat()).unwrap_err(),
        "app 2: LF_ATTR_RECORD #0: attribute LF_REC_ATTR_INPUT has 12 bytes, not a whole number of s64 values"
    );
    let short_uuid = nest(Attr::Record as u16, &[u32a(RecAttr::Uuid, 1)]);
    assert_eq!(
        proto::decode_records(&[u32a(Attr::AppId, 2), short_uuid].concat()).unwrap_err(),
        "app 2: LF_ATTR_RECORD #0: attribute LF_REC_ATTR_UUID has 4 bytes, expected 8"
    );
}

#[test]
fn truncated_records_never_panic_and_never_decode_silently() {
    let msg = records_msg(
        1,
        &[
            record_nest(5, 10, &[1, 2, 3], &[4]),
            record_nest(6, 11, &[5, 6, 7], &[8]),
        ],
    );
    let full = proto::decode_records(&msg[20..]).unwrap();
    assert_eq!(full.records.len(), 2);
    let mut errors = 0;
    for cut in 0..msg.len() {
        // whole datagram cut: an error from the framing or the attributes
        let mut p = records::Polled::default();
        p.absorb_bytes(&msg[..cut], FAMILY);
        assert!(p.batches.iter().all(|b| b.records.len() <= 2));
        if cut >= 20 {
            // attributes cut: an error, or a prefix of the records exactly
            match proto::decode_records(&msg[20..cut]) {
                Err(e) => {
                    errors += 1;
                    assert!(
                        e.contains("truncated") || e.contains("missing"),
                        "cut {cut}: {e}"
                    );
                }
                Ok(b) => assert_eq!(b.records[..], full.records[..b.records.len()], "cut {cut}"),
            }
        }
    }
    assert!(errors > msg.len() / 2, "{errors} errors");
    // random garbage
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..2000 {
        let len = (x % 120) as usize;
        let buf: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = proto::decode_records(&buf);
        let mut p = records::Polled::default();
        p.absorb_bytes(&buf, FAMILY);
    }
}

fn queued(items: Vec<io::Result<Vec<u8>>>) -> Box<Script> {
    Box::new(Script {
        respond: Box::new(|_| vec![]),
        queue: items.into(),
        sent: Rc::new(RefCell::new(Vec::new())),
    })
}

#[test]
fn record_stream_keeps_only_records_of_the_family() {
    let dgram = [
        records_msg(1, &[record_nest(5, 10, &[1], &[2])]),
        genl(
            FAMILY + 1,
            0,
            0,
            Cmd::Records as u8,
            &[u32a(Attr::AppId, 1)],
        ), // other family
        genl(FAMILY, 0, 0, Cmd::GetApp as u8, &app_attrs(1)), // other command
        records_msg(2, &[]),
    ]
    .concat();
    let mut s = RecordStream::over(
        queued(vec![
            Ok(dgram),
            Ok(records_msg(1, &[record_nest(5, 10, &[1], &[2])])[..30].to_vec()),
            Err(io::Error::from_raw_os_error(libc::ENOBUFS)),
            Err(io::Error::from(io::ErrorKind::WouldBlock)),
            Err(io::Error::from_raw_os_error(libc::EBADF)),
        ]),
        FAMILY,
    );
    let p = s.poll().unwrap();
    assert_eq!(
        p.batches.iter().map(|b| b.app).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(p.malformed.is_empty() && !p.overrun);
    let p = s.poll().unwrap();
    assert!(p.batches.is_empty());
    assert_eq!(p.malformed.len(), 1, "{:?}", p.malformed);
    let p = s.poll().unwrap();
    assert!(p.overrun && p.batches.is_empty());
    let p = s.poll().unwrap();
    assert!(!p.overrun && p.batches.is_empty() && p.malformed.is_empty());
    assert!(s
        .poll()
        .unwrap_err()
        .to_string()
        .contains("netlink receive failed"));
}

/// GET_APP attributes of a 2-input, 1-output app with snapshot uuid 7
/// (scales 1000 / 100) active, and the given recording/dropped counters.
fn rec_app_attrs(
    app: u32,
    recording: bool,
    dropped: u64,
    uuids: &[(u64, i64, i64)],
) -> Vec<Vec<u8>> {
    let mut v = vec![
        u32a(Attr::AppId, app),
        stra(Attr::AppName, "rec"),
        u32a(Attr::InputLen, 2),
        u32a(Attr::OutputLen, 1),
        u64a(Attr::Queries, 0),
        u64a(Attr::NoActive, 0),
        nla(Attr::Recording as u16, &[recording as u8]),
        u64a(Attr::Dropped, dropped),
    ];
    for (i, &(uuid, is, os)) in uuids.iter().enumerate() {
        v.push(nest(
            Attr::Slot as u16,
            &[
                u32a(SlotAttr::Index, i as u32),
                u64a(SlotAttr::Uuid, uuid),
                stra(SlotAttr::Name, "m"),
                stra(SlotAttr::Digest, "00"),
                u64a(SlotAttr::Queries, 0),
                u64a(SlotAttr::Errors, 0),
                s64a(SlotAttr::InputScale, is),
                s64a(SlotAttr::OutputScale, os),
            ],
        ));
    }
    v
}

/// A client for app 1 whose GET_APP answers come from `dump` (called with
/// the number of dumps so far) and whose other requests are ACKed.
fn rec_client(
    dump: impl Fn(usize) -> Vec<Vec<u8>> + 'static,
) -> (Client, Rc<RefCell<Vec<Vec<u8>>>>) {
    let n = Rc::new(RefCell::new(0usize));
    scripted(move |req| {
        let seq = seq_of(req);
        if req[16] == Cmd::GetApp as u8 {
            let k = *n.borrow();
            *n.borrow_mut() += 1;
            vec![Ok([
                genl(FAMILY, NLM_F_MULTI, seq, 1, &dump(k)),
                done(seq, 0, &[]),
            ]
            .concat())]
        } else {
            vec![Ok(ack(req))]
        }
    })
}

/// The SET_RECORDING requests sent, as (app, on).
fn recording_requests(sent: &[Vec<u8>]) -> Vec<(u32, u8)> {
    sent.iter()
        .filter(|r| r.len() > 16 && r[16] == Cmd::SetRecording as u8)
        .map(|r| {
            let a = Attrs::parse(&r[20..], "req").unwrap();
            (
                a.req_u32(Attr::AppId).unwrap(),
                a.u8(Attr::Recording).unwrap().unwrap(),
            )
        })
        .collect()
}

#[test]
fn collect_count_scales_and_dropped() {
    let (mut client, sent) =
        rec_client(|k| rec_app_attrs(1, false, if k == 0 { 10 } else { 13 }, &[(7, 1000, 100)]));
    let mut stream = RecordStream::over(
        queued(vec![
            Ok(records_msg(
                1,
                &[
                    record_nest(7, 100, &[1500, -250], &[42]),
                    record_nest(7, 101, &[1, 2, 3], &[1]), // wrong width: skipped
                ],
            )),
            Ok(records_msg(2, &[record_nest(7, 102, &[9, 9], &[9])])), // other app
            Err(io::Error::from(io::ErrorKind::WouldBlock)),
            Ok(records_msg(
                1,
                &[
                    record_nest(7, 103, &[0, 1000], &[-100]),
                    record_nest(7, 104, &[2000, 0], &[5]),
                    record_nest(7, 105, &[3000, 0], &[6]), // beyond --count
                ],
            )),
        ]),
        FAMILY,
    );
    let limit = CollectLimit {
        count: Some(3),
        duration: None,
    };
    let got = collect(&mut client, &mut stream, 1, limit, None).unwrap();
    assert_eq!(got.set.input_len, 2);
    assert_eq!(got.set.output_len, 1);
    let ts: Vec<u64> = got.set.rows.iter().map(|r| r.timestamp_ns).collect();
    assert_eq!(ts, vec![100, 103, 104]);
    assert_eq!(got.set.rows[0].input, vec![1.5, -0.25]);
    assert_eq!(got.set.rows[0].output, vec![0.42]);
    assert_eq!(got.set.rows[1].output, vec![-1.0]);
    assert_eq!(got.dropped, Some(3));
    assert_eq!(got.malformed, 1);
    // Two messages of app 1 (the other app's is not counted), the larger
    // carrying three records.
    assert_eq!((got.messages, got.largest_batch), (2, 3));
    assert!(got
        .first_malformed
        .unwrap()
        .contains("3 inputs and 1 outputs"));
    assert_eq!(recording_requests(&sent.borrow()), vec![(1, 1), (1, 0)]);
}

#[test]
fn collect_turns_recording_off_on_error() {
    let (mut client, sent) = rec_client(|_| rec_app_attrs(1, false, 0, &[(7, 1000, 1000)]));
    let mut stream = RecordStream::over(
        queued(vec![Err(io::Error::from_raw_os_error(libc::EBADF))]),
        FAMILY,
    );
    let limit = CollectLimit {
        count: Some(10),
        duration: None,
    };
    let got = collect(&mut client, &mut stream, 1, limit, None).unwrap();
    let e = got.failed.unwrap();
    assert!(e.contains("netlink receive failed"), "{e}");
    assert!(got.set.rows.is_empty());
    assert_eq!(recording_requests(&sent.borrow()), vec![(1, 1), (1, 0)]);
}

/// lf_kernel unloaded mid-collection (issue 12): two records came, then
/// the records socket goes quiet and every request fails with ENOENT (the
/// family is gone). A `--count` collection ends within a few liveness
/// checks, keeps the two records, and reports why it ended.
#[test]
fn collect_module_gone_midway_keeps_records() {
    let gone = Rc::new(RefCell::new(false));
    let g = gone.clone();
    let n = Rc::new(RefCell::new(0usize));
    let (mut client, sent) = scripted(move |req| {
        if *g.borrow() {
            return vec![Ok(nl_error(req, -libc::ENOENT, false, &[]))];
        }
        let seq = seq_of(req);
        if req[16] == Cmd::GetApp as u8 {
            *n.borrow_mut() += 1;
            vec![Ok([
                genl(
                    FAMILY,
                    NLM_F_MULTI,
                    seq,
                    1,
                    &rec_app_attrs(1, false, 0, &[(7, 1000, 100)]),
                ),
                done(seq, 0, &[]),
            ]
            .concat())]
        } else {
            vec![Ok(ack(req))]
        }
    });
    let records = records_msg(
        1,
        &[
            record_nest(7, 100, &[1500, -250], &[42]),
            record_nest(7, 101, &[0, 1000], &[-100]),
        ],
    );
    struct Vanishing {
        first: Option<Vec<u8>>,
        gone: Rc<RefCell<bool>>,
    }
    impl Transport for Vanishing {
        fn send(&mut self, _: &[u8]) -> io::Result<()> {
            Ok(())
        }
        fn recv(&mut self) -> io::Result<Vec<u8>> {
            match self.first.take() {
                Some(d) => Ok(d),
                None => {
                    // rmmod lf_kernel: nothing more on the group.
                    *self.gone.borrow_mut() = true;
                    std::thread::sleep(Duration::from_millis(50));
                    Err(io::Error::from(io::ErrorKind::WouldBlock))
                }
            }
        }
    }
    let io = Vanishing {
        first: Some(records),
        gone,
    };
    let mut stream = RecordStream::over(Box::new(io), FAMILY);
    let limit = CollectLimit {
        count: Some(1000),
        duration: None,
    };
    let t = std::time::Instant::now();
    let got = collect(&mut client, &mut stream, 1, limit, None).unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let e = got.failed.unwrap();
    assert!(
        e.contains("stopped answering") && e.contains("ENOENT"),
        "{e}"
    );
    assert!(e.contains("turning recording off again failed"), "{e}");
    let ts: Vec<u64> = got.set.rows.iter().map(|r| r.timestamp_ns).collect();
    assert_eq!(ts, vec![100, 101]);
    assert_eq!(got.set.rows[0].input, vec![1.5, -0.25]);
    // Recording was turned on, and turning it off was attempted.
    assert_eq!(recording_requests(&sent.borrow()), vec![(1, 1), (1, 0)]);
}

#[test]
fn collect_leaves_recording_on_if_it_was_and_honours_deadline_and_stop() {
    let (mut client, sent) = rec_client(|_| rec_app_attrs(1, true, 5, &[(7, 1000, 1000)]));
    let mut stream = RecordStream::over(queued(vec![]), FAMILY);
    let limit = CollectLimit {
        count: None,
        duration: Some(Duration::from_millis(30)),
    };
    let t = std::time::Instant::now();
    let got = collect(&mut client, &mut stream, 1, limit, None).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert!(got.set.rows.is_empty() && !got.interrupted);
    assert_eq!(got.dropped, Some(0));
    assert!(recording_requests(&sent.borrow()).is_empty());

    let stop = std::sync::atomic::AtomicBool::new(true);
    let (mut client, sent) = rec_client(|_| rec_app_attrs(1, false, 0, &[(7, 1000, 1000)]));
    let limit = CollectLimit {
        count: Some(5),
        duration: None,
    };
    let got = collect(&mut client, &mut stream, 1, limit, Some(&stop)).unwrap();
    assert!(got.interrupted);
    assert_eq!(recording_requests(&sent.borrow()), vec![(1, 1), (1, 0)]);
    assert!(err_text(collect(
        &mut client,
        &mut stream,
        1,
        CollectLimit::default(),
        None
    ))
    .contains("count or a duration"));
    assert!(err_text(collect(&mut client, &mut stream, 4, limit, None)).contains("no app 4"));
}

#[test]
fn collect_reads_scales_of_a_new_snapshot_once() {
    // uuid 8 appears in the slots only from the second dump on; uuid 9 never.
    let (mut client, sent) = rec_client(|k| {
        if k == 0 {
            rec_app_attrs(1, false, 0, &[(7, 1000, 1000)])
        } else {
            rec_app_attrs(1, false, 0, &[(7, 1000, 1000), (8, 10, 2)])
        }
    });
    let mut stream = RecordStream::over(
        queued(vec![Ok(records_msg(
            1,
            &[
                record_nest(8, 1, &[10, 20], &[3]),
                record_nest(9, 2, &[1, 1], &[1]),
                record_nest(9, 3, &[1, 1], &[1]),
                record_nest(8, 4, &[30, 40], &[4]),
            ],
        ))]),
        FAMILY,
    );
    let limit = CollectLimit {
        count: Some(2),
        duration: Some(Duration::from_millis(50)),
    };
    let got = collect(&mut client, &mut stream, 1, limit, None).unwrap();
    assert_eq!(got.set.rows.len(), 2);
    assert_eq!(got.set.rows[0].input, vec![1.0, 2.0]);
    assert_eq!(got.set.rows[0].output, vec![1.5]);
    assert_eq!(got.set.rows[1].input, vec![3.0, 4.0]);
    assert_eq!(got.unscaled, 2);
    // first dump, one per new uuid (8, 9), the final one
    let dumps = sent
        .borrow()
        .iter()
        .filter(|r| r.len() > 16 && r[16] == 1)
        .count();
    assert_eq!(dumps, 4);
}

#[test]
fn record_files_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut set = RecordSet::new(2, 1);
    set.rows.push(RealRecord {
        uuid: (1 << 53) + 1,
        timestamp_ns: u64::MAX,
        input: vec![0.1, -1e-9],
        output: vec![1.0 / 3.0],
        flags: Some(3),
    });
    set.rows.push(RealRecord {
        uuid: 3,
        timestamp_ns: 5,
        input: vec![2.5, 0.0],
        output: vec![-7.0],
        flags: Some(0),
    });
    let csv = dir.path().join("r.csv");
    set.write(&csv).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "in0,in1,out0,uuid,timestamp_ns,flags"
    );
    assert!(
        text.contains(",9007199254740993,18446744073709551615,3\n"),
        "{text}"
    );
    assert_eq!(RecordSet::read(&csv, 2).unwrap(), set);
    assert_eq!(set.drift_rate(), Some(0.5));
    // Format 1 (no flags column, `lfc collect` before ABI 2) still reads.
    let old = dir.path().join("old.csv");
    std::fs::write(&old, "in0,in1,out0,uuid,timestamp_ns\n1,2,3,4,5\n").unwrap();
    let o = RecordSet::read(&old, 2).unwrap();
    assert_eq!((o.rows[0].flags, o.drift_rate()), (None, None));
    o.write(&old).unwrap();
    assert!(std::fs::read_to_string(&old)
        .unwrap()
        .starts_with("in0,in1,out0,uuid,timestamp_ns\n"));
    std::fs::write(&old, "in0,in1,out0,uuid,timestamp_ns,flags\n1,2,3,4,5,8\n").unwrap();
    let e = RecordSet::read(&old, 2).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("flags 8"), "{e}");
    // A stream (`-o -`) from an lf_kernel without flags: empty fields.
    std::fs::write(
        &old,
        "in0,in1,out0,uuid,timestamp_ns,flags\n1,2,3,4,5,\n1,2,3,4,6,1\n",
    )
    .unwrap();
    let o = RecordSet::read(&old, 2).unwrap();
    let got: Vec<Option<u32>> = o.rows.iter().map(|r| r.flags).collect();
    assert_eq!((got, o.drift_rate()), (vec![None, Some(1)], None));
    assert!(RecordSet::read(&csv, 3)
        .unwrap_err()
        .to_string()
        .contains("2 inputs, the model has 3"));

    let npy = dir.path().join("r.npy");
    set.write(&npy).unwrap();
    assert!(records::meta_path(&npy).ends_with("r.meta.csv"));
    let m = crate::data::read_matrix(&npy).unwrap();
    assert_eq!((m.rows, m.cols), (2, 5));
    assert_eq!(RecordSet::read(&npy, 2).unwrap(), set);

    // an empty set writes a header-only file that reads back empty
    let empty = dir.path().join("e.csv");
    RecordSet::new(1, 1).write(&empty).unwrap();
    assert_eq!(RecordSet::read(&empty, 1).unwrap().rows.len(), 0);

    std::fs::write(&csv, "a,b,c\n1,2,3\n").unwrap();
    assert!(RecordSet::read(&csv, 2)
        .unwrap_err()
        .to_string()
        .contains("not an `lfc collect` file"));
    std::fs::write(&csv, "in0,in1,out0,uuid,timestamp_ns\n1,2,3,-4,5\n").unwrap();
    assert!(RecordSet::read(&csv, 2)
        .unwrap_err()
        .to_string()
        .contains("line 2: `-4` is not a u64"));
    std::fs::write(records::meta_path(&npy), "uuid,timestamp_ns\n1,2\n").unwrap();
    assert!(RecordSet::read(&npy, 2)
        .unwrap_err()
        .to_string()
        .contains("1 rows, its .npy has 2"));
    assert!(set.write(&dir.path().join("r.txt")).is_err());
}

#[test]
fn collect_drains_what_recording_off_ships() {
    // Ctrl-C before anything was read: recording goes off, and what
    // lf_kernel shipped meanwhile (queued on the socket) is still taken,
    // up to the first empty poll; an overrun on the way is counted.
    let (mut client, sent) = rec_client(|_| rec_app_attrs(1, false, 0, &[(7, 1000, 1000)]));
    let queue = || {
        queued(vec![
            Ok(records_msg(1, &[record_nest(7, 1, &[1000, 2000], &[3000])])),
            Err(io::Error::from_raw_os_error(libc::ENOBUFS)),
            Ok(records_msg(1, &[record_nest(7, 2, &[4000, 5000], &[6000])])),
            Err(io::Error::from(io::ErrorKind::WouldBlock)),
            Ok(records_msg(1, &[record_nest(7, 3, &[0, 0], &[0])])), // after quiet
        ])
    };
    let mut stream = RecordStream::over(queue(), FAMILY);
    let stop = std::sync::atomic::AtomicBool::new(true);
    let limit = CollectLimit {
        count: None,
        duration: Some(Duration::from_secs(5)),
    };
    let got = collect(&mut client, &mut stream, 1, limit, Some(&stop)).unwrap();
    assert!(got.interrupted);
    let ts: Vec<u64> = got.set.rows.iter().map(|r| r.timestamp_ns).collect();
    assert_eq!(ts, vec![1, 2]);
    assert_eq!(got.set.rows[1].output, vec![6.0]);
    assert_eq!(got.overruns, 1);
    assert_eq!(recording_requests(&sent.borrow()), vec![(1, 1), (1, 0)]);

    // Recording was on already (another collector's): left on, no drain.
    let (mut client, _) = rec_client(|_| rec_app_attrs(1, true, 0, &[(7, 1000, 1000)]));
    let mut stream = RecordStream::over(queue(), FAMILY);
    let got = collect(&mut client, &mut stream, 1, limit, Some(&stop)).unwrap();
    assert!(got.interrupted && got.set.rows.is_empty());

    // --count reached: the rest stays unread.
    let (mut client, _) = rec_client(|_| rec_app_attrs(1, false, 0, &[(7, 1000, 1000)]));
    let mut stream = RecordStream::over(queue(), FAMILY);
    let one = CollectLimit {
        count: Some(1),
        duration: None,
    };
    let got = collect(&mut client, &mut stream, 1, one, None).unwrap();
    assert_eq!(got.set.rows.len(), 1);
    assert_eq!(got.overruns, 0);
}

/// `lfc collect -o -`: every record goes to the sink as it arrives (CSV
/// and JSON lines, flushed per batch), none is kept in memory.
#[test]
fn collect_streams_to_sink_csv_and_jsonl() {
    use super::sink::{LineSink, StreamFormat};
    for (format, want) in [
        (
            StreamFormat::Csv,
            "in0,in1,out0,uuid,timestamp_ns,flags\n1.5,-0.25,0.42,7,100,\n0.0,1.0,-1.0,7,103,3\n",
        ),
        (
            StreamFormat::Jsonl,
            "{\"flags\":null,\"input\":[1.5,-0.25],\"output\":[0.42],\"timestamp_ns\":100,\"uuid\":7}\n\
             {\"flags\":3,\"input\":[0.0,1.0],\"output\":[-1.0],\"timestamp_ns\":103,\"uuid\":7}\n",
        ),
    ] {
        let (mut client, sent) = rec_client(|_| rec_app_attrs(1, false, 0, &[(7, 1000, 100)]));
        let mut stream = RecordStream::over(
            queued(vec![
                Ok(records_msg(1, &[record_nest(7, 100, &[1500, -250], &[42])])),
                Ok(records_msg(
                    1,
                    &[record_nest_flags(7, 103, &[0, 1000], &[-100], 3)],
                )),
            ]),
            FAMILY,
        );
        let limit = CollectLimit {
            count: Some(2),
            duration: None,
        };
        let mut sink = LineSink::new(Vec::new(), format);
        let got =
            super::collect_to(&mut client, &mut stream, 1, limit, None, Some(&mut sink)).unwrap();
        assert!(got.failed.is_none(), "{:?}", got.failed);
        assert_eq!((got.streamed, got.set.rows.len()), (2, 0));
        assert_eq!(String::from_utf8(sink_bytes(sink)).unwrap(), want);
        assert_eq!(recording_requests(&sent.borrow()), vec![(1, 1), (1, 0)]);
    }
}

fn sink_bytes(s: super::sink::LineSink<Vec<u8>>) -> Vec<u8> {
    s.into_inner()
}

/// The reader of `-o -` goes away (EPIPE): the collection ends normally,
/// recording is turned off again, and a write error of another kind ends
/// it with that error.
#[test]
fn collect_stream_reader_gone_ends_normally() {
    use super::sink::{LineSink, StreamFormat};
    /// Takes `.1` bytes, then fails with `.0`.
    struct Failing(io::ErrorKind, usize);
    impl io::Write for Failing {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if b.len() > self.1 {
                return Err(io::Error::from(self.0));
            }
            self.1 -= b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    for (kind, failed) in [
        (io::ErrorKind::BrokenPipe, false),
        (io::ErrorKind::StorageFull, true),
    ] {
        let (mut client, sent) = rec_client(|_| rec_app_attrs(1, false, 0, &[(7, 1000, 100)]));
        let mut stream = RecordStream::over(
            queued(vec![
                Ok(records_msg(1, &[record_nest(7, 100, &[1500, -250], &[42])])),
                Ok(records_msg(1, &[record_nest(7, 103, &[0, 1000], &[-100])])),
            ]),
            FAMILY,
        );
        let limit = CollectLimit {
            count: Some(10),
            duration: None,
        };
        // Room for the header and the first record's line.
        let room = "in0,in1,out0,uuid,timestamp_ns,flags\n1.5,-0.25,0.42,7,100,\n".len();
        let mut sink = LineSink::new(Failing(kind, room), StreamFormat::Csv);
        let got =
            super::collect_to(&mut client, &mut stream, 1, limit, None, Some(&mut sink)).unwrap();
        assert_eq!(got.reader_gone, !failed, "{kind:?}");
        assert_eq!(got.failed.is_some(), failed, "{kind:?}: {:?}", got.failed);
        assert_eq!(got.streamed, 1, "{kind:?}");
        assert_eq!(recording_requests(&sent.borrow()), vec![(1, 1), (1, 0)]);
    }
}

// ---- guardrails, drift and budgets (ABI 2) ---------------------------------

fn s64_arr(kind: SlotAttr, v: &[i64]) -> Vec<u8> {
    let b: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
    nla(kind as u16, &b)
}

fn cost_nest(kind: u16, v: [u64; 5]) -> Vec<u8> {
    use super::uapi::CostAttr as C;
    let kinds = [C::Macs, C::Cmps, C::Stack, C::Rodata, C::Scratch];
    let parts: Vec<Vec<u8>> = kinds
        .iter()
        .zip(v)
        .map(|(k, x)| nla(*k as u16, &x.to_ne_bytes()))
        .collect();
    nest(kind, &parts)
}

#[test]
fn decode_and_show_counters_bounds_guardrail_cost_budget() {
    let slot = nest(
        Attr::Slot as u16,
        &[
            u32a(SlotAttr::Index, 0),
            u64a(SlotAttr::Uuid, 7),
            stra(SlotAttr::Name, "aurora"),
            stra(SlotAttr::Digest, "ab"),
            u64a(SlotAttr::Queries, 10),
            u64a(SlotAttr::Errors, 0),
            s64a(SlotAttr::InputScale, 1000),
            s64a(SlotAttr::OutputScale, 1000),
            nla(SlotAttr::Active as u16, &[]),
            u64a(SlotAttr::Drift, 3),
            u64a(SlotAttr::Guard, 2),
            s64_arr(SlotAttr::OutLo, &[-812]),
            s64_arr(SlotAttr::OutHi, &[905]),
            s64_arr(SlotAttr::GuardLo, &[-500]),
            s64_arr(SlotAttr::GuardHi, &[500]),
            cost_nest(SlotAttr::Cost as u16, [1488, 0, 496, 6120, 0]),
        ],
    );
    let attrs = [
        u32a(Attr::AppId, 1),
        stra(Attr::AppName, "aurora"),
        u32a(Attr::InputLen, 30),
        u32a(Attr::OutputLen, 1),
        u64a(Attr::Queries, 10),
        u64a(Attr::NoActive, 0),
        slot,
        cost_nest(Attr::Budget as u16, [2000, 0, 0, 0, 0]),
    ]
    .concat();
    let app = proto::decode_app(&attrs).unwrap();
    let f = &app.slots[0].facts;
    assert_eq!((f.drift, f.guard_hits), (Some(3), Some(2)));
    assert_eq!(f.output_bounds, Some(vec![(-812, 905)]));
    assert_eq!(f.guardrail, Some(vec![(-500, 500)]));
    assert_eq!(f.cost.unwrap().rodata_bytes, 6120);
    assert_eq!(app.budget.unwrap().macs, 2000);
    let text = format_status(&[app]);
    assert!(text.contains("    budget max-macs 2000\n"), "{text}");
    assert!(
        text.contains("        queries 10  errors 0  drift 3  guardrail-hits 2\n"),
        "{text}"
    );
    assert!(
        text.contains("        out[0] proven [-812, 905] guardrail [-500, 500]\n"),
        "{text}"
    );
    assert!(
        text.contains("        cost macs 1488  cmps 0  stack 496  rodata 6120  scratch 0\n"),
        "{text}"
    );

    // A bound without its pair is a malformed reply, not a silent half.
    let bad = nest(
        Attr::Slot as u16,
        &[
            u32a(SlotAttr::Index, 0),
            u64a(SlotAttr::Uuid, 7),
            stra(SlotAttr::Name, "a"),
            stra(SlotAttr::Digest, "ab"),
            u64a(SlotAttr::Queries, 0),
            u64a(SlotAttr::Errors, 0),
            s64a(SlotAttr::InputScale, 1000),
            s64a(SlotAttr::OutputScale, 1000),
            s64_arr(SlotAttr::OutLo, &[-812]),
        ],
    );
    let attrs = [
        u32a(Attr::AppId, 1),
        stra(Attr::AppName, "aurora"),
        u32a(Attr::InputLen, 30),
        u32a(Attr::OutputLen, 1),
        u64a(Attr::Queries, 0),
        u64a(Attr::NoActive, 0),
        bad,
    ]
    .concat();
    let e = proto::decode_app(&attrs).unwrap_err();
    assert!(e.contains("LF_SLOT_ATTR_OUT_LO"), "{e}");
}

#[test]
fn app_create_sends_only_the_limits_given() {
    let none = proto::app_create(1, "a", 1, 1, &Cost::default()).unwrap();
    assert!(Attrs::parse(&none.attrs, "t")
        .unwrap()
        .get(Attr::Budget)
        .is_none());
    let b = Cost {
        macs: 100,
        stack_bytes: 64,
        ..Default::default()
    };
    let r = proto::app_create(1, "a", 1, 1, &b).unwrap();
    let a = Attrs::parse(&r.attrs, "t").unwrap();
    let n = Attrs::parse(a.get(Attr::Budget).unwrap(), "budget").unwrap();
    use super::uapi::CostAttr as C;
    assert_eq!(n.u64(C::Macs).unwrap(), Some(100));
    assert_eq!(n.u64(C::Stack).unwrap(), Some(64));
    assert_eq!(n.u64(C::Cmps).unwrap(), None);
}
