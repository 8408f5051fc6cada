//! Entry points for the fuzz targets in `fuzz/` (not part of the API):
//! everything lfc decodes from the kernel, fed arbitrary bytes. Each must
//! return (an error or a value), never panic, hang or allocate without
//! bound.

use std::collections::VecDeque;
use std::io;

use netlink_packet_core::NetlinkPayload;

use super::client::Transport;
use super::records::Polled;
use super::wire::{self, ExtAck};
use super::{proto, Client};

/// Replies from the kernel: one datagram through every decoder, then the
/// same bytes, cut into datagrams (each prefixed by its u16 little-endian
/// length), as the kernel's side of a whole client session (family
/// resolution, GET_APP dump, INFER, ACTIVATE).
pub fn replies(data: &[u8]) {
    if let Ok(msgs) = wire::decode_datagram(data) {
        for msg in msgs {
            let flags = msg.header.flags;
            match msg.payload {
                NetlinkPayload::InnerMessage(genl) => {
                    let a = &genl.payload.attrs;
                    let _ = proto::decode_family(a);
                    let _ = proto::decode_app(a);
                    let _ = proto::decode_infer(1, a);
                    let _ = proto::decode_records(a);
                }
                NetlinkPayload::Error(e) => {
                    let _ = ExtAck::from_error(flags, &e.header);
                }
                NetlinkPayload::Done(d) => {
                    let _ = ExtAck::parse(&d.extended_ack);
                }
                _ => {}
            }
        }
    }
    let io = Canned::new(data);
    if let Ok(mut client) = Client::over(Box::new(io)) {
        let _ = client.records_group();
        let _ = client.apps();
        let _ = client.infer(1, &[1, -2, 3]);
        let _ = client.activate(1, 7);
    }
}

/// One datagram received on the `records` multicast group (family id 0x20).
pub fn records(data: &[u8]) {
    let mut polled = Polled::default();
    polled.absorb_bytes(data, 0x20);
    for b in &polled.batches {
        for r in &b.records {
            let _ = (r.input.len(), r.output.len());
        }
    }
}

/// A transport whose answers are the fuzz input's datagrams, in order,
/// whatever is sent; then silence (a receive timeout).
struct Canned {
    queue: VecDeque<Vec<u8>>,
}

impl Canned {
    fn new(mut data: &[u8]) -> Canned {
        let mut queue = VecDeque::new();
        while let [a, b, rest @ ..] = data {
            let n = (u16::from_le_bytes([*a, *b]) as usize).min(rest.len());
            queue.push_back(rest[..n].to_vec());
            data = &rest[n..];
        }
        Canned { queue }
    }
}

impl Transport for Canned {
    fn send(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn recv(&mut self) -> io::Result<Vec<u8>> {
        self.queue
            .pop_front()
            .ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))
    }
}
