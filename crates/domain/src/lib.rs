#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod access;
pub mod calendar;
pub mod canonical;
pub mod care_forms;
pub mod chain;
pub mod corrections;
pub mod council;
pub mod diff;
pub mod entry;
pub mod error;
pub mod evidence;
pub mod facts;
pub mod goals;
pub mod handover;
pub mod identifier;
pub mod ids;
pub mod merge;
pub mod merkle;
pub mod plan;
pub mod plausibility;
pub mod referral_criteria;
pub mod rules;
pub mod schedule;
pub mod stages;
pub mod template;
pub mod text;
pub mod variance;
pub mod wording;

pub use error::{EntryRejection, ErrorCode, FieldError};
pub use rules::Rule;
pub mod council_meetings;
