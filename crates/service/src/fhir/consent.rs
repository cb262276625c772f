//! Consent reads.
