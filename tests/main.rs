//! One test binary: golden snapshots, execution (C vs interpreter vs
//! tract), front end, and error handling.

mod bench;
mod cli;
mod conformance;
mod domain;
mod errors;
mod exec;
mod faults;
mod front;
mod guard;
mod json;
mod kinds;
mod ml;
mod models;
mod netfilter;
mod quant_models;
mod quantized;
mod regress;
mod report;
mod rust_kernel;
mod rust_node_tests;
mod sign;
mod simd;
mod snapshots;
mod systemd_unit;
mod vmmodels;
mod weight_bits;
