//! Links between two records of one person (名寄せ): the active link of a record, the
//! records merged into a surviving one, linking and unlinking.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entity::patient_links as links;
use crate::error::StoreError;

pub use crate::entity::patient_links::Model as PatientLinkRow;

type R<T> = Result<T, StoreError>;

pub async fn insert_link<C: ConnectionTrait>(c: &C, row: PatientLinkRow) -> R<()> {
    links::Entity::insert(links::ActiveModel {
        id: Set(row.id),
        merged_patient_id: Set(row.merged_patient_id),
        surviving_patient_id: Set(row.surviving_patient_id),
        linked_at: Set(row.linked_at),
        linked_by_practitioner_id: Set(row.linked_by_practitioner_id),
        linked_by_organization_id: Set(row.linked_by_organization_id),
        reason: Set(row.reason),
        unlinked_at: Set(row.unlinked_at),
        unlinked_by_practitioner_id: Set(row.unlinked_by_practitioner_id),
        unlink_reason: Set(row.unlink_reason),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// The active link of a merged-away record, if any.
pub async fn active_link_of<C: ConnectionTrait>(c: &C, merged: Uuid) -> R<Option<PatientLinkRow>> {
    Ok(links::Entity::find()
        .filter(links::Column::MergedPatientId.eq(merged))
        .filter(links::Column::UnlinkedAt.is_null())
        .one(c)
        .await?)
}

/// The records actively merged into `surviving`, oldest link first.
pub async fn merged_into<C: ConnectionTrait>(c: &C, surviving: Uuid) -> R<Vec<PatientLinkRow>> {
    Ok(links::Entity::find()
        .filter(links::Column::SurvivingPatientId.eq(surviving))
        .filter(links::Column::UnlinkedAt.is_null())
        .order_by_asc(links::Column::LinkedAt)
        .all(c)
        .await?)
}

/// Ends a link: who, when and why are stamped on the row, which stays.
pub async fn unlink<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    at: DateTime<Utc>,
    practitioner: Option<Uuid>,
    reason: String,
) -> R<()> {
    links::Entity::update_many()
        .col_expr(links::Column::UnlinkedAt, Expr::value(at))
        .col_expr(
            links::Column::UnlinkedByPractitionerId,
            Expr::value(practitioner),
        )
        .col_expr(links::Column::UnlinkReason, Expr::value(reason))
        .filter(links::Column::Id.eq(id))
        .filter(links::Column::UnlinkedAt.is_null())
        .exec(c)
        .await?;
    Ok(())
}
