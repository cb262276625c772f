//! Who is acting: the [`Actor`] behind a session or a bearer token.

use renkei_store::queries::{OrganizationRow, PractitionerRow};
use renkei_store::queries_auth;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::{Actor, ServiceError};

/// The [`Actor`] for an enabled practitioner (sessions and tokens both end here).
pub async fn actor_of<C: ConnectionTrait>(
    db: &C,
    practitioner_id: Uuid,
) -> Result<Actor, ServiceError> {
    let (p, org) = queries_auth::practitioner_with_org(db, practitioner_id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    actor_from(p, org)
}

/// The [`Actor`] of a practitioner and their organisation read together; a disabled
/// practitioner, or one of a deactivated organisation, is no actor.
pub(crate) fn actor_from(p: PractitionerRow, org: OrganizationRow) -> Result<Actor, ServiceError> {
    if p.disabled_at.is_some() || org.deactivated_at.is_some() {
        return Err(ServiceError::Unauthenticated);
    }
    Ok(Actor {
        practitioner_id: p.id,
        login: p.login,
        name: p.name,
        profession: p.profession,
        organization_id: org.id,
        organization_code: org.code,
        organization_name: org.name,
        region: org.area,
        roles: serde_json::from_str(&p.roles).unwrap_or_default(),
    })
}

/// The [`Actor`] of the enabled practitioner with `login` (the `renkei` command acting
/// as a named user); unknown or disabled answers `Unauthenticated`.
pub async fn actor_by_login<C: ConnectionTrait>(
    db: &C,
    login: &str,
) -> Result<Actor, ServiceError> {
    let p = renkei_store::queries::practitioner_by_login(db, login)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    actor_of(db, p.id).await
}
