//! Reports back (返書) from the organisation that ran a stage to the planner.

use chrono::{DateTime, Utc};
use renkei_domain::ids::{EntryId, OrgId, PlanId, PractitionerId};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::reports;
use crate::error::StoreError;

type R<T> = Result<T, StoreError>;

/// A stored report back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub id: Uuid,
    pub care_plan_id: PlanId,
    pub stage: String,
    pub from_organization_id: OrgId,
    pub to_organization_id: OrgId,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub sent_by: Option<PractitionerId>,
    /// The stage outcome, canonical JSON text.
    pub content: String,
    pub stage_end_entry_id: EntryId,
    pub created_at: DateTime<Utc>,
}

impl From<reports::Model> for ReportRow {
    fn from(m: reports::Model) -> Self {
        ReportRow {
            id: m.id,
            care_plan_id: m.care_plan_id.into(),
            stage: m.stage,
            from_organization_id: m.from_organization_id.into(),
            to_organization_id: m.to_organization_id.into(),
            due_at: m.due_at,
            sent_at: m.sent_at,
            sent_by: m.sent_by.map(Into::into),
            content: m.content,
            stage_end_entry_id: m.stage_end_entry_id.into(),
            created_at: m.created_at,
        }
    }
}

/// Stores a report of a plan of `region` (the plan's).
pub async fn insert_report<C: ConnectionTrait>(c: &C, r: &ReportRow, region: &str) -> R<()> {
    reports::Entity::insert(reports::ActiveModel {
        id: Set(r.id),
        care_plan_id: Set(r.care_plan_id.0),
        region: Set(region.to_owned()),
        stage: Set(r.stage.clone()),
        from_organization_id: Set(r.from_organization_id.0),
        to_organization_id: Set(r.to_organization_id.0),
        due_at: Set(r.due_at),
        sent_at: Set(r.sent_at),
        sent_by: Set(r.sent_by.map(|p| p.0)),
        content: Set(r.content.clone()),
        stage_end_entry_id: Set(r.stage_end_entry_id.0),
        created_at: Set(r.created_at),
    })
    .exec_without_returning(c)
    .await?;
    crate::council::mark_stale(c, r.care_plan_id.0).await?;
    Ok(())
}

pub async fn report_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<ReportRow>> {
    Ok(reports::Entity::find_by_id(id)
        .one(c)
        .await?
        .map(ReportRow::from))
}

/// The reports of one plan.
pub async fn reports_of_plan<C: ConnectionTrait>(c: &C, plan: PlanId) -> R<Vec<ReportRow>> {
    Ok(reports::Entity::find()
        .filter(reports::Column::CarePlanId.eq(plan.0))
        .all(c)
        .await?
        .into_iter()
        .map(ReportRow::from)
        .collect())
}

/// Which side of a report an organisation is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportSide {
    /// It owes the report.
    From,
    /// It is owed the report.
    To,
}

/// The reports not yet sent that `org` owes or is owed.
pub async fn unsent_reports<C: ConnectionTrait>(
    c: &C,
    org: OrgId,
    side: ReportSide,
) -> R<Vec<ReportRow>> {
    let col = match side {
        ReportSide::From => reports::Column::FromOrganizationId,
        ReportSide::To => reports::Column::ToOrganizationId,
    };
    Ok(reports::Entity::find()
        .filter(col.eq(org.0))
        .filter(reports::Column::SentAt.is_null())
        .all(c)
        .await?
        .into_iter()
        .map(ReportRow::from)
        .collect())
}

/// Records that `by` sent the report at `at`.
pub async fn mark_report_sent<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    by: PractitionerId,
    at: DateTime<Utc>,
) -> R<()> {
    reports::Entity::update_many()
        .col_expr(reports::Column::SentAt, Expr::value(Some(at)))
        .col_expr(reports::Column::SentBy, Expr::value(Some(by.0)))
        .filter(reports::Column::Id.eq(id))
        .exec(c)
        .await?;
    crate::council::mark_stale_of_report(c, id).await?;
    Ok(())
}

/// A report sent to an organisation, and whether anyone of it has opened it since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrivedReport {
    pub report: ReportRow,
    /// No `report.read` of a user of the receiving organisation at or after `sent_at`
    /// in the audit log.
    pub unread: bool,
}

/// The reports sent to `org` (newest first, at most `limit`), each with its unread mark,
/// read from the audit log of report reads (`report.read`, allowed, by a user of `org`).
pub async fn arrived_reports<C: ConnectionTrait>(
    c: &C,
    org: OrgId,
    limit: u64,
) -> R<Vec<ArrivedReport>> {
    use crate::entity::audit_events;
    use sea_orm::{QueryOrder, QuerySelect};
    let sent: Vec<ReportRow> = reports::Entity::find()
        .filter(reports::Column::ToOrganizationId.eq(org.0))
        .filter(reports::Column::SentAt.is_not_null())
        .order_by_desc(reports::Column::SentAt)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(ReportRow::from)
        .collect();
    if sent.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = sent.iter().map(|r| r.id.to_string()).collect();
    let reads: Vec<(Option<String>, DateTime<Utc>)> = audit_events::Entity::find()
        .select_only()
        .column(audit_events::Column::ResourceId)
        .column(audit_events::Column::At)
        .filter(audit_events::Column::Action.eq("report.read"))
        .filter(audit_events::Column::Outcome.eq("allowed"))
        .filter(audit_events::Column::OrganizationId.eq(org.0))
        .filter(audit_events::Column::ResourceId.is_in(ids))
        .into_tuple()
        .all(c)
        .await?;
    Ok(sent
        .into_iter()
        .map(|r| {
            let id = r.id.to_string();
            let sent_at = r.sent_at;
            let opened = reads.iter().any(|(rid, at)| {
                rid.as_deref() == Some(id.as_str()) && sent_at.is_some_and(|s| *at >= s)
            });
            ArrivedReport {
                report: r,
                unread: !opened,
            }
        })
        .collect())
}

/// The report entry (`kind = report`) written when report `id` was sent: its covering
/// note, if any.
pub async fn report_note<C: ConnectionTrait>(c: &C, plan: PlanId, id: Uuid) -> R<Option<String>> {
    use crate::entity::entries;
    let rows = entries::Entity::find()
        .filter(entries::Column::CarePlanId.eq(plan.0))
        .filter(entries::Column::Kind.eq("report"))
        .all(c)
        .await?;
    let id = id.to_string();
    Ok(rows
        .into_iter()
        .find(|e| {
            serde_json::from_str::<serde_json::Value>(&e.values_json)
                .ok()
                .and_then(|v| v.get("report_id").and_then(|x| x.as_str()).map(|s| s == id))
                .unwrap_or(false)
        })
        .and_then(|e| e.note))
}
