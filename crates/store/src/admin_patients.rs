//! Corrections of a patient's demographics and their history.

use chrono::NaiveDate;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entity::{patient_demographics_history as history, patients};
use crate::error::StoreError;

pub use crate::entity::patient_demographics_history::Model as DemographicsHistoryRow;

type R<T> = Result<T, StoreError>;

/// The corrected demographics of a patient.
#[derive(Debug, Clone)]
pub struct Demographics {
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub birth_date: NaiveDate,
    pub sex: String,
}

pub async fn update_demographics<C: ConnectionTrait>(c: &C, id: Uuid, d: Demographics) -> R<()> {
    use patients::Column as P;
    patients::Entity::update_many()
        .col_expr(
            P::KanaKey,
            Expr::value(format!("{}{}", d.family_kana, d.given_kana)),
        )
        .col_expr(P::FamilyName, Expr::value(d.family_name))
        .col_expr(P::GivenName, Expr::value(d.given_name))
        .col_expr(P::FamilyKana, Expr::value(d.family_kana))
        .col_expr(P::GivenKana, Expr::value(d.given_kana))
        .col_expr(P::BirthDate, Expr::value(d.birth_date))
        .col_expr(P::Sex, Expr::value(d.sex))
        .filter(P::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn insert_history<C: ConnectionTrait>(c: &C, row: DemographicsHistoryRow) -> R<()> {
    history::Entity::insert(history::ActiveModel {
        id: Set(row.id),
        patient_id: Set(row.patient_id),
        changed_at: Set(row.changed_at),
        practitioner_id: Set(row.practitioner_id),
        organization_id: Set(row.organization_id),
        reason: Set(row.reason),
        before_json: Set(row.before_json),
        after_json: Set(row.after_json),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// A patient's corrections, oldest first.
pub async fn history_of<C: ConnectionTrait>(
    c: &C,
    patient: Uuid,
) -> R<Vec<DemographicsHistoryRow>> {
    Ok(history::Entity::find()
        .filter(history::Column::PatientId.eq(patient))
        .order_by_asc(history::Column::ChangedAt)
        .order_by_asc(history::Column::Id)
        .all(c)
        .await?)
}
