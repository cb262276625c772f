//! Provenance: one per entry, with the entry hash as signature data.
