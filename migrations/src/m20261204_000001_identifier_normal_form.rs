//! Data: patient identifiers (カルテ番号) in their one normal form
//! (`renkei_domain::identifier::normalize_identifier`: invisible characters dropped, NFKC,
//! surrounding space trimmed), so a number stored full-width or with a zero-width space
//! before identifiers were normalised compares equal to the same number typed today.
//!
//! A value whose normal form the same organisation already holds (one number registered
//! twice, as two patients) is left as it was: which record is the patient is for the
//! organisation to decide, so this migration never fails on data. Nothing to undo.

use std::collections::HashSet;

use renkei_domain::identifier::normalize_identifier;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;
use uuid::Uuid;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PatientIdentifiers {
    Table,
    Id,
    OrganizationId,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let select = Query::select()
            .columns([
                PatientIdentifiers::Id,
                PatientIdentifiers::OrganizationId,
                PatientIdentifiers::Value,
            ])
            .from(PatientIdentifiers::Table)
            .to_owned();
        let mut rows = Vec::new();
        for row in db.query_all(&select).await? {
            let id: Uuid = row.try_get("", "id")?;
            let org: Uuid = row.try_get("", "organization_id")?;
            let value: String = row.try_get("", "value")?;
            rows.push((id, org, value));
        }
        let mut held: HashSet<(Uuid, String)> =
            rows.iter().map(|(_, org, v)| (*org, v.clone())).collect();
        for (id, org, value) in rows {
            let normal = normalize_identifier(&value);
            if normal == value || normal.is_empty() || held.contains(&(org, normal.clone())) {
                continue;
            }
            manager
                .exec_stmt(
                    Query::update()
                        .table(PatientIdentifiers::Table)
                        .value(PatientIdentifiers::Value, normal.clone())
                        .and_where(Expr::col(PatientIdentifiers::Id).eq(id))
                        .to_owned(),
                )
                .await?;
            held.remove(&(org, value));
            held.insert((org, normal));
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
