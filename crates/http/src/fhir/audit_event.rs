//! AuditEvent: read and search.
