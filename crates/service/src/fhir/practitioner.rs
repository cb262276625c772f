//! Practitioner and PractitionerRole reads.
