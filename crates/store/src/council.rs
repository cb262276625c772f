//! The council's report facts: one row per care plan (`report_facts`), marked stale in
//! the transaction that changes the plan ([`mark_stale`]) and recomputed in batches by the
//! service before a report reads them.

use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::council::{PlanReportFacts, ReportFactsRow};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};
use uuid::Uuid;

use crate::error::StoreError;

type R<T> = Result<T, StoreError>;

/// Entity for the `report_facts` table.
pub mod report_facts {
    use sea_orm::entity::prelude::*;

    /// One plan's report facts as last computed.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "report_facts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub care_plan_id: Uuid,
        pub region: String,
        pub pathway_code: String,
        pub pathway_version: i32,
        pub planner_organization_id: Uuid,
        pub statistics_consent: bool,
        /// Tokyo day, `YYYY-MM-DD`.
        pub started_on: String,
        pub ended_on: Option<String>,
        pub status: String,
        #[sea_orm(column_type = "Text")]
        pub facts: String,
        pub stale: bool,
        pub computed_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use report_facts::{Column, Entity};

fn day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// A stored row as the domain reads it; `None` when its facts are unreadable or of
/// another version (then it must be recomputed).
fn to_domain(m: report_facts::Model) -> Option<ReportFactsRow> {
    let facts: PlanReportFacts = serde_json::from_str(&m.facts).ok()?;
    if facts.v != renkei_domain::council::facts::FACTS_VERSION {
        return None;
    }
    Some(ReportFactsRow {
        care_plan_id: m.care_plan_id,
        region: m.region,
        pathway_code: m.pathway_code,
        pathway_version: u32::try_from(m.pathway_version).ok()?,
        planner_organization_id: m.planner_organization_id,
        statistics_consent: m.statistics_consent,
        started_on: day(&m.started_on)?,
        ended_on: m.ended_on.as_deref().and_then(day),
        status: m.status,
        facts,
    })
}

fn to_active(r: &ReportFactsRow, computed_at: DateTime<Utc>) -> report_facts::ActiveModel {
    report_facts::ActiveModel {
        care_plan_id: Set(r.care_plan_id),
        region: Set(r.region.clone()),
        pathway_code: Set(r.pathway_code.clone()),
        pathway_version: Set(i32::try_from(r.pathway_version).unwrap_or(i32::MAX)),
        planner_organization_id: Set(r.planner_organization_id),
        statistics_consent: Set(r.statistics_consent),
        started_on: Set(r.started_on.format("%Y-%m-%d").to_string()),
        ended_on: Set(r.ended_on.map(|d| d.format("%Y-%m-%d").to_string())),
        status: Set(r.status.clone()),
        facts: Set(serde_json::to_string(&r.facts).unwrap_or_else(|_| "{}".into())),
        stale: Set(false),
        computed_at: Set(computed_at),
    }
}

/// Marks the plan's report facts for recomputation (call in the transaction that
/// changes the plan, its hand-overs, reports back, team or consent). A plan without a
/// row yet is computed anyway.
pub async fn mark_stale<C: ConnectionTrait>(c: &C, plan: Uuid) -> R<()> {
    Entity::update_many()
        .col_expr(Column::Stale, Expr::value(true))
        .filter(Column::CarePlanId.eq(plan))
        .exec(c)
        .await?;
    Ok(())
}

/// Clears the staleness of these plans before they are read for recomputation: a change
/// committed after the claim marks them stale again, so the next pass recomputes them.
pub async fn claim<C: ConnectionTrait>(c: &C, ids: &[Uuid]) -> R<()> {
    for ids in ids.chunks(500) {
        Entity::update_many()
            .col_expr(Column::Stale, Expr::value(false))
            .filter(Column::CarePlanId.is_in(ids.iter().copied()))
            .exec(c)
            .await?;
    }
    Ok(())
}

/// Writes the report-facts row of a plan being created, stale and with no facts yet
/// (call in the transaction that inserts the plan): every plan has its row from the
/// start, so finding the plans to recompute is one read of the stale rows' index.
#[expect(
    clippy::too_many_arguments,
    reason = "the plan columns a report filters on"
)]
pub async fn insert_pending<C: ConnectionTrait>(
    c: &C,
    plan: Uuid,
    region: &str,
    pathway: (&str, u32),
    planner: Uuid,
    started_on: NaiveDate,
    status: &str,
    at: DateTime<Utc>,
) -> R<()> {
    Entity::insert(report_facts::ActiveModel {
        care_plan_id: Set(plan),
        region: Set(region.to_owned()),
        pathway_code: Set(pathway.0.to_owned()),
        pathway_version: Set(i32::try_from(pathway.1).unwrap_or(i32::MAX)),
        planner_organization_id: Set(planner),
        statistics_consent: Set(false),
        started_on: Set(started_on.format("%Y-%m-%d").to_string()),
        ended_on: Set(None),
        status: Set(status.to_owned()),
        facts: Set(PENDING_FACTS.to_owned()),
        stale: Set(true),
        computed_at: Set(at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// The facts of a row not computed yet (unreadable as facts: such a row is left out of
/// every report until it is computed).
pub const PENDING_FACTS: &str = "{}";

/// The statement that finds up to `limit` plans whose facts are stale, in the order of
/// the stale rows' index: sorting the whole backlog to take its first `limit` would cost
/// as much as the refresh while the backlog is large. SQLite names the index (without
/// statistics its planner may walk the table in key order instead).
pub fn plans_to_refresh_statement(backend: DbBackend, limit: u64) -> Statement {
    let indexed = match backend {
        DbBackend::Sqlite => " INDEXED BY ix_report_facts_stale",
        _ => "",
    };
    let p1 = match backend {
        DbBackend::Postgres => "$1",
        _ => "?1",
    };
    Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT care_plan_id AS id FROM report_facts{indexed} WHERE stale = {p1} LIMIT {limit}"
        ),
        [true.into()],
    )
}

/// Up to `limit` plans whose facts are stale (changed since they were computed, or never
/// computed), in id order.
pub async fn plans_to_refresh<C: ConnectionTrait>(c: &C, limit: u64) -> R<Vec<Uuid>> {
    let rows = c
        .query_all_raw(plans_to_refresh_statement(c.get_database_backend(), limit))
        .await?;
    let mut ids = rows
        .iter()
        .map(|r| r.try_get::<Uuid>("", "id"))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    Ok(ids)
}

/// How many plans' facts wait to be recomputed (the background refresh's backlog).
pub async fn stale_count<C: ConnectionTrait>(c: &C) -> R<u64> {
    Ok(Entity::find()
        .filter(Column::Stale.eq(true))
        .count(c)
        .await?)
}

/// Writes these rows (inserting or replacing each plan's), leaving the staleness of an
/// existing row as it is: a plan changed since its claim stays stale.
pub async fn upsert<C: ConnectionTrait>(
    c: &C,
    rows: &[ReportFactsRow],
    computed_at: DateTime<Utc>,
) -> R<()> {
    for chunk in rows.chunks(200) {
        if chunk.is_empty() {
            continue;
        }
        Entity::insert_many(chunk.iter().map(|r| to_active(r, computed_at)))
            .on_conflict(
                OnConflict::column(Column::CarePlanId)
                    .update_columns([
                        Column::Region,
                        Column::PathwayCode,
                        Column::PathwayVersion,
                        Column::PlannerOrganizationId,
                        Column::StatisticsConsent,
                        Column::StartedOn,
                        Column::EndedOn,
                        Column::Status,
                        Column::Facts,
                        Column::ComputedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(c)
            .await?;
    }
    Ok(())
}

/// Which stored rows a report reads: the filter's columns, applied in SQL.
#[derive(Debug, Clone, Default)]
pub struct RowsQuery {
    pub pathway: Option<String>,
    pub versions: Vec<u32>,
    pub area: Option<String>,
    /// Inclusive bounds on `started_on` (`YYYY-MM-DD`).
    pub started: (Option<NaiveDate>, Option<NaiveDate>),
    /// Inclusive bounds on `ended_on`; `Some` bounds leave out plans not ended.
    pub ended: (Option<NaiveDate>, Option<NaiveDate>),
}

fn apply(q: &RowsQuery) -> sea_orm::Condition {
    let ymd = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let mut c = sea_orm::Condition::all();
    if let Some(p) = &q.pathway {
        c = c.add(Column::PathwayCode.eq(p.clone()));
    }
    if !q.versions.is_empty() {
        c = c.add(
            Column::PathwayVersion.is_in(q.versions.iter().map(|v| i32::try_from(*v).unwrap_or(0))),
        );
    }
    if let Some(a) = &q.area {
        c = c.add(Column::Region.eq(a.clone()));
    }
    if let Some(d) = q.started.0 {
        c = c.add(Column::StartedOn.gte(ymd(d)));
    }
    if let Some(d) = q.started.1 {
        c = c.add(Column::StartedOn.lte(ymd(d)));
    }
    if let Some(d) = q.ended.0 {
        c = c.add(Column::EndedOn.gte(ymd(d)));
    }
    if let Some(d) = q.ended.1 {
        c = c.add(Column::EndedOn.lte(ymd(d)));
    }
    c
}

/// The stored rows inside `q` (only those with a statistics consent when
/// `consenting_only`); the ids of rows unreadable or of another facts version come back
/// apart, to be recomputed.
pub async fn rows<C: ConnectionTrait>(
    c: &C,
    q: &RowsQuery,
    consenting_only: bool,
) -> R<(Vec<ReportFactsRow>, Vec<Uuid>)> {
    let mut find = Entity::find().filter(apply(q));
    if consenting_only {
        find = find.filter(Column::StatisticsConsent.eq(true));
    }
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    for m in find.order_by_asc(Column::CarePlanId).all(c).await? {
        let id = m.care_plan_id;
        match to_domain(m) {
            Some(r) => out.push(r),
            None => unreadable.push(id),
        }
    }
    Ok((out, unreadable))
}

/// How many rows are stored and when the last was computed: a summary kept from
/// the rows is current while both stay the same.
pub async fn generation<C: ConnectionTrait>(c: &C) -> R<(u64, Option<DateTime<Utc>>)> {
    let row: Option<(i64, Option<DateTime<Utc>>)> = Entity::find()
        .select_only()
        .column_as(Column::CarePlanId.count(), "n")
        .column_as(Column::ComputedAt.max(), "at")
        .into_tuple()
        .one(c)
        .await?;
    Ok(row.map_or((0, None), |(n, at)| (u64::try_from(n).unwrap_or(0), at)))
}

/// How many stored rows inside `q` have no statistics consent.
pub async fn count_without_consent<C: ConnectionTrait>(c: &C, q: &RowsQuery) -> R<u64> {
    use sea_orm::PaginatorTrait;
    Ok(Entity::find()
        .filter(apply(q))
        .filter(Column::StatisticsConsent.eq(false))
        .count(c)
        .await?)
}

/// Marks these plans stale (rows of another facts version).
pub async fn mark_many_stale<C: ConnectionTrait>(c: &C, ids: &[Uuid]) -> R<()> {
    for ids in ids.chunks(500) {
        Entity::update_many()
            .col_expr(Column::Stale, Expr::value(true))
            .filter(Column::CarePlanId.is_in(ids.iter().copied()))
            .exec(c)
            .await?;
    }
    Ok(())
}

/// Marks stale the plan of hand-over `id`.
pub async fn mark_stale_of_handover<C: ConnectionTrait>(c: &C, id: Uuid) -> R<()> {
    use crate::entity::handovers;
    let plan = Query::select()
        .column(handovers::Column::CarePlanId)
        .from(handovers::Entity)
        .and_where(handovers::Column::Id.eq(id))
        .to_owned();
    Entity::update_many()
        .col_expr(Column::Stale, Expr::value(true))
        .filter(Column::CarePlanId.in_subquery(plan))
        .exec(c)
        .await?;
    Ok(())
}

/// Marks stale the plan of report back `id`.
pub async fn mark_stale_of_report<C: ConnectionTrait>(c: &C, id: Uuid) -> R<()> {
    use crate::entity::reports;
    let plan = Query::select()
        .column(reports::Column::CarePlanId)
        .from(reports::Entity)
        .and_where(reports::Column::Id.eq(id))
        .to_owned();
    Entity::update_many()
        .col_expr(Column::Stale, Expr::value(true))
        .filter(Column::CarePlanId.in_subquery(plan))
        .exec(c)
        .await?;
    Ok(())
}

/// The hand-overs of these plans, as the fact extraction reads them, by plan, in the
/// order proposed.
pub async fn handovers_of_plans<C: ConnectionTrait>(
    c: &C,
    plans: &[Uuid],
) -> R<Vec<(Uuid, renkei_domain::council::facts::HandoverInput)>> {
    use crate::entity::handovers;
    let mut out = Vec::new();
    for ids in plans.chunks(500) {
        let rows = handovers::Entity::find()
            .filter(handovers::Column::CarePlanId.is_in(ids.iter().copied()))
            .order_by_asc(handovers::Column::ProposedAt)
            .order_by_asc(handovers::Column::Id)
            .all(c)
            .await?;
        out.extend(rows.into_iter().map(|h| {
            (
                h.care_plan_id,
                renkei_domain::council::facts::HandoverInput {
                    stage: h.stage,
                    to_organization: h.to_organization_id,
                    proposed_at: h.proposed_at,
                    state: h.state,
                    answered_at: h.answered_at,
                    decline_reason: h.decline_reason,
                },
            )
        }));
    }
    Ok(out)
}

/// The reports back of these plans, by plan, in the order created.
pub async fn reports_of_plans<C: ConnectionTrait>(
    c: &C,
    plans: &[Uuid],
) -> R<Vec<(Uuid, renkei_domain::council::facts::ReportInput)>> {
    use crate::entity::reports;
    let mut out = Vec::new();
    for ids in plans.chunks(500) {
        let rows = reports::Entity::find()
            .filter(reports::Column::CarePlanId.is_in(ids.iter().copied()))
            .order_by_asc(reports::Column::CreatedAt)
            .order_by_asc(reports::Column::Id)
            .all(c)
            .await?;
        out.extend(rows.into_iter().map(|r| {
            (
                r.care_plan_id,
                renkei_domain::council::facts::ReportInput {
                    stage: r.stage,
                    due_at: r.due_at,
                    sent_at: r.sent_at,
                },
            )
        }));
    }
    Ok(out)
}
