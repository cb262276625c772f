//! SeaORM entities, one module per table created by `renkei-migration`.
//!
//! Enums are stored as strings, JSON payloads whose exact bytes are hashed are
//! stored as text, and timestamps use [`sea_orm::prelude::DateTimeUtc`].

pub mod amendment_notices;
pub mod api_tokens;
pub mod audit_checkpoints;
pub mod audit_events;
pub mod audit_head;
pub mod audit_trees;
pub mod break_glass_grants;
pub mod care_plans;
pub mod care_team_members;
pub mod consents;
pub mod council_decisions;
pub mod council_meetings;
pub mod declarations;
pub mod entries;
pub mod handover_reads;
pub mod handovers;
pub mod idempotency_keys;
pub mod login_throttle;
pub mod notifications_sent;
pub mod organization_notifications;
pub mod organizations;
pub mod pathway_versions;
pub mod patient_demographics_history;
pub mod patient_identifiers;
pub mod patient_links;
pub mod patients;
pub mod practitioners;
pub mod reports;
pub mod sessions;
