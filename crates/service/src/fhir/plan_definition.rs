//! PlanDefinition reads: the pathway versions as FHIR resources.
