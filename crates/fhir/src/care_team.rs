//! CareTeam: the organisations sharing a care plan.
