//! Practitioner listings that screens name people with: read-only, no credentials.

use chrono::{DateTime, Utc};
use renkei_domain::access::Profession;
use renkei_domain::ids::{AdminRole, OrgId, PractitionerId};
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

/// A practitioner as the administration screen lists them (no credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PractitionerListing {
    pub id: PractitionerId,
    pub login: String,
    pub name: String,
    pub profession: Profession,
    pub organization_id: OrgId,
    pub roles: Vec<AdminRole>,
    pub totp_enabled: bool,
    pub locked_until: Option<DateTime<Utc>>,
    pub disabled: bool,
    pub must_change_password: bool,
}

/// Every practitioner, or one organisation's, by organisation id then login.
pub async fn listing<C: ConnectionTrait>(
    c: &C,
    organization: Option<OrgId>,
) -> Result<Vec<PractitionerListing>, StoreError> {
    let mut q = practitioners::Entity::find();
    if let Some(org) = organization {
        q = q.filter(practitioners::Column::OrganizationId.eq(org.into_uuid()));
    }
    q.order_by_asc(practitioners::Column::OrganizationId)
        .order_by_asc(practitioners::Column::Login)
        .all(c)
        .await?
        .into_iter()
        .map(|p| {
            Ok(PractitionerListing {
                id: p.id.into(),
                profession: Profession::parse(&p.profession).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "practitioner {}: profession `{}`",
                        p.id, p.profession
                    ))
                })?,
                roles: parse_roles(p.id, &p.roles)?,
                login: p.login,
                name: p.name,
                organization_id: p.organization_id.into(),
                totp_enabled: p.totp_enabled,
                locked_until: p.locked_until,
                disabled: p.disabled_at.is_some(),
                must_change_password: p.must_change_password,
            })
        })
        .collect()
}

/// The stored JSON array of administrative roles.
fn parse_roles(id: uuid::Uuid, stored: &str) -> Result<Vec<AdminRole>, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("practitioner {id}: roles `{stored}`"));
    let names: Vec<String> = serde_json::from_str(stored).map_err(|_| corrupt())?;
    names
        .iter()
        .map(|r| AdminRole::parse(r).ok_or_else(corrupt))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_or_are_a_store_error() {
        let id = uuid::Uuid::nil();
        assert_eq!(parse_roles(id, "[]").expect("empty"), vec![]);
        assert_eq!(
            parse_roles(id, r#"["org_admin","regional_admin"]"#).expect("both"),
            vec![AdminRole::OrgAdmin, AdminRole::RegionalAdmin]
        );
        assert!(matches!(
            parse_roles(id, r#"["root"]"#),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            parse_roles(id, "not json"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
