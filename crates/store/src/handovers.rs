//! Hand-overs (紹介) of a plan between organisations, and the marks of who has opened
//! an incoming one (既読).

use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::handover::HandoverState;
use renkei_domain::ids::{OrgId, PlanId, PractitionerId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
};
use uuid::Uuid;

use crate::entity::{handover_reads, handovers};
use crate::error::StoreError;

type R<T> = Result<T, StoreError>;

/// A stored hand-over, its state parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverRow {
    pub id: Uuid,
    pub care_plan_id: PlanId,
    pub from_organization_id: OrgId,
    pub to_organization_id: OrgId,
    pub from_stage: String,
    pub stage: String,
    pub state: HandoverState,
    pub note: Option<String>,
    /// The referral summary, canonical JSON text.
    pub summary: String,
    pub decline_reason: Option<String>,
    pub row_version: i32,
    pub proposed_by: PractitionerId,
    pub proposed_at: DateTime<Utc>,
    pub answered_by: Option<PractitionerId>,
    pub answered_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// 転院予定日 proposed by the sender.
    pub proposed_transfer_date: Option<NaiveDate>,
    /// 転院予定日 confirmed or changed by the receiver on acceptance.
    pub agreed_transfer_date: Option<NaiveDate>,
}

fn parse_date(what: &str, v: Option<String>) -> R<Option<NaiveDate>> {
    v.map(|d| {
        NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| StoreError::unparsable(what, &d))
    })
    .transpose()
}

impl TryFrom<handovers::Model> for HandoverRow {
    type Error = StoreError;

    fn try_from(m: handovers::Model) -> R<Self> {
        let state = HandoverState::parse(&m.state)
            .ok_or_else(|| StoreError::unparsable("hand-over state", &m.state))?;
        Ok(HandoverRow {
            id: m.id,
            care_plan_id: m.care_plan_id.into(),
            from_organization_id: m.from_organization_id.into(),
            to_organization_id: m.to_organization_id.into(),
            from_stage: m.from_stage,
            stage: m.stage,
            state,
            note: m.note,
            summary: m.summary,
            decline_reason: m.decline_reason,
            row_version: m.row_version,
            proposed_by: m.proposed_by.into(),
            proposed_at: m.proposed_at,
            answered_by: m.answered_by.map(Into::into),
            answered_at: m.answered_at,
            completed_at: m.completed_at,
            updated_at: m.updated_at,
            proposed_transfer_date: parse_date("proposed transfer date", m.proposed_transfer_date)?,
            agreed_transfer_date: parse_date("agreed transfer date", m.agreed_transfer_date)?,
        })
    }
}

fn rows(models: Vec<handovers::Model>) -> R<Vec<HandoverRow>> {
    models.into_iter().map(HandoverRow::try_from).collect()
}

/// Stores a new hand-over of a plan of `region` (the plan's).
pub async fn insert_handover<C: ConnectionTrait>(c: &C, h: &HandoverRow, region: &str) -> R<()> {
    handovers::Entity::insert(handovers::ActiveModel {
        id: Set(h.id),
        care_plan_id: Set(h.care_plan_id.0),
        region: Set(region.to_owned()),
        from_organization_id: Set(h.from_organization_id.0),
        to_organization_id: Set(h.to_organization_id.0),
        from_stage: Set(h.from_stage.clone()),
        stage: Set(h.stage.clone()),
        state: Set(h.state.as_str().to_owned()),
        note: Set(h.note.clone()),
        summary: Set(h.summary.clone()),
        decline_reason: Set(h.decline_reason.clone()),
        row_version: Set(h.row_version),
        proposed_by: Set(h.proposed_by.0),
        proposed_at: Set(h.proposed_at),
        answered_by: Set(h.answered_by.map(|p| p.0)),
        answered_at: Set(h.answered_at),
        completed_at: Set(h.completed_at),
        updated_at: Set(h.updated_at),
        proposed_transfer_date: Set(h.proposed_transfer_date.map(|d| d.to_string())),
        agreed_transfer_date: Set(h.agreed_transfer_date.map(|d| d.to_string())),
    })
    .exec_without_returning(c)
    .await?;
    crate::council::mark_stale(c, h.care_plan_id.0).await?;
    Ok(())
}

