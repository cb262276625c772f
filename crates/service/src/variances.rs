//! Automatic variances: a system-authored variance for every goal missed and every
//! stage past its maximum days that nobody has explained.

use chrono::{DateTime, Duration, Utc};
use renkei_domain::entry::{EntryKind, PlanStatus};
use renkei_domain::evidence::EvidenceKind;
use renkei_domain::goals::{GoalState, GoalStatus, evaluate_goals};
use renkei_store::queries::{self, CarePlanRow};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{AuditRecord, Outcome, RequestMeta};
use crate::plan_chain::{ChainFields, insert_chained, plan_state};
use crate::plan_facts::plan_facts;
use crate::{Actor, ServiceError, Services};

/// Plans per page of the automatic-variance sweep.
const SWEEP_PAGE: u64 = 500;

/// Author of automatic entries (created by migration 4; disabled, cannot log in).
pub const SYSTEM_PRACTITIONER_ID: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000002);
pub const SYSTEM_ORGANIZATION_ID: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000001);

impl Services {
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
            let ctx = crate::goal_context::goal_context(
                &self.db,
                &template,
                plan.patient_id,
                plan.started_at,
                now,
                now,
            )
            .await?;
            for g in evaluate_goals(&template, &ctx, &pf.facts) {
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
            let meta = RequestMeta::default();
            let write = self
                .begin_plan_write(system, &meta, plan.id)
                .await?
                .by_system()?;
            let txn = &write.txn;
            let mut fresh = write.plan.clone();
            for (goal, why, note) in findings {
                let state = plan_state(&fresh)?;
                insert_chained(
                    txn,
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
                fresh = queries::care_plan_by_id(txn, plan.id)
                    .await?
                    .ok_or(ServiceError::NotFound("care plan"))?;
                written += 1;
            }
            // System-written entries are audited like any other: the event records the
            // plan's new head.
            let record = AuditRecord::by(
                system,
                "entry.append",
                "care_plan",
                Some(plan.id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(plan.id))
            .patient(Some(plan.patient_id))
            .wrote(EvidenceKind::CarePlan, plan.id)
            .detail("automatic variances");
            write.commit(record).await?;
        }
        Ok(written)
    }
}

/// Goals judged once at their due time (not continuously re-judged values).
fn is_one_shot(g: &GoalStatus) -> bool {
    matches!(
        g.kind,
        "stage_length" | "time_between" | "change" | "membership"
    )
}
