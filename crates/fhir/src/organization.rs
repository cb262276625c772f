//! Organization per JP Core (JP_Organization).
