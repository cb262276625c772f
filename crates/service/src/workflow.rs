//! The cooperation use cases' public types under the path the web UI and the tests
//! import them from.

pub use crate::handovers::Handover;
pub use crate::reports::Report;
pub use crate::schedules::{WorkItem, Worklist};
pub use crate::variances::{SYSTEM_ORGANIZATION_ID, SYSTEM_PRACTITIONER_ID};
