//! The whole compile, as the CLI and the tests use it.
