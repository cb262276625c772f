//! Demo region.
