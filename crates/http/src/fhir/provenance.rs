//! Provenance: read and search.
