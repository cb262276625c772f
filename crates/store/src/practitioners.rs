//! Practitioner listings that screens name people with: read-only, no credentials.

use renkei_domain::ids::{OrgId, PractitionerId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::practitioners;
use crate::error::StoreError;

/// `(id, login, name)` of every practitioner, by login.
pub async fn names<C: ConnectionTrait>(
    c: &C,
) -> Result<Vec<(PractitionerId, String, String)>, StoreError> {
    Ok(practitioners::Entity::find()
        .order_by_asc(practitioners::Column::Login)
        .all(c)
        .await?
        .into_iter()
        .map(|p| (PractitionerId::from(p.id), p.login, p.name))
        .collect())
}

/// `(name, profession)` of an organisation's enabled practitioners of the given
/// professions, by login.
pub async fn enabled_of_professions<C: ConnectionTrait>(
    c: &C,
    organization: OrgId,
    professions: &[&str],
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(practitioners::Entity::find()
        .filter(practitioners::Column::OrganizationId.eq(organization.into_uuid()))
        .filter(practitioners::Column::Profession.is_in(professions.iter().copied()))
        .filter(practitioners::Column::DisabledAt.is_null())
        .order_by_asc(practitioners::Column::Login)
        .all(c)
        .await?
        .into_iter()
        .map(|p| (p.name, p.profession))
        .collect())
}
