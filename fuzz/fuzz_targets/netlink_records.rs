//! One datagram of the `records` multicast group (training records).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lfc::control::fuzzing::records(data));
