//! Patient reads.
