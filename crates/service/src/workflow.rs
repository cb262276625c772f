//! The "連携" of the care pathway: the facility directory (手挙げ), hand-overs with
//! optimistic concurrency, reports back to the planning hospital, cyclical schedules,
//! per-patient targets, plan lifecycle, automatic variances and per-organisation worklists.

use renkei_domain::Rule;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use renkei_domain::FieldError;
use renkei_domain::access::{Action, Profession};
use renkei_domain::entry::{EntryKind, PlanStatus};
use renkei_domain::goals::{EntryFacts, GoalState, GoalStatus, evaluate_goals};
use renkei_domain::handover::{HandoverEvent, HandoverState, report_due, transition};
use renkei_domain::schedule::{ScheduleState, ScheduleStatus, evaluate_schedule};
use renkei_domain::template::{GoalTarget, PathwayTemplate, ProviderKind};
use renkei_store::entity::{declarations, handovers, reports};
use renkei_store::queries::{self, CarePlanRow, EntryRow};
use renkei_store::queries_access as qa;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::access::{plan_access_at, subject};
use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::plans::{ChainFields, insert_chained, plan_state};
use crate::{Actor, ErrorCode, ServiceError, Services, begin_write};
use renkei_domain::evidence::EvidenceKind;

/// A read of a hand-over or report: its parties, its plan and how it is audited.
struct PartyRead {
    from: Uuid,
    to: Uuid,
    plan_id: Uuid,
    action: &'static str,
    resource: &'static str,
    /// What a refusal calls it (`hand-over not found`).
    missing: &'static str,
    id: Uuid,
}

/// Plans per page of the automatic-variance sweep.
const SWEEP_PAGE: u64 = 500;

/// Plans read per query by the worklist.
const WORKLIST_PAGE: usize = 500;

/// Rows grouped by the plan they belong to, each group in the rows' order.
fn by_plan<T>(rows: Vec<T>, plan: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    for r in rows {
        out.entry(plan(&r)).or_default().push(r);
    }
    out
}

/// Author of automatic entries (created by migration 4; disabled, cannot log in).
/// Items per worklist a caller may ask for (default 50).
pub const WORKLIST_LIMIT: std::ops::RangeInclusive<usize> = 1..=500;
/// Days without an entry after which an active plan counts as a dropout (治療中断);
/// default 90.
pub const DROPOUT_DAYS: std::ops::RangeInclusive<i64> = 1..=3650;

pub const SYSTEM_PRACTITIONER_ID: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000002);
pub const SYSTEM_ORGANIZATION_ID: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000001);

/// Rule code of a hand-over refused because the patient's consent does not cover the
/// receiving organisation.
pub const CONSENT_NOT_COVERING: Rule = Rule::ConsentNotCovering;
const CONSENT_NOT_COVERING_JA: &str = "患者の同意の共有範囲にこの紹介先施設が含まれていません。\
     先に紹介先を含む同意(ケアチーム全体、または紹介先を指定)を記録してください。";

fn conflict(message: impl Into<String>) -> ServiceError {
    ServiceError::Conflict {
        code: ErrorCode::InvalidTransition,
        message: message.into(),
    }
}

/// Which provider kinds an organisation kind fills.
pub fn provider_kinds_of(org_kind: &str) -> &'static [ProviderKind] {
    match org_kind {
        "acute_hospital" => &[ProviderKind::AcuteHosp, ProviderKind::Specialist],
        "recovery_hospital" => &[ProviderKind::RecoveryHosp],
        "clinic" => &[
            ProviderKind::Clinic,
            ProviderKind::Ophthal,
            ProviderKind::Dentist,
        ],
        "home_nursing" => &[ProviderKind::VisitNurse],
        "care_management" => &[ProviderKind::CareManager, ProviderKind::CareFacility],
        "pharmacy" => &[ProviderKind::Pharmacy],
        _ => &[],
    }
}

// ------------------------------------------------------------------ views

