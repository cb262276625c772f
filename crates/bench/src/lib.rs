#![doc = include_str!("../README.md")]

pub mod bench;
pub mod dataset;
pub mod inproc;
pub mod raw;

pub use renkei_testkit::process::{backup_load, crash, server};
