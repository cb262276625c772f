//! Goal: read and search.
