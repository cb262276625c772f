#![doc = include_str!("../README.md")]

pub mod access;
pub mod app;
pub mod builders;
pub mod cli;
pub mod db;
pub mod fhir;
pub mod process;
pub mod smtp;
pub mod ss_mix2;

pub use app::{
    ApiResponse, Layout, TestApp, migrate, migrate_to, pathways_dir, start, workspace_root,
};
pub use cli::{CliOutput, ServeProcess, renkei_bin, run_renkei};
pub use db::TestDb;
pub use fhir::{fhir_validate, fhir_validate_all};

/// Raw rows for tests: counts, audit events, practitioners and sessions as plain structs,
/// and the edits that stage a situation no use case creates.
pub use renkei_store::testing as rows;
