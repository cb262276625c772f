//! Observation reads and searches.