#[derive(Debug, Clone, Serialize)]
pub struct Declaration {
    pub id: Uuid,
    pub organization: String,
    pub pathway: String,
    pub stages: Vec<String>,
    pub note: String,
    pub declared_at: DateTime<Utc>,
    pub superseded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DirectoryEntry {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub area: String,
    pub pathway: String,
    pub stages: Vec<String>,
    pub note: String,
    pub declared_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Handover {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub from_organization: String,
    pub to_organization: String,
    pub from_stage: String,
    pub stage: String,
    pub state: String,
    pub note: Option<String>,
    pub summary: Value,
    pub decline_reason: Option<String>,
    /// The ETag: send it back as If-Match to change the hand-over.
    pub version: i32,
    pub proposed_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub stage: String,
    pub from_organization: String,
    pub to_organization: String,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub content: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkItem {
    pub care_plan_id: Uuid,
    pub patient_id: Uuid,
    pub pathway: String,
    /// What the item is about (a hand-over id, report id, goal or schedule code …).
    pub subject: String,
    pub state: String,
    pub due: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkList {
    pub count: usize,
    pub items: Vec<WorkItem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Worklist {
    pub as_of: DateTime<Utc>,
    pub handovers_incoming: WorkList,
    pub handovers_outgoing: WorkList,
    pub reports_owed: WorkList,
    pub reports_owed_to_me: WorkList,
    pub schedule_due: WorkList,
    pub goals_overdue: WorkList,
    pub consent_missing: WorkList,
    pub dropouts: WorkList,
}

async fn org_code<C: ConnectionTrait>(c: &C, id: Uuid) -> Result<String, ServiceError> {
    Ok(queries::organization_by_id(c, id)
        .await?
        .map(|o| o.code)
        .unwrap_or_default())
}

async fn handover_view<C: ConnectionTrait>(
    c: &C,
    h: handovers::Model,
) -> Result<Handover, ServiceError> {
    Ok(Handover {
        id: h.id,
        care_plan_id: h.care_plan_id,
        from_organization: org_code(c, h.from_organization_id).await?,
        to_organization: org_code(c, h.to_organization_id).await?,
        from_stage: h.from_stage,
        stage: h.stage,
        state: h.state,
        note: h.note,
        summary: serde_json::from_str(&h.summary).unwrap_or(Value::Null),
        decline_reason: h.decline_reason,
        version: h.row_version,
        proposed_at: h.proposed_at,
        answered_at: h.answered_at,
        completed_at: h.completed_at,
    })
}

async fn report_view<C: ConnectionTrait>(
    c: &C,
    r: reports::Model,
    now: DateTime<Utc>,
) -> Result<Report, ServiceError> {
    Ok(Report {
        id: r.id,
        care_plan_id: r.care_plan_id,
        stage: r.stage,
        from_organization: org_code(c, r.from_organization_id).await?,
        to_organization: org_code(c, r.to_organization_id).await?,
        due_at: r.due_at,
        overdue: r.sent_at.is_none() && now > r.due_at,
        sent_at: r.sent_at,
        content: serde_json::from_str(&r.content).unwrap_or(Value::Null),
    })
}

/// Entries as goal/schedule facts (clinical kinds only) and the per-patient overrides.
pub(crate) struct PlanFacts {
    pub facts: Vec<EntryFacts>,
    pub goal_targets: Vec<(String, GoalTarget, DateTime<Utc>)>,
    pub intervals: Vec<(String, u32, DateTime<Utc>)>,
}

pub(crate) fn plan_facts(rows: &[EntryRow]) -> PlanFacts {
    let mut out = PlanFacts {
        facts: Vec::new(),
        goal_targets: Vec::new(),
        intervals: Vec::new(),
    };
    for row in rows {
        let Some(kind) = EntryKind::parse(&row.kind) else {
            continue;
        };
        let values: Map<String, Value> = serde_json::from_str(&row.values_json).unwrap_or_default();
        if kind == EntryKind::Individualize {
            if let (Some(goal), Some(target)) = (values.get("goal"), values.get("target"))
                && let (Some(goal), Ok(target)) = (
                    goal.as_str(),
                    serde_json::from_value::<GoalTarget>(target.clone()),
                )
            {
                out.goal_targets
                    .push((goal.to_owned(), target, row.effective_at));
            }
            if let (Some(rule), Some(days)) = (values.get("schedule"), values.get("interval_days"))
                && let (Some(rule), Some(days)) = (rule.as_str(), days.as_u64())
            {
                out.intervals
                    .push((rule.to_owned(), days as u32, row.effective_at));
            }
            continue;
        }
        if !kind.is_clinical() {
            continue;
        }
        out.facts.push(EntryFacts {
            id: row.id,
            seq: row.seq,
            stage: row.stage.clone(),
            kind,
            effective_at: row.effective_at,
            recorded_at: row.recorded_at,
            values,
            amends: row.amends,
        });
    }
    out
}

impl PlanFacts {
    /// The template with this patient's individual goal targets as of `as_of`.
    pub fn individual_template(
        &self,
        t: &PathwayTemplate,
        as_of: DateTime<Utc>,
    ) -> PathwayTemplate {
        let mut t = t.clone();
        for (goal, target, at) in &self.goal_targets {
            if *at <= as_of
                && let Some(g) = t.goals.iter_mut().find(|g| &g.code == goal)
            {
                g.target = target.clone();
            }
        }
        t
    }

    pub fn intervals(&self, as_of: DateTime<Utc>) -> HashMap<String, u32> {
        self.intervals
            .iter()
            .filter(|(_, _, at)| *at <= as_of)
            .map(|(k, v, _)| (k.clone(), *v))
            .collect()
    }
}

/// The FIM / Barthel numbers, length of stay and destination of a stage, for the
/// referral summary and the report back.
fn stage_outcome(facts: &[EntryFacts], stage: &str) -> Value {
    let in_stage: Vec<&EntryFacts> = facts.iter().filter(|e| e.stage == stage).collect();
    let first = |item: &str| {
        in_stage
            .iter()
            .find_map(|e| e.values.get(item).and_then(Value::as_f64))
    };
    let last = |item: &str| {
        in_stage
            .iter()
            .rev()
            .find_map(|e| e.values.get(item).and_then(Value::as_f64))
    };
    let start = in_stage
        .iter()
        .find(|e| e.kind == EntryKind::StageStart)
        .map(|e| e.effective_at);
    let end = in_stage
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::StageEnd)
        .map(|e| e.effective_at);
    let mut out = Map::new();
    out.insert("stage".into(), json!(stage));
    if let (Some(s), Some(e)) = (start, end) {
        out.insert("length_of_stay_days".into(), json!((e - s).num_days()));
    }
    for item in ["fim_total", "fim_motor", "barthel_total"] {
        if let (Some(a), Some(b)) = (first(item), last(item)) {
            out.insert(format!("{item}_admission"), json!(a));
            out.insert(format!("{item}_discharge"), json!(b));
            out.insert(format!("{item}_gain"), json!(b - a));
        }
    }
    if let Some(d) = in_stage
        .iter()
        .rev()
        .find_map(|e| e.values.get("destination").cloned())
    {
        out.insert("destination".into(), d);
    }
    Value::Object(out)
}

impl Services {
    // ------------------------------------------------------------ directory

    /// Declares which stages of a pathway an organisation takes (手挙げ). The previous
    /// declaration for the same pathway is kept, marked superseded.
    pub async fn declare(
        &self,
        actor: &Actor,
        organization_code: &str,
        pathway: &str,
        stages: Vec<String>,
        note: &str,
    ) -> Result<Declaration, ServiceError> {
        let txn = begin_write(&self.db).await?;
        let org = queries::organization_by_code(&txn, organization_code)
            .await?
            .ok_or(ServiceError::NotFound("organization"))?;
        let allowed = org.id == actor.organization_id
            && (actor.has_role("org_admin")
                || actor.profession == Profession::LiaisonStaff.as_str());
        if !allowed && !actor.has_role("regional_admin") {
            return Err(ServiceError::Forbidden);
        }
        let Some(published) = self.pathways.latest(pathway) else {
            return Err(ServiceError::field(
                "pathway",
                Rule::Unknown,
                format!("no pathway `{pathway}` is published"),
            ));
        };
        let mut errors = Vec::new();
        if stages.is_empty() {
            errors.push(FieldError::new(
                "stages",
                Rule::Required,
                "name at least one stage",
            ));
        }
        for (i, s) in stages.iter().enumerate() {
            if published.template.stage(s).is_none() {
                errors.push(FieldError::new(
                    format!("stages[{i}]"),
                    Rule::UnknownStage,
                    format!("`{pathway}` has no stage `{s}`"),
                ));
            }
        }
        if note.chars().count() > 2000 {
            errors.push(FieldError::new(
                "note",
                Rule::TooLong,
                "must be at most 2000 characters",
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let now = self.now();
        declarations::Entity::update_many()
            .col_expr(declarations::Column::SupersededAt, Expr::value(now))
            .filter(declarations::Column::OrganizationId.eq(org.id))
            .filter(declarations::Column::Pathway.eq(pathway))
            .filter(declarations::Column::SupersededAt.is_null())
            .exec(&txn)
            .await?;
        let row = declarations::Model {
            id: Uuid::now_v7(),
            organization_id: org.id,
            pathway: pathway.to_owned(),
            stages: serde_json::to_string(&stages).unwrap_or_else(|_| "[]".into()),
            note: note.trim().to_owned(),
            declared_at: now,
            declared_by: actor.practitioner_id,
            superseded_at: None,
        };
        declarations::Entity::insert(declarations::ActiveModel {
            id: Set(row.id),
            organization_id: Set(row.organization_id),
            pathway: Set(row.pathway.clone()),
            stages: Set(row.stages.clone()),
            note: Set(row.note.clone()),
            declared_at: Set(row.declared_at),
            declared_by: Set(row.declared_by),
            superseded_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(Declaration {
            id: row.id,
            organization: org.code,
            pathway: row.pathway,
            stages,
            note: row.note,
            declared_at: row.declared_at,
            superseded_at: None,
        })
    }

    /// The declaration history of an organisation, newest first.
    pub async fn declarations(
        &self,
        organization_code: &str,
    ) -> Result<Vec<Declaration>, ServiceError> {
        let org = queries::organization_by_code(&self.db, organization_code)
            .await?
            .ok_or(ServiceError::NotFound("organization"))?;
        let rows = declarations::Entity::find()
            .filter(declarations::Column::OrganizationId.eq(org.id))
            .order_by_desc(declarations::Column::DeclaredAt)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| Declaration {
                id: r.id,
                organization: org.code.clone(),
                pathway: r.pathway,
                stages: serde_json::from_str(&r.stages).unwrap_or_default(),
                note: r.note,
                declared_at: r.declared_at,
                superseded_at: r.superseded_at,
            })
            .collect())
    }

    /// Organisations whose current declaration takes `pathway` (and `stage`, in `area`).
    pub async fn directory(
        &self,
        pathway: Option<&str>,
        stage: Option<&str>,
        area: Option<&str>,
    ) -> Result<Vec<DirectoryEntry>, ServiceError> {
        let mut q =
            declarations::Entity::find().filter(declarations::Column::SupersededAt.is_null());
        if let Some(p) = pathway {
            q = q.filter(declarations::Column::Pathway.eq(p));
        }
        let rows = q
            .order_by_asc(declarations::Column::DeclaredAt)
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let stages: Vec<String> = serde_json::from_str(&r.stages).unwrap_or_default();
            if stage.is_some_and(|s| !stages.iter().any(|x| x == s)) {
                continue;
            }
            let Some(org) = queries::organization_by_id(&self.db, r.organization_id).await? else {
                continue;
            };
            if area.is_some_and(|a| org.area != a) {
                continue;
            }
            out.push(DirectoryEntry {
                code: org.code,
                name: org.name,
                kind: org.kind,
                area: org.area,
                pathway: r.pathway,
                stages,
                note: r.note,
                declared_at: r.declared_at,
            });
        }
        out.sort_by(|a, b| (&a.area, &a.code).cmp(&(&b.area, &b.code)));
        Ok(out)
    }

    // ------------------------------------------------------------ hand-overs

    /// Proposes handing the plan over to `to_org` for `stage` (the current stage's owner).
    pub async fn propose_handover(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        to_org: &str,
        stage: &str,
        note: Option<String>,
    ) -> Result<Handover, ServiceError> {
        let now = self.now();
        let txn = begin_write(&self.db).await?;
        if !queries::lock_care_plan(&txn, plan_id, now).await? {
            txn.rollback().await?;
            return Err(self
                .deny(
                    actor,
                    meta,
                    crate::access::Denial {
                        action: "handover.propose",
                        plan_id,
                        patient_id: None,
                        hidden: true,
                        why: "no such care plan",
                    },
                )
                .await);
        }
        let current = queries::care_plan_by_id(&txn, plan_id)
            .await?
            .map(|p| p.current_stage)
            .unwrap_or_default();
        let (plan, access) = match self
            .check_plan(
                &txn,
                actor,
                plan_id,
                Action::ProposeHandover {
                    current_stage: &current,
                },
            )
            .await?
        {
            Ok(v) => v,
            Err(d) => {
                txn.rollback().await?;
                return Err(self.deny(actor, meta, d).await);
            }
        };
        if plan.status != PlanStatus::Active.as_str() {
            return Err(ServiceError::Conflict {
                code: ErrorCode::PlanNotActive,
                message: "the care plan is not active".into(),
            });
        }
        let template = self.pathway_of_plan(&plan)?.template.clone();
        let mut errors = Vec::new();
        if !template
            .next_stages(&plan.current_stage)
            .iter()
            .any(|s| s == stage)
        {
            errors.push(FieldError::new(
                "stage",
                Rule::NotNext,
                format!(
                    "`{stage}` does not follow the current stage `{}` (next: {})",
                    plan.current_stage,
                    template.next_stages(&plan.current_stage).join(", ")
                ),
            ));
        }
        let to = queries::organization_by_code(&txn, to_org).await?;
        match &to {
            None => errors.push(FieldError::new(
                "to_organization",
                Rule::Unknown,
                format!("organization `{to_org}` does not exist"),
            )),
            Some(o) if o.id == actor.organization_id => errors.push(FieldError::new(
                "to_organization",
                Rule::ToSelf,
                "a hand-over goes to another organization",
            )),
            Some(o) if !access.may_receive(o.id) => errors.push(FieldError::new(
                "to_organization",
                CONSENT_NOT_COVERING,
                CONSENT_NOT_COVERING_JA,
            )),
            _ => {}
        }
        if let Some(n) = &note
            && n.chars().count() > 10_000
        {
            errors.push(FieldError::new(
                "note",
                Rule::TooLong,
                "must be at most 10000 characters",
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let Some(to) = to else {
            return Err(ServiceError::Validation(errors));
        };
        let open = handovers::Entity::find()
            .filter(handovers::Column::CarePlanId.eq(plan_id))
            .all(&txn)
            .await?
            .into_iter()
            .any(|h| HandoverState::parse(&h.state).is_some_and(HandoverState::is_open));
        if open {
            return Err(conflict("this care plan already has an open hand-over"));
        }
        // The referral summary, generated from the plan.
        let rows = queries::entries_of(&txn, plan_id).await?;
        let pf = plan_facts(&rows);
        let goals = evaluate_goals(
            &pf.individual_template(&template, now),
            plan.started_at,
            &pf.facts,
            now,
        );
        let mut latest = Map::new();
        for e in pf.facts.iter() {
            for (k, v) in &e.values {
                latest.insert(
                    k.clone(),
                    json!({"value": v, "effective_at": e.effective_at, "stage": e.stage}),
                );
            }
        }
        let variances: Vec<Value> = rows
            .iter()
            .filter(|r| r.kind == EntryKind::Variance.as_str())
            .map(|r| json!({
                "entry_id": r.id,
                "stage": r.stage,
                "effective_at": r.effective_at,
                "variance": serde_json::from_str::<Value>(r.variance.as_deref().unwrap_or("null")).unwrap_or(Value::Null),
                "note": r.note,
            }))
            .collect();
        let summary = json!({
            "pathway": {"code": template.code, "version": template.version, "title_ja": template.title.ja},
            "from_stage": plan.current_stage,
            "stage": stage,
            "goals": goals.iter().map(|g| json!({
                "code": g.code, "title_ja": g.title.ja, "status": g.status,
                "latest": g.latest.as_ref().map(|l| &l.value), "due": g.due,
            })).collect::<Vec<_>>(),
            "latest_values": latest,
            "stage_outcome": stage_outcome(&pf.facts, &plan.current_stage),
            "variances": variances,
            "note": note,
        });
        let h = handovers::Model {
            id: Uuid::now_v7(),
            care_plan_id: plan_id,
            from_organization_id: actor.organization_id,
            to_organization_id: to.id,
            from_stage: plan.current_stage.clone(),
            stage: stage.to_owned(),
            state: HandoverState::Proposed.as_str().to_owned(),
            note: note.clone(),
            summary: renkei_domain::canonical::to_canonical_string(&summary),
            decline_reason: None,
            row_version: 1,
            proposed_by: actor.practitioner_id,
            proposed_at: now,
            answered_by: None,
            answered_at: None,
            completed_at: None,
            updated_at: now,
        };
        handovers::Entity::insert(handovers::ActiveModel {
            id: Set(h.id),
            care_plan_id: Set(h.care_plan_id),
            from_organization_id: Set(h.from_organization_id),
            to_organization_id: Set(h.to_organization_id),
            from_stage: Set(h.from_stage.clone()),
            stage: Set(h.stage.clone()),
            state: Set(h.state.clone()),
            note: Set(h.note.clone()),
            summary: Set(h.summary.clone()),
            decline_reason: Set(None),
            row_version: Set(1),
            proposed_by: Set(h.proposed_by),
            proposed_at: Set(h.proposed_at),
            answered_by: Set(None),
            answered_at: Set(None),
            completed_at: Set(None),
            updated_at: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        self.process_entry(&txn, actor, &plan, EntryKind::Handover, &plan.current_stage,
            json!({"handover_id": h.id.to_string(), "event": "proposed", "to_organization": to.code, "stage": stage}),
            note.clone()).await?;
        audit::record(
            &txn,
            self.now(),
            meta,
            AuditRecord::by(
                actor,
                "handover.propose",
                "handover",
                Some(h.id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(plan_id))
            .patient(Some(plan.patient_id))
            .wrote(EvidenceKind::CarePlan, plan_id),
        )
        .await?;
        let view = handover_view(&txn, h).await?;
        txn.commit().await?;
        Ok(view)
    }

    /// Appends a process entry (hand-over, report, lifecycle, individualisation) to the
    /// plan's chain without changing its stage state.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call per process entry kind; the fields are all distinct"
    )]
    pub(crate) async fn process_entry<C: ConnectionTrait>(
        &self,
        txn: &C,
        actor: &Actor,
        plan: &CarePlanRow,
        kind: EntryKind,
        stage: &str,
        values: Value,
        note: Option<String>,
    ) -> Result<EntryRow, ServiceError> {
        // Re-read: the plan's head may have moved earlier in this transaction.
        let plan = queries::care_plan_by_id(txn, plan.id)
            .await?
            .ok_or(ServiceError::NotFound("care plan"))?;
        let state = plan_state(&plan)?;
        let now = self.now();
        insert_chained(
            txn,
            &plan,
            ChainFields {
                author_id: actor.practitioner_id,
                organization_id: actor.organization_id,
                stage: stage.to_owned(),
                kind,
                effective_at: now,
                recorded_at: now,
                values,
                note,
                variance: None,
                amends: None,
                reason: None,
            },
            &state,
        )
        .await
    }

    /// Lets a hand-over's or report's sender or receiver read it (while they may read
    /// the plan as a party), or else whoever may read the plan; a refusal looks like a
    /// missing one. The read is audited.
    async fn authorize_party_read(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        read: PartyRead,
    ) -> Result<(), ServiceError> {
        let party = (read.from == actor.organization_id || read.to == actor.organization_id)
            && self.party_may_read(&self.db, actor, read.plan_id).await?;
        if !party {
            self.authorize_plan(actor, meta, read.plan_id, Action::ReadPlan)
                .await
                .map_err(crate::access::not_found_as(read.missing))?;
        }
        let plan = queries::care_plan_by_id(&self.db, read.plan_id).await?;
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                read.action,
                read.resource,
                Some(read.id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(read.plan_id))
            .patient(plan.map(|p| p.patient_id)),
        )
        .await
    }

    /// A hand-over, to its sender, its receiver, or whoever sees the plan.
    pub async fn get_handover(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<Handover, ServiceError> {
        let h = handovers::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(ServiceError::NotFound("hand-over"))?;
        self.authorize_party_read(
            actor,
            meta,
            PartyRead {
                from: h.from_organization_id,
                to: h.to_organization_id,
                plan_id: h.care_plan_id,
                action: "handover.read",
                resource: "handover",
                missing: "hand-over",
                id,
            },
        )
        .await?;
        handover_view(&self.db, h).await
    }

    pub async fn handovers_of_plan(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
    ) -> Result<Vec<Handover>, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        let rows = handovers::Entity::find()
            .filter(handovers::Column::CarePlanId.eq(plan_id))
            .order_by_asc(handovers::Column::ProposedAt)
            .all(&self.db)
            .await?;
        self.audit_read(actor, meta, "handover.list", &plan).await?;
        let mut out = Vec::new();
        for h in rows {
            out.push(handover_view(&self.db, h).await?);
        }
        Ok(out)
    }

    /// Accepts, declines or withdraws a hand-over. `if_match` must be the hand-over's
    /// current version (412 otherwise); moves the state machine refuses answer 409.
    pub async fn answer_handover(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
        event: HandoverEvent,
        if_match: Option<i32>,
        reason: Option<String>,
    ) -> Result<Handover, ServiceError> {
        let Some(expected) = if_match else {
            return Err(ServiceError::PreconditionRequired);
        };
        let now = self.now();
        let Some(h) = handovers::Entity::find_by_id(id).one(&self.db).await? else {
            return Err(ServiceError::NotFound("hand-over"));
        };
        let txn = begin_write(&self.db).await?;
        queries::lock_care_plan(&txn, h.care_plan_id, now).await?;
        let h = handovers::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(ServiceError::NotFound("hand-over"))?;
        let plan = queries::care_plan_by_id(&txn, h.care_plan_id)
            .await?
            .ok_or(ServiceError::NotFound("care plan"))?;
        let prof = subject(actor).profession;
        let may_answer = matches!(
            prof,
            Profession::Physician | Profession::Nurse | Profession::LiaisonStaff | Profession::Msw
        );
        let party = match event {
            HandoverEvent::Accept | HandoverEvent::Decline => {
                h.to_organization_id == actor.organization_id
            }
            HandoverEvent::Withdraw => h.from_organization_id == actor.organization_id,
            HandoverEvent::Complete => false,
        };
        let action = match event {
            HandoverEvent::Accept => "handover.accept",
            HandoverEvent::Decline => "handover.decline",
            HandoverEvent::Withdraw => "handover.withdraw",
            HandoverEvent::Complete => "handover.complete",
        };
        if !party || !may_answer {
            let is_party = h.to_organization_id == actor.organization_id
                || h.from_organization_id == actor.organization_id;
            txn.rollback().await?;
            audit::record_now(
                self,
                meta,
                AuditRecord::by(
                    actor,
                    action,
                    "handover",
                    Some(id.to_string()),
                    Outcome::Denied,
                )
                .plan(Some(h.care_plan_id))
                .patient(is_party.then_some(plan.patient_id)),
            )
            .await?;
            return Err(if is_party {
                ServiceError::Forbidden
            } else {
                ServiceError::NotFound("hand-over")
            });
        }
        // The receiver answers only while the consent still covers it: otherwise it no
        // longer sees the hand-over at all (as when reading it), and accepting would
        // make it owner of a plan it cannot open.
        if matches!(event, HandoverEvent::Accept | HandoverEvent::Decline)
            && !plan_access_at(&txn, actor, &plan, now)
                .await?
                .may_receive(actor.organization_id)
        {
            txn.rollback().await?;
            audit::record_now(
                self,
                meta,
                AuditRecord::by(
                    actor,
                    action,
                    "handover",
                    Some(id.to_string()),
                    Outcome::Denied,
                )
                .plan(Some(h.care_plan_id))
                .detail("consent does not cover the receiver"),
            )
            .await?;
            return Err(ServiceError::NotFound("hand-over"));
        }
        if h.row_version != expected {
            return Err(ServiceError::PreconditionFailed);
        }
        let from = HandoverState::parse(&h.state)
            .ok_or_else(|| anyhow::anyhow!("hand-over {id} has unknown state"))?;
        let to_state = transition(from, event).map_err(|e| conflict(e.to_string()))?;
        if event == HandoverEvent::Decline && reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(ServiceError::field(
                "reason",
                Rule::Required,
                "a declined hand-over needs a reason",
            ));
        }
        let updated = handovers::Entity::update_many()
            .col_expr(handovers::Column::State, Expr::value(to_state.as_str()))
            .col_expr(
                handovers::Column::RowVersion,
                Expr::col(handovers::Column::RowVersion).add(1),
            )
            .col_expr(handovers::Column::UpdatedAt, Expr::value(now))
            .col_expr(
                handovers::Column::AnsweredBy,
                Expr::value(Some(actor.practitioner_id)),
            )
            .col_expr(handovers::Column::AnsweredAt, Expr::value(Some(now)))
            .col_expr(
                handovers::Column::DeclineReason,
                Expr::value(if event == HandoverEvent::Decline {
                    reason.clone()
                } else {
                    None
                }),
            )
            .filter(handovers::Column::Id.eq(id))
            .filter(handovers::Column::RowVersion.eq(expected))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(ServiceError::PreconditionFailed);
        }
        let mut team_member = None;
        if event == HandoverEvent::Accept {
            // The receiver joins the care team as owner of the new stage.
            let team = qa::team_of(&txn, plan.id).await?;
            match team
                .iter()
                .find(|m| m.organization_id == actor.organization_id)
            {
                Some(m) => {
                    let mut stages: Vec<String> =
                        serde_json::from_str(&m.stages).unwrap_or_default();
                    if !stages.contains(&h.stage) {
                        stages.push(h.stage.clone());
                    }
                    renkei_store::entity::care_team_members::Entity::update_many()
                        .col_expr(
                            renkei_store::entity::care_team_members::Column::Stages,
                            Expr::value(serde_json::to_string(&stages).unwrap_or_default()),
                        )
                        .col_expr(
                            renkei_store::entity::care_team_members::Column::Role,
                            Expr::value(if m.role == "planner" {
                                "planner"
                            } else {
                                "stage_owner"
                            }),
                        )
                        .filter(renkei_store::entity::care_team_members::Column::Id.eq(m.id))
                        .exec(&txn)
                        .await?;
                    team_member = Some(m.id);
                }
                None => {
                    let id = Uuid::now_v7();
                    team_member = Some(id);
                    qa::insert_team_member(
                        &txn,
                        qa::TeamMemberRow {
                            id,
                            care_plan_id: plan.id,
                            organization_id: actor.organization_id,
                            role: "stage_owner".into(),
                            stages: serde_json::to_string(&[&h.stage]).unwrap_or_default(),
                            added_at: now,
                            added_by: Some(actor.practitioner_id),
                        },
                    )
                    .await?;
                }
            }
        }
        let entry_stage = plan.current_stage.clone();
        self.process_entry(
            &txn,
            actor,
            &plan,
            EntryKind::Handover,
            &entry_stage,
            json!({"handover_id": id.to_string(), "event": to_state.as_str(), "stage": h.stage}),
            reason.clone(),
        )
        .await?;
        let mut record = AuditRecord::by(
            actor,
            action,
            "handover",
            Some(id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan.id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::CarePlan, plan.id);
        if let Some(member) = team_member {
            record = record.wrote(EvidenceKind::CareTeamMember, member);
        }
        audit::record(&txn, self.now(), meta, record).await?;
        let h = handovers::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(ServiceError::NotFound("hand-over"))?;
        let view = handover_view(&txn, h).await?;
        txn.commit().await?;
        Ok(view)
    }

    /// Called inside the append transaction after a stage event: completes an accepted
    /// hand-over when its receiver starts the stage, and makes a report back due when a
    /// stage run by another organisation than the planner ends.
    pub(crate) async fn after_stage_event<C: ConnectionTrait>(
        &self,
        txn: &C,
        actor: &Actor,
        plan: &CarePlanRow,
        template: &PathwayTemplate,
        row: &EntryRow,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        if row.kind == EntryKind::StageStart.as_str() {
            let accepted = handovers::Entity::find()
                .filter(handovers::Column::CarePlanId.eq(plan.id))
                .filter(handovers::Column::State.eq(HandoverState::Accepted.as_str()))
                .filter(handovers::Column::Stage.eq(row.stage.clone()))
                .filter(handovers::Column::ToOrganizationId.eq(actor.organization_id))
                .all(txn)
                .await?;
            for h in accepted {
                handovers::Entity::update_many()
                    .col_expr(
                        handovers::Column::State,
                        Expr::value(HandoverState::Completed.as_str()),
                    )
                    .col_expr(
                        handovers::Column::RowVersion,
                        Expr::col(handovers::Column::RowVersion).add(1),
                    )
                    .col_expr(handovers::Column::CompletedAt, Expr::value(Some(now)))
                    .col_expr(handovers::Column::UpdatedAt, Expr::value(now))
                    .filter(handovers::Column::Id.eq(h.id))
                    .exec(txn)
                    .await?;
                // Every transition is an entry in the chain, completion included.
                self.process_entry(
                    txn,
                    actor,
                    plan,
                    EntryKind::Handover,
                    &row.stage,
                    json!({"handover_id": h.id.to_string(), "event": HandoverState::Completed.as_str(), "stage": h.stage}),
                    None,
                )
                .await?;
            }
        }
        if row.kind == EntryKind::StageEnd.as_str()
            && actor.organization_id != plan.planner_organization_id
        {
            let rows = queries::entries_of(txn, plan.id).await?;
            let pf = plan_facts(&rows);
            let content = stage_outcome(&pf.facts, &row.stage);
            reports::Entity::insert(reports::ActiveModel {
                id: Set(Uuid::now_v7()),
                care_plan_id: Set(plan.id),
                stage: Set(row.stage.clone()),
                from_organization_id: Set(actor.organization_id),
                to_organization_id: Set(plan.planner_organization_id),
                due_at: Set(report_due(row.effective_at, template.report_due_days)),
                sent_at: Set(None),
                sent_by: Set(None),
                content: Set(renkei_domain::canonical::to_canonical_string(&content)),
                stage_end_entry_id: Set(row.id),
                created_at: Set(now),
            })
            .exec_without_returning(txn)
            .await?;
        }
        Ok(())
    }

    // ------------------------------------------------------------ reports back

    pub async fn get_report(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<Report, ServiceError> {
        let r = reports::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(ServiceError::NotFound("report"))?;
        self.authorize_party_read(
            actor,
            meta,
            PartyRead {
                from: r.from_organization_id,
                to: r.to_organization_id,
                plan_id: r.care_plan_id,
                action: "report.read",
                resource: "report",
                missing: "report",
                id,
            },
        )
        .await?;
        report_view(&self.db, r, self.now()).await
    }

    /// Sends the report back (返書) to the planning organisation.
    pub async fn send_report(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
        note: Option<String>,
    ) -> Result<Report, ServiceError> {
        let now = self.now();
        let Some(r) = reports::Entity::find_by_id(id).one(&self.db).await? else {
            return Err(ServiceError::NotFound("report"));
        };
        let txn = begin_write(&self.db).await?;
        queries::lock_care_plan(&txn, r.care_plan_id, now).await?;
        let (plan, _) = match self
            .check_plan(
                &txn,
                actor,
                r.care_plan_id,
                Action::SendReport { stage: &r.stage },
            )
            .await?
        {
            Ok(v) => v,
            Err(d) => {
                txn.rollback().await?;
                return Err(crate::access::not_found_as("report")(
                    self.deny(actor, meta, d).await,
                ));
            }
        };
        if r.from_organization_id != actor.organization_id {
            txn.rollback().await?;
            return Err(ServiceError::Forbidden);
        }
        let r = reports::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(ServiceError::NotFound("report"))?;
        if r.sent_at.is_some() {
            return Err(conflict("this report was already sent"));
        }
        reports::Entity::update_many()
            .col_expr(reports::Column::SentAt, Expr::value(Some(now)))
            .col_expr(
                reports::Column::SentBy,
                Expr::value(Some(actor.practitioner_id)),
            )
            .filter(reports::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        let mut values: Value = serde_json::from_str(&r.content).unwrap_or(json!({}));
        if let Some(obj) = values.as_object_mut() {
            obj.insert("report_id".into(), json!(id.to_string()));
        }
        self.process_entry(
            &txn,
            actor,
            &plan,
            EntryKind::Report,
            &r.stage,
            values,
            note,
        )
        .await?;
        audit::record(
            &txn,
            self.now(),
            meta,
            AuditRecord::by(
                actor,
                "report.send",
                "report",
                Some(id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(plan.id))
            .patient(Some(plan.patient_id))
            .wrote(EvidenceKind::CarePlan, plan.id),
        )
        .await?;
        let r = reports::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(ServiceError::NotFound("report"))?;
        let view = report_view(&txn, r, now).await?;
        txn.commit().await?;
        Ok(view)
    }

    pub async fn reports_of_plan(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
    ) -> Result<Vec<Report>, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        let rows = reports::Entity::find()
            .filter(reports::Column::CarePlanId.eq(plan_id))
            .all(&self.db)
            .await?;
        self.audit_read(actor, meta, "report.list", &plan).await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(report_view(&self.db, r, self.now()).await?);
        }
        Ok(out)
    }

    // ------------------------------------------------------------ schedule, targets

    pub async fn schedule(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<ScheduleStatus>, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        self.audit_read(actor, meta, "schedule.read", &plan).await?;
        let template = &self.pathway_of_plan(&plan)?.template;
        let rows = queries::entries_of(&self.db, plan_id).await?;
        let pf = plan_facts(&rows);
        let as_of = as_of.unwrap_or_else(|| self.now());
        Ok(evaluate_schedule(
            template,
            plan.started_at,
            &pf.facts,
            &pf.intervals(as_of),
            as_of,
        ))
    }

    /// Sets a per-patient goal target or schedule interval, with its reason (e.g. the
    /// elderly HbA1c range, the eye-exam interval by retinopathy grade).
    pub async fn individualize(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        goal: Option<(String, Value)>,
        schedule: Option<(String, u32)>,
        reason: &str,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let txn = begin_write(&self.db).await?;
        queries::lock_care_plan(&txn, plan_id, now).await?;
        let (plan, _) = match self
            .check_plan(&txn, actor, plan_id, Action::Individualize)
            .await?
        {
            Ok(v) => v,
            Err(d) => {
                txn.rollback().await?;
                return Err(self.deny(actor, meta, d).await);
            }
        };
        let template = self.pathway_of_plan(&plan)?.template.clone();
        let mut errors = Vec::new();
        if reason.trim().is_empty() {
            errors.push(FieldError::new(
                "reason",
                Rule::Required,
                "state why this patient's target differs",
            ));
        }
        let values = match (&goal, &schedule) {
            (Some((code, target)), None) => {
                match template.goals.iter().find(|g| &g.code == code) {
                    None => errors.push(FieldError::new(
                        "goal",
                        Rule::UnknownGoal,
                        format!("no goal `{code}`"),
                    )),
                    Some(g) => match serde_json::from_value::<GoalTarget>(target.clone()) {
                        Err(e) => {
                            errors.push(FieldError::new("target", Rule::Format, e.to_string()))
                        }
                        // A value target may become a band and back (the elderly HbA1c
                        // range instead of `< 7.0`); every other kind keeps its kind.
                        Ok(t)
                            if std::mem::discriminant(&t) != std::mem::discriminant(&g.target)
                                && !(is_value_target(&t) && is_value_target(&g.target)) =>
                        {
                            errors.push(FieldError::new(
                                "target.kind",
                                Rule::SameKind,
                                "an individual target keeps the goal's kind",
                            ))
                        }
                        Ok(t) => {
                            let item_of = |t: &GoalTarget| match t {
                                GoalTarget::Threshold { item, .. }
                                | GoalTarget::Range { item, .. }
                                | GoalTarget::Membership { item, .. }
                                | GoalTarget::DoneWithin { item, .. } => Some(item.clone()),
                                _ => None,
                            };
                            if item_of(&t) != item_of(&g.target) {
                                errors.push(FieldError::new(
                                    "target.item",
                                    Rule::SameItem,
                                    "an individual target keeps the goal's item",
                                ));
                            }
                            if let GoalTarget::Range { min, max, .. } = t
                                && min >= max
                            {
                                errors.push(FieldError::new(
                                    "target.min",
                                    Rule::Range,
                                    "min must be below max",
                                ));
                            }
                        }
                    },
                }
                json!({"goal": code, "target": target})
            }
            (None, Some((code, days))) => {
                if !template.schedule.iter().any(|r| &r.code == code) {
                    errors.push(FieldError::new(
                        "schedule",
                        Rule::Unknown,
                        format!("no schedule rule `{code}`"),
                    ));
                }
                if *days == 0 {
                    errors.push(FieldError::new(
                        "interval_days",
                        Rule::Range,
                        "must be 1 or more",
                    ));
                }
                json!({"schedule": code, "interval_days": days})
            }
            _ => {
                errors.push(FieldError::new(
                    "goal",
                    Rule::Required,
                    "give either goal + target or schedule + interval_days",
                ));
                Value::Null
            }
        };
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let stage = plan.current_stage.clone();
        self.process_entry(
            &txn,
            actor,
            &plan,
            EntryKind::Individualize,
            &stage,
            values,
            Some(reason.trim().to_owned()),
        )
        .await?;
        audit::record(
            &txn,
            self.now(),
            meta,
            AuditRecord::by(
                actor,
                "care_plan.individualize",
                "care_plan",
                Some(plan_id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(plan_id))
            .patient(Some(plan.patient_id))
            .wrote(EvidenceKind::CarePlan, plan_id),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    // ------------------------------------------------------------ lifecycle

    /// Completes or withdraws a plan (planning organisation), guarded by If-Match on the
    /// plan's version when given.
    pub async fn end_plan(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        status: PlanStatus,
        reason: Option<String>,
        if_match: Option<i32>,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let txn = begin_write(&self.db).await?;
        queries::lock_care_plan(&txn, plan_id, now).await?;
        let (plan, _) = match self
            .check_plan(&txn, actor, plan_id, Action::Lifecycle)
            .await?
        {
            Ok(v) => v,
            Err(d) => {
                txn.rollback().await?;
                return Err(self.deny(actor, meta, d).await);
            }
        };
        if if_match.is_some_and(|v| v != plan.row_version) {
            return Err(ServiceError::PreconditionFailed);
        }
        if plan.status != PlanStatus::Active.as_str() {
            return Err(conflict(format!(
                "the care plan is already {}",
                plan.status
            )));
        }
        if status == PlanStatus::Withdrawn && reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(ServiceError::field(
                "reason",
                Rule::Required,
                "a withdrawal needs a reason (e.g. death, the patient's wish)",
            ));
        }
        let mut state = plan_state(&plan)?;
        state.status = status;
        let event = if status == PlanStatus::Completed {
            "completed"
        } else {
            "withdrawn"
        };
        let fresh = queries::care_plan_by_id(&txn, plan_id)
            .await?
            .ok_or(ServiceError::NotFound("care plan"))?;
        insert_chained(
            &txn,
            &fresh,
            ChainFields {
                author_id: actor.practitioner_id,
                organization_id: actor.organization_id,
                stage: plan.current_stage.clone(),
                kind: EntryKind::Lifecycle,
                effective_at: now,
                recorded_at: now,
                values: json!({"event": event}),
                note: reason.clone(),
                variance: None,
                amends: None,
                reason: None,
            },
            &state,
        )
        .await?;
        audit::record(
            &txn,
            self.now(),
            meta,
            AuditRecord::by(
                actor,
                "care_plan.lifecycle",
                "care_plan",
                Some(plan_id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(plan_id))
            .patient(Some(plan.patient_id))
            .wrote(EvidenceKind::CarePlan, plan_id)
            .detail(event),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// What migrating the plan to `version` would change (nothing is changed).
    pub async fn migration_preview(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        version: u32,
    ) -> Result<renkei_domain::diff::TemplateDiff, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        let current = self.pathway_of_plan(&plan)?;
        let target = self
            .pathways
            .find(&current.template.code, version)
            .ok_or_else(|| {
                ServiceError::field(
                    "version",
                    Rule::Unknown,
                    format!("{} has no version {version}", current.template.code),
                )
            })?;
        self.audit_read(actor, meta, "care_plan.migration_preview", &plan)
            .await?;
        Ok(renkei_domain::diff::diff(
            &current.template,
            &target.template,
        ))
    }

    /// Moves a running plan to a newer version of its pathway, recorded with its reason.
    pub async fn migrate_plan(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        version: u32,
        reason: &str,
        if_match: Option<i32>,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let txn = begin_write(&self.db).await?;
        queries::lock_care_plan(&txn, plan_id, now).await?;
        let (plan, _) = match self
            .check_plan(&txn, actor, plan_id, Action::Lifecycle)
            .await?
        {
            Ok(v) => v,
            Err(d) => {
                txn.rollback().await?;
                return Err(self.deny(actor, meta, d).await);
            }
        };
        if if_match.is_some_and(|v| v != plan.row_version) {
            return Err(ServiceError::PreconditionFailed);
        }
        let current = self.pathway_of_plan(&plan)?;
        let Some(target) = self.pathways.find(&current.template.code, version).cloned() else {
            return Err(ServiceError::field(
                "version",
                Rule::Unknown,
                format!("{} has no version {version}", current.template.code),
            ));
        };
        if reason.trim().is_empty() {
            return Err(ServiceError::field(
                "reason",
                Rule::Required,
                "a migration needs a reason",
            ));
        }
        if version <= current.template.version {
            return Err(conflict("a plan migrates only to a newer version"));
        }
        if target.template.stage(&plan.current_stage).is_none() {
            return Err(conflict(format!(
                "version {version} has no stage `{}`, the plan's current stage",
                plan.current_stage
            )));
        }
        if plan.status != PlanStatus::Active.as_str() {
            return Err(conflict("only an active plan migrates"));
        }
        renkei_store::entity::care_plans::Entity::update_many()
            .col_expr(
                renkei_store::entity::care_plans::Column::PathwayVersionId,
                Expr::value(target.id),
            )
            .filter(renkei_store::entity::care_plans::Column::Id.eq(plan_id))
            .exec(&txn)
            .await?;
        let stage = plan.current_stage.clone();
        self.process_entry(&txn, actor, &plan, EntryKind::Lifecycle, &stage,
            json!({"event": "migrated", "from_version": current.template.version, "to_version": version, "to_hash": target.hash}),
            Some(reason.trim().to_owned())).await?;
        audit::record(
            &txn,
            self.now(),
            meta,
            AuditRecord::by(
                actor,
                "care_plan.lifecycle",
                "care_plan",
                Some(plan_id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(plan_id))
            .patient(Some(plan.patient_id))
            .wrote(EvidenceKind::CarePlan, plan_id)
            .detail("migrated"),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    // ------------------------------------------------------------ automatic variances

    /// Records a system-authored variance for every goal overdue or not met at its due
    /// time and every stage past its maximum days, unless a variance for it exists.
    /// Returns how many were written.
    pub async fn sweep_automatic_variances(&self) -> Result<usize, ServiceError> {
        let now = self.now();
        let system = Actor {
            practitioner_id: SYSTEM_PRACTITIONER_ID,
            login: "_system".into(),
            name: "システム".into(),
            profession: "physician".into(),
            organization_id: SYSTEM_ORGANIZATION_ID,
            organization_code: "_system".into(),
            roles: Vec::new(),
        };
        let mut written = 0;
        let mut after = None;
        loop {
            // A page of active plans at a time, so the sweep's memory does not grow with
            // the region; other requests get the runtime between pages.
            let page = queries::care_plans_page(
                &self.db,
                Some(PlanStatus::Active.as_str()),
                after,
                SWEEP_PAGE,
            )
            .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for plan in page {
                written += self.sweep_plan(&system, plan, now).await?;
            }
            tokio::task::yield_now().await;
        }
        Ok(written)
    }

    /// The automatic variances of one active plan; returns how many were written.
    async fn sweep_plan(
        &self,
        system: &Actor,
        plan: CarePlanRow,
        now: DateTime<Utc>,
    ) -> Result<usize, ServiceError> {
        let mut written = 0;
        {
            let Some(published) = self.pathways.get(plan.pathway_version_id).cloned() else {
                return Ok(0);
            };
            let rows = queries::entries_of(&self.db, plan.id).await?;
            let pf = plan_facts(&rows);
            let explained: Vec<String> = rows
                .iter()
                .filter(|r| r.kind == EntryKind::Variance.as_str())
                .filter_map(|r| r.variance.as_deref())
                .filter_map(|v| serde_json::from_str::<Value>(v).ok())
                .filter_map(|v| v.get("goal").and_then(Value::as_str).map(str::to_owned))
                .collect();
            let mut findings: Vec<(String, String, String)> = Vec::new();
            let template = pf.individual_template(&published.template, now);
            for g in evaluate_goals(&template, plan.started_at, &pf.facts, now) {
                let due_passed = g.due.is_some_and(|d| d < now);
                let missed = g.status == GoalState::Overdue
                    || (g.status == GoalState::NotMet && due_passed && is_one_shot(&g));
                if missed && !explained.contains(&g.code) {
                    let why = if g.status == GoalState::Overdue {
                        "goal_overdue"
                    } else {
                        "goal_not_met"
                    };
                    findings.push((
                        g.code.clone(),
                        why.into(),
                        format!(
                            "[自動] 達成目標「{}」が期限までに達成されていません",
                            g.title.ja
                        ),
                    ));
                }
            }
            if plan.stage_started
                && !plan.stage_ended
                && let Some(max) = template.stage(&plan.current_stage).and_then(|s| s.max_days)
                && let Some(start) = pf
                    .facts
                    .iter()
                    .rev()
                    .find(|e| e.kind == EntryKind::StageStart && e.stage == plan.current_stage)
                && now > start.effective_at + Duration::days(max.into())
            {
                let key = format!("stage_overrun:{}", plan.current_stage);
                if !explained.contains(&key) {
                    findings.push((
                        key,
                        "stage_overrun".into(),
                        format!(
                            "[自動] {}の上限日数（{max}日）を超過しています",
                            plan.current_stage
                        ),
                    ));
                }
            }
            if findings.is_empty() {
                return Ok(0);
            }
            let txn = begin_write(&self.db).await?;
            queries::lock_care_plan(&txn, plan.id, now).await?;
            let mut fresh = queries::care_plan_by_id(&txn, plan.id)
                .await?
                .ok_or(ServiceError::NotFound("care plan"))?;
            for (goal, why, note) in findings {
                let state = plan_state(&fresh)?;
                insert_chained(
                    &txn,
                    &fresh,
                    ChainFields {
                        author_id: system.practitioner_id,
                        organization_id: system.organization_id,
                        stage: fresh.current_stage.clone(),
                        kind: EntryKind::Variance,
                        effective_at: now,
                        recorded_at: now,
                        values: json!({}),
                        note: Some(note),
                        variance: Some(json!({"automatic": true, "goal": goal, "reason": why})),
                        amends: None,
                        reason: None,
                    },
                    &state,
                )
                .await?;
                fresh = queries::care_plan_by_id(&txn, plan.id)
                    .await?
                    .ok_or(ServiceError::NotFound("care plan"))?;
                written += 1;
            }
            // System-written entries are audited like any other: the event records the
            // plan's new head.
            audit::record(
                &txn,
                self.now(),
                &RequestMeta::default(),
                AuditRecord::by(
                    system,
                    "entry.append",
                    "care_plan",
                    Some(plan.id.to_string()),
                    Outcome::Allowed,
                )
                .plan(Some(plan.id))
                .patient(Some(plan.patient_id))
                .wrote(EvidenceKind::CarePlan, plan.id)
                .detail("automatic variances"),
            )
            .await?;
            txn.commit().await?;
        }
        Ok(written)
    }

    // ------------------------------------------------------------ worklist

    /// The organisation's worklists as of `as_of`; each list holds at most `limit` items
    /// (the count is the full count). `limit` must lie in [`WORKLIST_LIMIT`] and
    /// `dropout_days` in [`DROPOUT_DAYS`]; a value outside is refused, not clamped.
    pub async fn worklist(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        as_of: Option<DateTime<Utc>>,
        limit: usize,
        dropout_days: i64,
    ) -> Result<Worklist, ServiceError> {
        let mut errors = Vec::new();
        if !WORKLIST_LIMIT.contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                Rule::Range,
                format!(
                    "must be between {} and {}",
                    WORKLIST_LIMIT.start(),
                    WORKLIST_LIMIT.end()
                ),
            ));
        }
        if !DROPOUT_DAYS.contains(&dropout_days) {
            errors.push(FieldError::new(
                "dropout_days",
                Rule::Range,
                format!(
                    "must be between {} and {}",
                    DROPOUT_DAYS.start(),
                    DROPOUT_DAYS.end()
                ),
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let as_of = as_of.unwrap_or_else(|| self.now());
        let org = actor.organization_id;
        let my_kinds = match queries::organization_by_id(&self.db, org).await? {
            Some(o) => provider_kinds_of(&o.kind),
            None => &[],
        };
        let mut lists: [Vec<WorkItem>; 8] = Default::default();
        let plan_info = |p: &CarePlanRow| {
            (
                p.id,
                p.patient_id,
                self.pathways
                    .get(p.pathway_version_id)
                    .map(|x| x.template.code.clone())
                    .unwrap_or_default(),
            )
        };
        // Hand-overs.
        for h in handovers::Entity::find()
            .filter(handovers::Column::ToOrganizationId.eq(org))
            .filter(handovers::Column::State.eq("proposed"))
            .all(&self.db)
            .await?
        {
            if let Some(p) = queries::care_plan_by_id(&self.db, h.care_plan_id).await?
                && self.party_may_list(actor, &p).await?
            {
                let (id, pat, pw) = plan_info(&p);
                lists[0].push(WorkItem {
                    care_plan_id: id,
                    patient_id: pat,
                    pathway: pw,
                    subject: h.id.to_string(),
                    state: h.state,
                    due: None,
                });
            }
        }
        for h in handovers::Entity::find()
            .filter(handovers::Column::FromOrganizationId.eq(org))
            .filter(handovers::Column::State.is_in(["proposed", "accepted"]))
            .all(&self.db)
            .await?
        {
            if let Some(p) = queries::care_plan_by_id(&self.db, h.care_plan_id).await?
                && self.party_may_list(actor, &p).await?
            {
                let (id, pat, pw) = plan_info(&p);
                lists[1].push(WorkItem {
                    care_plan_id: id,
                    patient_id: pat,
                    pathway: pw,
                    subject: h.id.to_string(),
                    state: h.state,
                    due: None,
                });
            }
        }
        // Reports.
        for (i, col) in [
            (2usize, reports::Column::FromOrganizationId),
            (3, reports::Column::ToOrganizationId),
        ] {
            for r in reports::Entity::find()
                .filter(col.eq(org))
                .filter(reports::Column::SentAt.is_null())
                .all(&self.db)
                .await?
            {
                if let Some(p) = queries::care_plan_by_id(&self.db, r.care_plan_id).await?
                    && self.party_may_list(actor, &p).await?
                {
                    let (id, pat, pw) = plan_info(&p);
                    let state = if as_of > r.due_at { "overdue" } else { "due" };
                    lists[i].push(WorkItem {
                        care_plan_id: id,
                        patient_id: pat,
                        pathway: pw,
                        subject: r.id.to_string(),
                        state: state.into(),
                        due: Some(r.due_at),
                    });
                }
            }
        }
        // Plans this organisation works on: planner or writing team member.
        let mut plan_ids: Vec<Uuid> = qa::plans_of_team_org(&self.db, org).await?;
        plan_ids.sort();
        plan_ids.dedup();
        // Read a page of plans with their teams, consents and entries in four queries,
        // not several queries per plan: a planning hospital has thousands of plans.
        let grants: std::collections::HashSet<Uuid> =
            qa::break_glass_plans(&self.db, actor.practitioner_id, self.now())
                .await?
                .into_iter()
                .collect();
        for page in plan_ids.chunks(WORKLIST_PAGE) {
            let mut plan_rows = Vec::new();
            let active: Vec<CarePlanRow> = queries::care_plans_by_ids(&self.db, page)
                .await?
                .into_iter()
                .filter(|p| p.status == PlanStatus::Active.as_str())
                .collect();
            let ids: Vec<Uuid> = active.iter().map(|p| p.id).collect();
            let mut teams = by_plan(qa::teams_of(&self.db, &ids).await?, |r| r.care_plan_id);
            let mut consents = by_plan(qa::consents_of_plans(&self.db, &ids).await?, |r| {
                r.care_plan_id
            });
            let mut entries = by_plan(queries::entries_of_plans(&self.db, &ids).await?, |r| {
                r.care_plan_id
            });
            for plan in active {
                let team = teams.remove(&plan.id).unwrap_or_default();
                let consent = consents.remove(&plan.id).unwrap_or_default();
                let rows = entries.remove(&plan.id).unwrap_or_default();
                plan_rows.push((plan, team, consent, rows));
            }
            // One page in memory at a time.
            for (plan, team, consent_rows, rows) in plan_rows {
                let pid = plan.id;
                let access =
                    crate::access::access_from(&plan, &team, &consent_rows, grants.contains(&pid));
                if !access.is_visible_to(org) {
                    continue;
                }
                let Some(published) = self.pathways.get(plan.pathway_version_id).cloned() else {
                    continue;
                };
                let pf = plan_facts(&rows);
                let (id, pat, pw) = plan_info(&plan);
                for s in evaluate_schedule(
                    &published.template,
                    plan.started_at,
                    &pf.facts,
                    &pf.intervals(as_of),
                    as_of,
                ) {
                    let mine = my_kinds.contains(&s.owner);
                    let soon = s.due <= as_of + Duration::days(30);
                    if mine && (soon || s.state != ScheduleState::Scheduled) {
                        lists[4].push(WorkItem {
                            care_plan_id: id,
                            patient_id: pat,
                            pathway: pw.clone(),
                            subject: s.code,
                            state: format!("{:?}", s.state).to_lowercase(),
                            due: Some(s.due),
                        });
                    }
                }
                let template = pf.individual_template(&published.template, as_of);
                for g in evaluate_goals(&template, plan.started_at, &pf.facts, as_of) {
                    if g.status == GoalState::Overdue {
                        lists[5].push(WorkItem {
                            care_plan_id: id,
                            patient_id: pat,
                            pathway: pw.clone(),
                            subject: g.code,
                            state: "overdue".into(),
                            due: g.due,
                        });
                    }
                }
                if plan.planner_organization_id == org
                    && plan.created_at < as_of - Duration::days(7)
                    && crate::access::consent_state(&consent_rows)
                        == renkei_domain::access::ConsentState::None
                {
                    lists[6].push(WorkItem {
                        care_plan_id: id,
                        patient_id: pat,
                        pathway: pw.clone(),
                        subject: "consent".into(),
                        state: "missing".into(),
                        due: Some(plan.created_at + Duration::days(7)),
                    });
                }
                let last = rows
                    .iter()
                    .filter(|r| r.author_id != SYSTEM_PRACTITIONER_ID)
                    .map(|r| r.effective_at)
                    .max()
                    .unwrap_or(plan.started_at);
                if as_of - last > Duration::days(dropout_days) {
                    lists[7].push(WorkItem {
                        care_plan_id: id,
                        patient_id: pat,
                        pathway: pw,
                        subject: "no_entry".into(),
                        state: "dropout".into(),
                        due: Some(last + Duration::days(dropout_days)),
                    });
                }
            }
        }
        audit::record_now(
            self,
            meta,
            AuditRecord::by(actor, "worklist.read", "worklist", None, Outcome::Allowed),
        )
        .await?;
        let mut it = lists.into_iter().map(|mut items| {
            items.sort_by_key(|i| i.due);
            let count = items.len();
            items.truncate(limit);
            WorkList { count, items }
        });
        let mut next = || {
            it.next().unwrap_or(WorkList {
                count: 0,
                items: Vec::new(),
            })
        };
        Ok(Worklist {
            as_of,
            handovers_incoming: next(),
            handovers_outgoing: next(),
            reports_owed: next(),
            reports_owed_to_me: next(),
            schedule_due: next(),
            goals_overdue: next(),
            consent_missing: next(),
            dropouts: next(),
        })
    }
}

/// Targets that compare the latest value of one item: a threshold or a band.
fn is_value_target(t: &GoalTarget) -> bool {
    matches!(t, GoalTarget::Threshold { .. } | GoalTarget::Range { .. })
}

/// Goals judged once at their due time (not continuously re-judged values).
fn is_one_shot(g: &GoalStatus) -> bool {
    matches!(
        g.kind,
        "stage_length" | "time_between" | "change" | "membership"
    )
}
