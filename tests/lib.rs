//! Weft's scenario tests live in `tests.rs` (one test binary); this library is empty.
