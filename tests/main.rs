//! One test binary: snapshots, exec, errors.

mod front;
mod models;
