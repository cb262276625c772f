//! Practitioner and PractitionerRole per JP Core.
