//! PlanDefinition: one per pathway version.
