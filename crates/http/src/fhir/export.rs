//! Bulk Data `$export` and its status URL.
