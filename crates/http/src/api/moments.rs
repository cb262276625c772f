//! The two moments a read of goals or schedules is judged at: `as_of`, clinical time
//! (entries effective at or before it count, as known now), and `known_at`, the record
//! as it stood then (entries recorded at or before it).

use chrono::{DateTime, Utc};
use renkei_domain::{FieldError, Rule};
use renkei_service::ServiceError;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MomentQuery {
    /// Clinical time, RFC 3339 with offset (`2027-06-01T00:00:00+09:00`): entries
    /// effective at or before it count. Default now.
    #[param(format = DateTime, value_type = Option<String>)]
    pub as_of: Option<String>,
    /// The record as it stood at this moment, RFC 3339 with offset: entries (and
    /// corrections) recorded after it are left out. Default now.
    #[param(format = DateTime, value_type = Option<String>)]
    pub known_at: Option<String>,
}

/// Both moments, `now` for the one not given; every malformed one is reported at once
/// (422, rule `format`).
pub fn moments(
    q: &MomentQuery,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let mut errors = Vec::new();
    let mut parse = |field: &str, value: &Option<String>| match value {
        None => Some(now),
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                errors.push(FieldError::new(
                    field,
                    Rule::Format,
                    "must be an RFC 3339 date-time with offset",
                ));
                None
            }
        },
    };
    let as_of = parse("as_of", &q.as_of);
    let known_at = parse("known_at", &q.known_at);
    match (as_of, known_at) {
        (Some(a), Some(k)) => Ok((a, k)),
        _ => Err(ServiceError::Validation(errors).into()),
    }
}