pub async fn handover_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<HandoverRow>> {
    handovers::Entity::find_by_id(id)
        .one(c)
        .await?
        .map(HandoverRow::try_from)
        .transpose()
}

/// The hand-overs of one plan, oldest proposal first.
pub async fn handovers_of_plan<C: ConnectionTrait>(c: &C, plan: PlanId) -> R<Vec<HandoverRow>> {
    rows(
        handovers::Entity::find()
            .filter(handovers::Column::CarePlanId.eq(plan.0))
            .order_by_asc(handovers::Column::ProposedAt)
            .all(c)
            .await?,
    )
}

/// The plan's hand-overs in `state` to `stage`, addressed to `to`.
pub async fn handovers_to_stage<C: ConnectionTrait>(
    c: &C,
    plan: PlanId,
    stage: &str,
    to: OrgId,
    state: HandoverState,
) -> R<Vec<HandoverRow>> {
    rows(
        handovers::Entity::find()
            .filter(handovers::Column::CarePlanId.eq(plan.0))
            .filter(handovers::Column::State.eq(state.as_str()))
            .filter(handovers::Column::Stage.eq(stage))
            .filter(handovers::Column::ToOrganizationId.eq(to.0))
            .all(c)
            .await?,
    )
}

/// Hand-overs addressed to `org` in one of `states`.
pub async fn handovers_to_org<C: ConnectionTrait>(
    c: &C,
    org: OrgId,
    states: &[HandoverState],
) -> R<Vec<HandoverRow>> {
    rows(
        handovers::Entity::find()
            .filter(handovers::Column::ToOrganizationId.eq(org.0))
            .filter(handovers::Column::State.is_in(states.iter().map(|s| s.as_str())))
            .all(c)
            .await?,
    )
}

/// Hand-overs sent by `org` in one of `states`.
pub async fn handovers_from_org<C: ConnectionTrait>(
    c: &C,
    org: OrgId,
    states: &[HandoverState],
) -> R<Vec<HandoverRow>> {
    rows(
        handovers::Entity::find()
            .filter(handovers::Column::FromOrganizationId.eq(org.0))
            .filter(handovers::Column::State.is_in(states.iter().map(|s| s.as_str())))
            .all(c)
            .await?,
    )
}

/// An answer to a hand-over: its new state, who answered and when, and the reason of
/// a decline.
#[derive(Debug, Clone)]
pub struct Answer {
    pub state: HandoverState,
    pub by: PractitionerId,
    pub at: DateTime<Utc>,
    pub decline_reason: Option<String>,
    /// The 転院予定日 agreed on acceptance.
    pub agreed_transfer_date: Option<NaiveDate>,
}

/// Records an answer if the hand-over is still at version `expected`, raising the
/// version; false when another write came first.
pub async fn answer_handover<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    expected: i32,
    answer: Answer,
) -> R<bool> {
    let updated = handovers::Entity::update_many()
        .col_expr(handovers::Column::State, Expr::value(answer.state.as_str()))
        .col_expr(
            handovers::Column::RowVersion,
            Expr::col(handovers::Column::RowVersion).add(1),
        )
        .col_expr(handovers::Column::UpdatedAt, Expr::value(answer.at))
        .col_expr(
            handovers::Column::AnsweredBy,
            Expr::value(Some(answer.by.0)),
        )
        .col_expr(handovers::Column::AnsweredAt, Expr::value(Some(answer.at)))
        .col_expr(
            handovers::Column::DeclineReason,
            Expr::value(answer.decline_reason),
        )
        .col_expr(
            handovers::Column::AgreedTransferDate,
            Expr::value(answer.agreed_transfer_date.map(|d| d.to_string())),
        )
        .filter(handovers::Column::Id.eq(id))
        .filter(handovers::Column::RowVersion.eq(expected))
        .exec(c)
        .await?;
    crate::council::mark_stale_of_handover(c, id).await?;
    Ok(updated.rows_affected == 1)
}

