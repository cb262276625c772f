//! Goal reads and searches: a plan's goals with their status from the goal engine.
