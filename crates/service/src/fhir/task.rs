//! Task reads: hand-overs and reports back.
