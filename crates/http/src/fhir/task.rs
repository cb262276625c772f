//! Task: read and search.
