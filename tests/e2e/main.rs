//! renkei-e2e: the one end-to-end test binary. Every test starts the real server on a
//! real socket over its own fresh database (SQLite by default, PostgreSQL when
//! `RENKEI_TEST_DATABASE_URL` is set) and talks to it over HTTP, drives it in a real
//! browser, or runs the `renkei` binary as a process against the same database.
//!
//! Modules (filter with `cargo test -p renkei-e2e -- <module>::`):
//! - `api`: the JSON API over HTTP;
//! - `web`: the server-rendered pages over HTTP (login, forms, language switch);
//! - `authz`: need-to-know access, every endpoint × profession × relationship;
//! - `journeys`: the long scenarios, each a module of named steps run in order;
//! - `browser`: the web UI in headless Chromium;
//! - `cli`: the `renkei` command line;
//! - `crash`: the real `renkei serve` process killed under load.

mod api;
mod authz;
mod browser;
mod cli;
mod crash;
mod journeys;
mod support;
mod web;
mod web_client;
