//! The `renkei` command line, run as a process against a test database.

mod commands;
mod dataset;
mod hardening;
mod serve_defaults;
mod ss_mix2;