/// Marks a hand-over completed at `at`, raising its version.
pub async fn complete_handover<C: ConnectionTrait>(c: &C, id: Uuid, at: DateTime<Utc>) -> R<()> {
    handovers::Entity::update_many()
        .col_expr(
            handovers::Column::State,
            Expr::value(HandoverState::Completed.as_str()),
        )
        .col_expr(
            handovers::Column::RowVersion,
            Expr::col(handovers::Column::RowVersion).add(1),
        )
        .col_expr(handovers::Column::CompletedAt, Expr::value(Some(at)))
        .col_expr(handovers::Column::UpdatedAt, Expr::value(at))
        .filter(handovers::Column::Id.eq(id))
        .exec(c)
        .await?;
    crate::council::mark_stale_of_handover(c, id).await?;
    Ok(())
}

/// Of `org`'s incoming hand-overs still `proposed`, those nobody of `org` has opened.
pub async fn unread_handovers<C: ConnectionTrait>(c: &C, org: OrgId) -> R<Vec<Uuid>> {
    let pending: Vec<Uuid> = handovers::Entity::find()
        .select_only()
        .column(handovers::Column::Id)
        .filter(handovers::Column::ToOrganizationId.eq(org.0))
        .filter(handovers::Column::State.eq(HandoverState::Proposed.as_str()))
        .into_tuple()
        .all(c)
        .await?;
    if pending.is_empty() {
        return Ok(pending);
    }
    let read: std::collections::HashSet<Uuid> = handover_reads::Entity::find()
        .select_only()
        .column(handover_reads::Column::HandoverId)
        .filter(handover_reads::Column::OrganizationId.eq(org.0))
        .filter(handover_reads::Column::HandoverId.is_in(pending.clone()))
        .into_tuple()
        .all(c)
        .await?
        .into_iter()
        .collect();
    Ok(pending
        .into_iter()
        .filter(|id| !read.contains(id))
        .collect())
}

/// Records that someone of `org` opened the hand-over; the first mark stays, a later
/// or concurrent one changes nothing.
pub async fn mark_handover_read<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    org: OrgId,
    by: PractitionerId,
    at: DateTime<Utc>,
) -> R<()> {
    if handover_reads::Entity::find_by_id((id, org.0))
        .one(c)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let row = handover_reads::ActiveModel {
        handover_id: Set(id),
        organization_id: Set(org.0),
        read_by: Set(by.0),
        read_at: Set(at),
    };
    match handover_reads::Entity::insert(row)
        .exec_without_returning(c)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(state: &str) -> handovers::Model {
        let now = Utc::now();
        handovers::Model {
            id: Uuid::now_v7(),
            care_plan_id: Uuid::now_v7(),
            region: String::new(),
            from_organization_id: Uuid::now_v7(),
            to_organization_id: Uuid::now_v7(),
            from_stage: "acute".into(),
            stage: "recovery".into(),
            state: state.into(),
            note: None,
            summary: "{}".into(),
            decline_reason: None,
            row_version: 1,
            proposed_by: Uuid::now_v7(),
            proposed_at: now,
            answered_by: None,
            answered_at: None,
            completed_at: None,
            updated_at: now,
            proposed_transfer_date: Some("2026-12-20".into()),
            agreed_transfer_date: None,
        }
    }

    #[test]
    fn every_state_reads_back_and_an_unknown_one_is_an_error() {
        for s in HandoverState::ALL {
            let row = HandoverRow::try_from(model(s.as_str())).expect("known state");
            assert_eq!(row.state, s);
            assert_eq!(
                row.proposed_transfer_date,
                NaiveDate::from_ymd_opt(2026, 12, 20)
            );
        }
        assert!(matches!(
            HandoverRow::try_from(model("pending")),
            Err(StoreError::Corrupt(_))
        ));
    }
}
