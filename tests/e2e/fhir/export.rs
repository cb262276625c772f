//! Bulk Data `$export`.
