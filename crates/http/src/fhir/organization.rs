//! Organization: read.
