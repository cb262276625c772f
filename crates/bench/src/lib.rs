//! renkei-bench: the dataset generator (P8), the crash-safety harness (R1, R2, R7), the
//! backup-under-load check (R4) and the benchmark harness behind `BENCHMARKS.md`.
//!
//! The generator writes through the same validation and hashing as the API
//! (`renkei_domain::entry::validate_entry`, `ChainedEntry::compute_hash`) and the same
//! store inserts, in batched transactions. The harnesses drive the real `renkei`
//! binary as a child process over loopback HTTP; they live in
//! `renkei_testkit::process`, shared with the end-to-end tests.

pub mod bench;
pub mod dataset;
pub mod inproc;
pub mod raw;

pub use renkei_testkit::process::{backup_load, crash, server};
