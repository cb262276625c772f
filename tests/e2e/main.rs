//! renkei-e2e: the one end-to-end test binary. Every test starts the real server on a
//! real socket over its own fresh database (SQLite by default, PostgreSQL when
//! `RENKEI_TEST_DATABASE_URL` is set) and talks to it over HTTP, or runs the `renkei`
//! binary as a process against the same database.

mod bad_input;
mod care_plans;
mod cli;
mod concurrency;
mod crash;
mod demo;
mod idempotency;
mod inbox;
mod login;
mod openapi;
mod patients;
mod support;
mod system;
mod ui_pages;
mod unavailable;
