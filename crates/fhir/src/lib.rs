#![doc = include_str!("../README.md")]

pub mod bundle;
pub mod capability;
pub mod common;
pub mod metadata;
pub mod outcome;
pub mod search;

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

pub mod composition;
pub mod export;

pub mod import;
