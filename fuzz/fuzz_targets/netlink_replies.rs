//! lf_kernel's and nlctrl's replies: the datagram decoder, every reply
//! decoder, and a whole client session fed these bytes as its answers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lfc::control::fuzzing::replies(data));
