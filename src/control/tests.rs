//! Unit tests of the control client (filled below).
