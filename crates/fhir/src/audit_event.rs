//! AuditEvent: the audit trail's events.
