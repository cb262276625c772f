//! Queries for care teams, consent, break-glass grants and the audit log.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entity::{audit_events, break_glass_grants, care_plans, care_team_members, consents};
use crate::error::StoreError;

pub use crate::entity::{
    audit_events::Model as AuditEventRow, break_glass_grants::Model as BreakGlassRow,
    care_team_members::Model as TeamMemberRow, consents::Model as ConsentRow,
};

type R<T> = Result<T, StoreError>;

pub async fn insert_team_member<C: ConnectionTrait>(c: &C, row: TeamMemberRow) -> R<()> {
    care_team_members::Entity::insert(care_team_members::ActiveModel {
        id: Set(row.id),
        care_plan_id: Set(row.care_plan_id),
        region: Set(row.region),
        organization_id: Set(row.organization_id),
        role: Set(row.role),
        stages: Set(row.stages),
        added_at: Set(row.added_at),
        added_by: Set(row.added_by),
        access_ends_on: Set(row.access_ends_on),
        access_ends_at: Set(row.access_ends_at),
        ended_at: Set(row.ended_at),
        ended_by: Set(row.ended_by),
        end_reason: Set(row.end_reason),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn team_of<C: ConnectionTrait>(c: &C, plan: Uuid) -> R<Vec<TeamMemberRow>> {
    Ok(care_team_members::Entity::find()
        .filter(care_team_members::Column::CarePlanId.eq(plan))
        .order_by_asc(care_team_members::Column::AddedAt)
        .all(c)
        .await?)
}

/// The care teams of several plans, by plan and then in the order members were added.
pub async fn teams_of<C: ConnectionTrait>(c: &C, plans: &[Uuid]) -> R<Vec<TeamMemberRow>> {
    Ok(care_team_members::Entity::find()
        .filter(care_team_members::Column::CarePlanId.is_in(plans.iter().copied()))
        .order_by_asc(care_team_members::Column::CarePlanId)
        .order_by_asc(care_team_members::Column::AddedAt)
        .all(c)
        .await?)
}

/// Plans on whose team `org` is (any role).
pub async fn plans_of_team_org<C: ConnectionTrait>(c: &C, org: Uuid) -> R<Vec<Uuid>> {
    Ok(care_team_members::Entity::find()
        .filter(care_team_members::Column::OrganizationId.eq(org))
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.care_plan_id)
        .collect())
}

pub async fn insert_consent<C: ConnectionTrait>(c: &C, row: ConsentRow) -> R<()> {
    consents::Entity::insert(consents::ActiveModel {
        id: Set(row.id),
        care_plan_id: Set(row.care_plan_id),
        region: Set(row.region),
        scope: Set(row.scope),
        organizations: Set(row.organizations),
        purposes: Set(row.purposes),
        method: Set(row.method),
        signer: Set(row.signer),
        proxy_relationship: Set(row.proxy_relationship),
        obtained_by_organization_id: Set(row.obtained_by_organization_id),
        obtained_by: Set(row.obtained_by),
        obtained_at: Set(row.obtained_at),
        recorded_at: Set(row.recorded_at),
        withdrawn_at: Set(row.withdrawn_at),
        withdrawal_reason: Set(row.withdrawal_reason),
        row_version: Set(row.row_version),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn consents_of<C: ConnectionTrait>(c: &C, plan: Uuid) -> R<Vec<ConsentRow>> {
    Ok(consents::Entity::find()
        .filter(consents::Column::CarePlanId.eq(plan))
        .order_by_asc(consents::Column::RecordedAt)
        .all(c)
        .await?)
}

/// The consents of several plans, by plan and then in the order they were recorded.
pub async fn consents_of_plans<C: ConnectionTrait>(c: &C, plans: &[Uuid]) -> R<Vec<ConsentRow>> {
    Ok(consents::Entity::find()
        .filter(consents::Column::CarePlanId.is_in(plans.iter().copied()))
        .order_by_asc(consents::Column::CarePlanId)
        .order_by_asc(consents::Column::RecordedAt)
        .all(c)
        .await?)
}

pub async fn consent_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<ConsentRow>> {
    Ok(consents::Entity::find_by_id(id).one(c).await?)
}

/// Withdraws a consent if it is still active; false if it was already withdrawn.
pub async fn withdraw_consent<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    at: DateTime<Utc>,
    reason: &str,
) -> R<bool> {
    let res = consents::Entity::update_many()
        .col_expr(consents::Column::WithdrawnAt, Expr::value(at))
        .col_expr(consents::Column::WithdrawalReason, Expr::value(reason))
        .col_expr(
            consents::Column::RowVersion,
            Expr::col(consents::Column::RowVersion).add(1),
        )
        .filter(consents::Column::Id.eq(id))
        .filter(consents::Column::WithdrawnAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn insert_break_glass<C: ConnectionTrait>(c: &C, row: BreakGlassRow) -> R<()> {
    break_glass_grants::Entity::insert(break_glass_grants::ActiveModel {
        id: Set(row.id),
        care_plan_id: Set(row.care_plan_id),
        region: Set(row.region),
        practitioner_id: Set(row.practitioner_id),
        organization_id: Set(row.organization_id),
        reason: Set(row.reason),
        granted_at: Set(row.granted_at),
        expires_at: Set(row.expires_at),
        reviewed_at: Set(row.reviewed_at),
        reviewed_by: Set(row.reviewed_by),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Whether the practitioner holds an unexpired grant on the plan.
pub async fn has_break_glass<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    plan: Uuid,
    now: DateTime<Utc>,
) -> R<bool> {
    Ok(break_glass_grants::Entity::find()
        .filter(break_glass_grants::Column::PractitionerId.eq(practitioner))
        .filter(break_glass_grants::Column::CarePlanId.eq(plan))
        .filter(break_glass_grants::Column::ExpiresAt.gt(now))
        .one(c)
        .await?
        .is_some())
}

/// Plans the practitioner may currently read through break-glass.
pub async fn break_glass_plans<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    now: DateTime<Utc>,
) -> R<Vec<Uuid>> {
    Ok(break_glass_grants::Entity::find()
        .filter(break_glass_grants::Column::PractitionerId.eq(practitioner))
        .filter(break_glass_grants::Column::ExpiresAt.gt(now))
        .all(c)
        .await?
        .into_iter()
        .map(|g| g.care_plan_id)
        .collect())
}

pub async fn list_break_glass<C: ConnectionTrait>(c: &C, limit: u64) -> R<Vec<BreakGlassRow>> {
    Ok(break_glass_grants::Entity::find()
        .order_by_desc(break_glass_grants::Column::GrantedAt)
        .limit(limit)
        .all(c)
        .await?)
}

pub async fn review_break_glass<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    reviewer: Uuid,
    at: DateTime<Utc>,
) -> R<bool> {
    let res = break_glass_grants::Entity::update_many()
        .col_expr(break_glass_grants::Column::ReviewedAt, Expr::value(at))
        .col_expr(
            break_glass_grants::Column::ReviewedBy,
            Expr::value(reviewer),
        )
        .filter(break_glass_grants::Column::Id.eq(id))
        .filter(break_glass_grants::Column::ReviewedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Plans planned by `org`.
pub async fn plans_of_planner<C: ConnectionTrait>(
    c: &C,
    org: Uuid,
) -> R<Vec<crate::queries::CarePlanRow>> {
    Ok(care_plans::Entity::find()
        .filter(care_plans::Column::PlannerOrganizationId.eq(org))
        .order_by_asc(care_plans::Column::CreatedAt)
        .all(c)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub patient: Option<Uuid>,
    pub practitioner: Option<Uuid>,
    pub organization: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only events recorded before the one with this insertion number (paging
    /// backwards from the newest).
    pub before_seq: Option<i64>,
    /// Only these actions (any when empty).
    pub actions: Vec<String>,
    /// Only this outcome (`allowed` / `denied`).
    pub outcome: Option<String>,
}

/// Audit events matching the filter, newest first.
pub async fn audit_events<C: ConnectionTrait>(
    c: &C,
    f: &AuditFilter,
    limit: u64,
) -> R<Vec<AuditEventRow>> {
    let mut q = audit_events::Entity::find();
    if let Some(p) = f.patient {
        q = q.filter(audit_events::Column::PatientId.eq(p));
    }
    if let Some(p) = f.practitioner {
        q = q.filter(audit_events::Column::PractitionerId.eq(p));
    }
    if let Some(o) = f.organization {
        q = q.filter(audit_events::Column::OrganizationId.eq(o));
    }
    if let Some(t) = f.from {
        q = q.filter(audit_events::Column::At.gte(t));
    }
    if let Some(t) = f.to {
        q = q.filter(audit_events::Column::At.lt(t));
    }
    if let Some(s) = f.before_seq {
        q = q.filter(audit_events::Column::LocalId.lt(s));
    }
    if !f.actions.is_empty() {
        q = q.filter(audit_events::Column::Action.is_in(f.actions.iter().cloned()));
    }
    if let Some(o) = &f.outcome {
        q = q.filter(audit_events::Column::Outcome.eq(o.as_str()));
    }
    Ok(q.order_by_desc(audit_events::Column::LocalId)
        .limit(limit)
        .all(c)
        .await?)
}

/// The select list of every column of `E` read from `alias`, each named `{prefix}{column}`
/// so [`sea_orm::FromQueryResult`] can read the model back with that prefix.
pub(crate) fn prefixed_columns<E: EntityTrait>(alias: &str, prefix: &str) -> String {
    use sea_orm::{IdenStatic, Iterable};
    let mut out = String::new();
    for col in E::Column::iter() {
        if !out.is_empty() {
            out.push_str(", ");
        }
        let name = col.as_str();
        out.push_str(&format!("{alias}.\"{name}\" AS \"{prefix}{name}\""));
    }
    out
}

/// What an access decision on one plan reads besides the plan row, and the caller's
/// earlier use of an idempotency key when one was named.
#[derive(Debug, Clone, Default)]
pub struct AccessRows {
    /// The care team, in the order members were added.
    pub team: Vec<TeamMemberRow>,
    /// The consents, in the order they were recorded.
    pub consents: Vec<ConsentRow>,
    /// Whether the practitioner holds an unexpired break-glass grant on the plan.
    pub break_glass: bool,
    /// The practitioner's stored use of the idempotency key.
    pub idempotency: Option<crate::queries::IdempotencyRow>,
}

/// The care team and consents of `plan`, whether `practitioner` holds a break-glass
/// grant on it unexpired at `now`, and (with `key`) the practitioner's stored use of that
/// idempotency key: one statement, a `UNION ALL` whose branches each fill their own
/// columns (the other tables are joined as empty derived tables, so every column keeps
/// its type).
pub async fn access_rows<C: ConnectionTrait>(
    c: &C,
    plan: Uuid,
    practitioner: Uuid,
    now: DateTime<Utc>,
    key: Option<&str>,
) -> R<AccessRows> {
    use sea_orm::FromQueryResult;

    let statement = access_rows_statement(c.get_database_backend(), plan, practitioner, now, key);
    let rows = c.query_all_raw(statement).await?;
    let mut out = AccessRows::default();
    for row in rows {
        let kind: String = row.try_get("", "k")?;
        match kind.as_str() {
            "t" => out.team.push(TeamMemberRow::from_query_result(&row, "t_")?),
            "c" => out
                .consents
                .push(ConsentRow::from_query_result(&row, "c_")?),
            "b" => out.break_glass = true,
            _ => {
                out.idempotency = Some(crate::queries::IdempotencyRow::from_query_result(
                    &row, "i_",
                )?)
            }
        }
    }
    Ok(out)
}

/// The statement [`access_rows`] runs.
pub(crate) fn access_rows_statement(
    backend: sea_orm::DbBackend,
    plan: Uuid,
    practitioner: Uuid,
    now: DateTime<Utc>,
    key: Option<&str>,
) -> sea_orm::Statement {
    use sea_orm::{Statement, Value};
    use std::sync::LazyLock;

    use crate::entity::idempotency_keys;

    const TABLES: [(&str, &str); 3] = [
        ("care_team_members", "t"),
        ("consents", "c"),
        ("idempotency_keys", "i"),
    ];
    static COLUMNS: LazyLock<String> = LazyLock::new(|| {
        [
            prefixed_columns::<care_team_members::Entity>("t", "t_"),
            prefixed_columns::<consents::Entity>("c", "c_"),
            prefixed_columns::<idempotency_keys::Entity>("i", "i_"),
        ]
        .join(", ")
    });
    fn branch(kind: &str, order: &str, from: &str, alias: &str, filter: &str) -> String {
        let mut sql = format!(
            "SELECT '{kind}' AS k, {order} AS o, {} FROM {from} {alias}",
            *COLUMNS
        );
        for (table, other) in TABLES {
            if other != alias {
                // An empty derived table, not the table itself: SQLite does not see that
                // `ON 1 = 0` matches nothing and scans the joined table once per row of
                // the branch (every consent of the region for each team member).
                sql.push_str(&format!(
                    " LEFT JOIN (SELECT * FROM {table} LIMIT 0) {other} ON 1 = 0"
                ));
            }
        }
        sql.push_str(" WHERE ");
        sql.push_str(filter);
        sql
    }
    static WITHOUT_KEY: LazyLock<String> = LazyLock::new(|| {
        [
            branch(
                "t",
                "t.added_at",
                "care_team_members",
                "t",
                "t.care_plan_id = $1",
            ),
            branch("c", "c.recorded_at", "consents", "c", "c.care_plan_id = $1"),
            branch(
                "b",
                "NULL",
                "break_glass_grants",
                "g",
                "g.practitioner_id = $2 AND g.care_plan_id = $1 AND g.expires_at > $3",
            ),
        ]
        .join(" UNION ALL ")
    });
    static WITH_KEY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{} UNION ALL {} ORDER BY k, o",
            *WITHOUT_KEY,
            branch(
                "i",
                "NULL",
                "idempotency_keys",
                "i",
                "i.practitioner_id = $2 AND i.\"key\" = $4",
            )
        )
    });
    static PLAIN: LazyLock<String> = LazyLock::new(|| format!("{} ORDER BY k, o", *WITHOUT_KEY));

    let mut values: Vec<Value> = vec![plan.into(), practitioner.into(), now.into()];
    let sql = match key {
        Some(key) => {
            values.push(key.into());
            WITH_KEY.as_str()
        }
        None => PLAIN.as_str(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Ends a care-team member's access: its last day, the moment access stops, who ended
/// it, when and why. Only a member whose access has not stopped by `ended_at` changes;
/// returns whether it did.
pub async fn end_team_member<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    last_day: &str,
    access_ends_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    ended_by: Uuid,
    reason: &str,
) -> R<bool> {
    let res = care_team_members::Entity::update_many()
        .col_expr(
            care_team_members::Column::AccessEndsOn,
            Expr::value(last_day.to_owned()),
        )
        .col_expr(
            care_team_members::Column::AccessEndsAt,
            Expr::value(access_ends_at),
        )
        .col_expr(care_team_members::Column::EndedAt, Expr::value(ended_at))
        .col_expr(care_team_members::Column::EndedBy, Expr::value(ended_by))
        .col_expr(
            care_team_members::Column::EndReason,
            Expr::value(reason.to_owned()),
        )
        .filter(care_team_members::Column::Id.eq(id))
        .filter(
            sea_orm::Condition::any()
                .add(care_team_members::Column::AccessEndsAt.is_null())
                .add(care_team_members::Column::AccessEndsAt.gt(ended_at)),
        )
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The `stage_end` entries of plans: plan, stage and the moment each took effect, by
/// plan and then in chain order.
pub async fn stage_ends_of<C: ConnectionTrait>(
    c: &C,
    plans: &[Uuid],
) -> R<Vec<(Uuid, String, DateTime<Utc>)>> {
    use crate::entity::entries;
    Ok(entries::Entity::find()
        .select_only()
        .column(entries::Column::CarePlanId)
        .column(entries::Column::Stage)
        .column(entries::Column::EffectiveAt)
        .filter(entries::Column::CarePlanId.is_in(plans.iter().copied()))
        .filter(entries::Column::Kind.eq("stage_end"))
        .order_by_asc(entries::Column::CarePlanId)
        .order_by_asc(entries::Column::Seq)
        .into_tuple()
        .all(c)
        .await?)
}

/// Puts an organisation whose access ended back on the team (its same row): a new role,
/// stages, added time and adder, and no end. The audit log keeps the earlier end.
pub async fn reinstate_team_member<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    role: &str,
    stages: &str,
    added_at: DateTime<Utc>,
    added_by: Uuid,
) -> R<()> {
    care_team_members::Entity::update_many()
        .col_expr(
            care_team_members::Column::Role,
            Expr::value(role.to_owned()),
        )
        .col_expr(
            care_team_members::Column::Stages,
            Expr::value(stages.to_owned()),
        )
        .col_expr(care_team_members::Column::AddedAt, Expr::value(added_at))
        .col_expr(care_team_members::Column::AddedBy, Expr::value(added_by))
        .col_expr(
            care_team_members::Column::AccessEndsOn,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            care_team_members::Column::AccessEndsAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            care_team_members::Column::EndedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            care_team_members::Column::EndedBy,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            care_team_members::Column::EndReason,
            Expr::value(Option::<String>::None),
        )
        .filter(care_team_members::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}
