//! `POST /fhir/r4` transaction Bundles of lab Observations.
