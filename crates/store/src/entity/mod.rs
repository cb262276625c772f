//! SeaORM entities, one module per table created by `renkei-migration`.
//!
//! Enums are stored as strings, JSON payloads whose exact bytes are hashed are
//! stored as text, and timestamps use [`sea_orm::prelude::DateTimeUtc`].

pub mod api_tokens;
pub mod care_plans;
pub mod entries;
pub mod idempotency_keys;
pub mod organizations;
pub mod pathway_versions;
pub mod patient_identifiers;
pub mod patients;
pub mod practitioners;
