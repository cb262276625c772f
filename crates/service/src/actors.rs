//! Who is acting: the [`Actor`] behind a session or a bearer token.

use renkei_store::queries;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::{Actor, ServiceError};

/// The [`Actor`] for an enabled practitioner (sessions and tokens both end here).
pub async fn actor_of<C: ConnectionTrait>(
    db: &C,
    practitioner_id: Uuid,
) -> Result<Actor, ServiceError> {
    let p = queries::practitioner_by_id(db, practitioner_id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    if p.disabled_at.is_some() {
        return Err(ServiceError::Unauthenticated);
    }
    let org = queries::organization_by_id(db, p.organization_id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    Ok(Actor {
        practitioner_id: p.id,
        login: p.login,
        name: p.name,
        profession: p.profession,
        organization_id: org.id,
        organization_code: org.code,
        roles: serde_json::from_str(&p.roles).unwrap_or_default(),
        region: org.area,
    })
}
