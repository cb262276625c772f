//! AuditEvent reads.
