//! Organization reads.
