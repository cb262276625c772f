//! The FHIR R4 interface under `/fhir/r4` over HTTP: one module per subject.

pub(crate) mod document;
pub(crate) mod export;
mod import;
mod read_core;
mod read_more;
mod validation;
