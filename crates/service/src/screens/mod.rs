//! Read models of the web screens: each page asks one function here, which makes one
//! access decision, records one audit event and returns the page's data together with
//! the actions the actor may take on it (decided by `renkei_domain::access`, the same
//! decision the writes ask). The pages hold no rules of their own.

pub mod audit;
pub mod entry;
pub mod handover;
pub mod patient;
pub mod plan;
pub mod worklist;

pub use entry::EntryCheck;
pub use handover::{HandoverScreen, PlanBehind, ReportScreen};
pub use patient::{PatientCard, PatientScreen};
pub use plan::{PlanScreen, StageDates, TeamRow};
pub use worklist::{HandoverParties, WorklistScreen};
