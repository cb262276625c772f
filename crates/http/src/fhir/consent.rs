//! Consent: read and search.
