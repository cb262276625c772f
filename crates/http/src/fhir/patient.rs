//! Patient: read.
