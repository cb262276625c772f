//! `POST /fhir/r4`: a transaction Bundle of lab Observations.
