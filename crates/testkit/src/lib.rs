//! renkei-testkit (dev-only): a fresh database per test on SQLite or PostgreSQL
//! ([`TestDb`]), the real server on a real socket ([`TestApp`]), the `renkei` binary as a
//! process ([`cli`]), request builders ([`builders`]), and the crash and backup harness
//! around a real `renkei serve` process ([`process`]).
//!
//! Backend selection: `RENKEI_TEST_DATABASE_URL` unset → SQLite; set to a
//! `postgres://…` URL → a throw-away schema in that database. `RENKEI_TEST_KEEP_DB=1`
//! keeps the databases; `CI=true` turns an unreachable PostgreSQL into a failure.

pub mod access;
pub mod app;
pub mod builders;
pub mod cli;
pub mod db;
pub mod process;

pub use app::{ApiResponse, TestApp, migrate, pathways_dir, start, workspace_root};
pub use cli::{CliOutput, ServeProcess, renkei_bin, run_renkei};
pub use db::TestDb;

/// Raw rows for tests: counts, audit events, practitioners and sessions as plain structs,
/// and the edits that stage a situation no use case creates.
pub use renkei_store::testing as rows;
