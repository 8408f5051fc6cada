//! Human-readable dumps of both IR levels (golden-tested).
