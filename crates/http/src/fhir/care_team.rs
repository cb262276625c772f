//! CareTeam: read and search.
