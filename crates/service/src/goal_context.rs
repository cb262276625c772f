//! What the goal engine needs to know about a plan besides its entries.

use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::goals::{GoalContext, needs_birth_date};
use renkei_domain::template::PathwayTemplate;
use renkei_store::queries;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::ServiceError;

/// The patient's birth date when a goal of `t` has a condition on age (read only then).
pub(crate) async fn birth_date_for<C: ConnectionTrait>(
    c: &C,
    t: &PathwayTemplate,
    patient_id: Uuid,
) -> Result<Option<NaiveDate>, ServiceError> {
    if !needs_birth_date(t) {
        return Ok(None);
    }
    Ok(queries::patient_by_id(c, patient_id)
        .await?
        .map(|p| p.birth_date))
}

/// The goal context of a plan judged at `as_of` as the record stands at `known_at`.
pub(crate) async fn goal_context<C: ConnectionTrait>(
    c: &C,
    t: &PathwayTemplate,
    patient_id: Uuid,
    plan_started_at: DateTime<Utc>,
    as_of: DateTime<Utc>,
    known_at: DateTime<Utc>,
) -> Result<GoalContext, ServiceError> {
    Ok(GoalContext {
        plan_started_at,
        birth_date: birth_date_for(c, t, patient_id).await?,
        as_of,
        known_at,
    })
}
