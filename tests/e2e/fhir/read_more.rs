//! Observation, Patient, Organization, Practitioner, Task, Consent, Provenance and AuditEvent over HTTP.
