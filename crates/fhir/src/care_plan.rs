//! CarePlan: one per care plan.
