//! Patient per JP Core (JP_Patient).
