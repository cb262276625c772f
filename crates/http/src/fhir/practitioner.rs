//! Practitioner and PractitionerRole: read.
