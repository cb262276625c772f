//! PlanDefinition: read and search.
