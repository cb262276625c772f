//! The referral letter as a FHIR document Bundle.
