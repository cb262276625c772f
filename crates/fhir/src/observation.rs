//! Observation: one per recorded value of an entry.
