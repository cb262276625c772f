//! Composition: the referral letter (診療情報提供書) as a FHIR document Bundle.
