//! E-mail notification settings per organisation and the notifications already sent.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{notifications_sent, organization_notifications};
use crate::error::StoreError;

type R<T> = Result<T, StoreError>;

pub type NotifySettingsRow = organization_notifications::Model;

/// The organisation's settings; `None` when it receives no e-mail.
pub async fn settings_of<C: ConnectionTrait>(c: &C, org: Uuid) -> R<Option<NotifySettingsRow>> {
    Ok(organization_notifications::Entity::find_by_id(org)
        .one(c)
        .await?)
}

/// Every organisation's settings.
pub async fn all_settings<C: ConnectionTrait>(c: &C) -> R<Vec<NotifySettingsRow>> {
    Ok(organization_notifications::Entity::find().all(c).await?)
}

/// Stores (or replaces) the settings of one organisation.
pub async fn put_settings<C: ConnectionTrait>(c: &C, row: &NotifySettingsRow) -> R<()> {
    organization_notifications::Entity::delete_by_id(row.organization_id)
        .exec(c)
        .await?;
    organization_notifications::Entity::insert(organization_notifications::ActiveModel {
        organization_id: Set(row.organization_id),
        email: Set(row.email.clone()),
        on_handover: Set(row.on_handover),
        on_report: Set(row.on_report),
        on_notice: Set(row.on_notice),
        enabled_at: Set(row.enabled_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Removes the settings: the organisation receives no more e-mail.
pub async fn delete_settings<C: ConnectionTrait>(c: &C, org: Uuid) -> R<()> {
    organization_notifications::Entity::delete_by_id(org)
        .exec(c)
        .await?;
    Ok(())
}

/// Which of `keys` were already sent.
pub async fn sent_among<C: ConnectionTrait>(c: &C, keys: &[String]) -> R<Vec<String>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(notifications_sent::Entity::find()
        .filter(notifications_sent::Column::Key.is_in(keys.iter().cloned()))
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.key)
        .collect())
}

/// Claims `key` for sending; false when it was already claimed (sent or being sent).
pub async fn claim<C: ConnectionTrait>(c: &C, key: &str, org: Uuid, at: DateTime<Utc>) -> R<bool> {
    let r = notifications_sent::Entity::insert(notifications_sent::ActiveModel {
        key: Set(key.to_owned()),
        organization_id: Set(org),
        sent_at: Set(at),
    })
    .on_conflict(
        OnConflict::column(notifications_sent::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(c)
    .await?;
    Ok(r == 1)
}

/// Gives a claim back after a failed send, so the next dispatch tries again.
pub async fn release<C: ConnectionTrait>(c: &C, key: &str) -> R<()> {
    notifications_sent::Entity::delete_by_id(key.to_owned())
        .exec(c)
        .await?;
    Ok(())
}
