//! Task: hand-overs and reports back.
