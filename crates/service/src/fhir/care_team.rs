//! CareTeam reads: the organisations of a care plan's team.
