//! The FHIR R4 use cases: read rows, apply the same access rules as the JSON API, write
//! the same audit events (with the FHIR resource type in the event's detail), fill the
//! input structs of `renkei-fhir` and return its resources.

pub mod care_plan;
pub mod care_team;
pub mod goal;
pub mod plan_definition;

pub mod audit_event;
pub mod consent;
pub mod observation;
pub mod organization;
pub mod patient;
pub mod practitioner;
pub mod provenance;
pub mod task;

pub mod document;
pub mod export;
