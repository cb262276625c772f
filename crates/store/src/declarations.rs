//! The facility directory's declarations (手挙げ): which stages of a pathway an
//! organisation takes, with the superseded ones kept as history.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::entity::declarations;
use crate::error::StoreError;

pub use crate::entity::declarations::Model as DeclarationRow;

type R<T> = Result<T, StoreError>;

/// Marks the organisation's current declaration for `pathway` superseded at `at` and
/// inserts `row` as the current one.
pub async fn supersede_and_insert<C: ConnectionTrait>(
    c: &C,
    row: DeclarationRow,
    at: DateTime<Utc>,
) -> R<()> {
    declarations::Entity::update_many()
        .col_expr(declarations::Column::SupersededAt, Expr::value(at))
        .filter(declarations::Column::OrganizationId.eq(row.organization_id))
        .filter(declarations::Column::Pathway.eq(row.pathway.clone()))
        .filter(declarations::Column::SupersededAt.is_null())
        .exec(c)
        .await?;
    declarations::Entity::insert(declarations::ActiveModel {
        id: Set(row.id),
        organization_id: Set(row.organization_id),
        pathway: Set(row.pathway),
        stages: Set(row.stages),
        note: Set(row.note),
        declared_at: Set(row.declared_at),
        declared_by: Set(row.declared_by),
        superseded_at: Set(None),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Every declaration of an organisation, newest first.
pub async fn declarations_of<C: ConnectionTrait>(c: &C, org: Uuid) -> R<Vec<DeclarationRow>> {
    Ok(declarations::Entity::find()
        .filter(declarations::Column::OrganizationId.eq(org))
        .order_by_desc(declarations::Column::DeclaredAt)
        .all(c)
        .await?)
}

/// The current declarations (of `pathway`, when given), oldest first.
pub async fn current_declarations<C: ConnectionTrait>(
    c: &C,
    pathway: Option<&str>,
) -> R<Vec<DeclarationRow>> {
    let mut q = declarations::Entity::find().filter(declarations::Column::SupersededAt.is_null());
    if let Some(p) = pathway {
        q = q.filter(declarations::Column::Pathway.eq(p));
    }
    Ok(q.order_by_asc(declarations::Column::DeclaredAt)
        .all(c)
        .await?)
}
