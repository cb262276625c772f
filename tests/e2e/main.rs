//! renkei-e2e: the one end-to-end test binary. Every test starts the real server on a
//! real socket over its own fresh database (SQLite by default, PostgreSQL when
//! `RENKEI_TEST_DATABASE_URL` is set) and talks to it over HTTP, or runs the `renkei`
//! binary as a process against the same database.

mod auth_hardening;
mod bad_input;
mod care_plans;
mod cli;
mod cli_hardening;
mod concurrency;
mod crash;
mod csv_export;
mod demo;
mod edge_input;
mod handover_consent;
mod idempotency;
mod inbox;
mod lang_redirect;
mod login;
mod openapi;
mod organizations;
mod patient_security;
mod patients;
mod slow_clients;
mod support;
mod system;
mod tamper;
mod ui_pages;
mod unavailable;
mod web_client;
