//! The JSON API over HTTP: one module per subject.

mod auth_hardening;
mod bad_input;
mod care_plans;
mod clinical_time;
mod concurrency;
mod corrections;
mod csv_export;
mod cyclical_enrolment;
mod demo;
mod edge_input;
mod goal_semantics;
mod handover_consent;
mod handover_referral;
mod idempotency;
mod inbox;
mod openapi;
mod organizations;
mod patient_security;
mod patients;
mod plausibility;
mod slow_clients;
mod snapshots;
mod system;
mod tamper;
mod templates_v2;
mod unavailable;
pub(crate) mod variances;
