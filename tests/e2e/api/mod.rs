//! The JSON API over HTTP: one module per subject.

mod auth_hardening;
mod bad_input;
mod care_plans;
mod concurrency;
mod csv_export;
mod demo;
mod edge_input;
mod handover_consent;
mod idempotency;
mod inbox;
mod openapi;
mod organizations;
mod patient_security;
mod patients;
mod slow_clients;
mod snapshots;
mod system;
mod tamper;
mod templates_v2;
mod unavailable;
