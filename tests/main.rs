//! One test binary: snapshots, exec, errors.
