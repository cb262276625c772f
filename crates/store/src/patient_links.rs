//! Links between patient records merged as one person (名寄せ): written by a merge,
//! marked reversed by its reversal, never deleted.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entity::patient_links as links;
use crate::error::StoreError;

pub use crate::entity::patient_links::Model as PatientLinkRow;

type R<T> = Result<T, StoreError>;

pub async fn insert<C: ConnectionTrait>(c: &C, row: PatientLinkRow) -> R<()> {
    links::Entity::insert(links::ActiveModel {
        id: Set(row.id),
        survivor_id: Set(row.survivor_id),
        merged_id: Set(row.merged_id),
        reason: Set(row.reason),
        merged_by: Set(row.merged_by),
        merged_by_organization: Set(row.merged_by_organization),
        merged_at: Set(row.merged_at),
        reversed_by: Set(row.reversed_by),
        reversed_at: Set(row.reversed_at),
        reverse_reason: Set(row.reverse_reason),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<PatientLinkRow>> {
    Ok(links::Entity::find_by_id(id).one(c).await?)
}

/// Every link, reversed or not, that names one of `patients` as survivor or merged
/// record, oldest first.
pub async fn touching<C: ConnectionTrait>(c: &C, patients: &[Uuid]) -> R<Vec<PatientLinkRow>> {
    if patients.is_empty() {
        return Ok(Vec::new());
    }
    Ok(links::Entity::find()
        .filter(
            Condition::any()
                .add(links::Column::SurvivorId.is_in(patients.iter().copied()))
                .add(links::Column::MergedId.is_in(patients.iter().copied())),
        )
        .order_by_asc(links::Column::MergedAt)
        .order_by_asc(links::Column::Id)
        .all(c)
        .await?)
}

/// The unreversed link that merges `patient` into another record, if any.
pub async fn active_for_merged<C: ConnectionTrait>(
    c: &C,
    patient: Uuid,
) -> R<Option<PatientLinkRow>> {
    Ok(links::Entity::find()
        .filter(links::Column::MergedId.eq(patient))
        .filter(links::Column::ReversedAt.is_null())
        .one(c)
        .await?)
}

/// The unreversed links whose survivor is `patient`, oldest first.
pub async fn active_for_survivor<C: ConnectionTrait>(
    c: &C,
    patient: Uuid,
) -> R<Vec<PatientLinkRow>> {
    Ok(links::Entity::find()
        .filter(links::Column::SurvivorId.eq(patient))
        .filter(links::Column::ReversedAt.is_null())
        .order_by_asc(links::Column::MergedAt)
        .order_by_asc(links::Column::Id)
        .all(c)
        .await?)
}

/// Marks a link reversed; false when it was reversed already (or does not exist).
pub async fn reverse<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    by: Uuid,
    at: DateTime<Utc>,
    reason: &str,
) -> R<bool> {
    let res = links::Entity::update_many()
        .col_expr(links::Column::ReversedBy, Expr::value(Some(by)))
        .col_expr(links::Column::ReversedAt, Expr::value(Some(at)))
        .col_expr(
            links::Column::ReverseReason,
            Expr::value(Some(reason.to_owned())),
        )
        .filter(links::Column::Id.eq(id))
        .filter(links::Column::ReversedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Every patient record, whoever sees it, whose kana starts with `kana`, born on
/// `birth_date` and holding the patient number `identifier` of any organisation (each
/// criterion only when given), in kana order; for choosing the records to merge.
pub async fn find_records<C: ConnectionTrait>(
    c: &C,
    kana: Option<&str>,
    birth_date: Option<chrono::NaiveDate>,
    identifier: Option<&str>,
    limit: u64,
) -> R<Vec<crate::queries::PatientRow>> {
    use crate::entity::{patient_identifiers, patients};
    use sea_orm::QuerySelect;
    use sea_orm::sea_query::ExprTrait;
    let mut q = patients::Entity::find();
    if let Some(k) = kana {
        q = q.filter(Expr::col(patients::Column::KanaKey).like(crate::queries::like_prefix(k)));
    }
    if let Some(d) = birth_date {
        q = q.filter(patients::Column::BirthDate.eq(d));
    }
    if let Some(v) = identifier {
        let ids: Vec<Uuid> = patient_identifiers::Entity::find()
            .filter(patient_identifiers::Column::Value.eq(v))
            .all(c)
            .await?
            .into_iter()
            .map(|i| i.patient_id)
            .collect();
        q = q.filter(patients::Column::Id.is_in(ids));
    }
    Ok(q.order_by_asc(patients::Column::KanaKey)
        .order_by_asc(patients::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

/// A pathway version's code, version number and Japanese title.
pub async fn pathway_title<C: ConnectionTrait>(
    c: &C,
    version_id: Uuid,
) -> R<Option<(String, i32, String)>> {
    Ok(
        crate::entity::pathway_versions::Entity::find_by_id(version_id)
            .one(c)
            .await?
            .map(|v| (v.code, v.version, v.title_ja)),
    )
}
