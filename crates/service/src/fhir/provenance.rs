//! Provenance reads.
