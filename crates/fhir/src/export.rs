//! Bulk Data `$export`: ndjson lines of pseudonymised resources.
