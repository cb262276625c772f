//! Observation: read and search.
