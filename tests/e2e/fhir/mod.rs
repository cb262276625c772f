//! The FHIR R4 interface under `/fhir/r4` over HTTP: one module per subject.

mod document;
mod export;
mod import;
mod read_core;
mod read_more;
mod validation;
