//! Goal: one per goal of a care plan, with its status from the goal engine.
