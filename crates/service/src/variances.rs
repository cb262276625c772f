//! Automatic variances: a system-authored variance for every goal missed and every
//! stage past its maximum days that nobody has explained, each with a code of the
//! template's variance scheme (the goal's own `variance`, else the unclassified default
//! of `renkei_domain::variance`); and their review by a person of the organisation owning
//! the stage, who classifies one (a cause from the template's codes) or dismisses it.
//! Either is a variance entry amending the automatic one, so the chain keeps both.

use chrono::{DateTime, Duration, Utc};
use renkei_domain::access::{Decision, may_classify_variance};
use renkei_domain::calendar::tokyo_date;
use renkei_domain::entry::{EntryKind, PlanStatus};
use renkei_domain::evidence::EvidenceKind;
use renkei_domain::goals::{DeviationDirection, GoalState, GoalStatus, evaluate_goals};
use renkei_domain::rules::Rule;
use renkei_domain::variance::{
    automatic_code, cause_of, default_automatic_code, is_classification, parse_variance_code,
};
use renkei_store::queries::{self, CarePlanRow};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::access::{subject, visible_chars};
use crate::audit::{AuditRecord, Outcome, RequestMeta};
use crate::plan_chain::{ChainFields, conflict, insert_chained, plan_state};
use crate::plan_facts::plan_facts;
use crate::plans::Entry;
use crate::{Actor, ErrorCode, ServiceError, Services};

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
            organization_name: "Renkei（自動判定）".into(),
            region: String::new(),
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
        // Reports back due or overdue: mailed to the organisations that owe them and
        // chose to be told, once per report and state.
        if let Err(e) = self.dispatch_notifications(true).await {
            tracing::warn!(error = %e, "notification dispatch failed");
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
            let Some(published) = self
                .pathways
                .for_plan(plan.pathway_version_id, plan.variant.as_deref())
                .cloned()
            else {
                return Ok(0);
            };
            let rows = queries::entries_of_plan_in(&self.db, plan.id, &plan.region).await?;
            let pf = plan_facts(&rows);
            let explained: Vec<String> = rows
                .iter()
                .filter(|r| r.kind == EntryKind::Variance.as_str())
                .filter_map(|r| r.variance.as_deref())
                .filter_map(|v| serde_json::from_str::<Value>(v).ok())
                .filter_map(|v| v.get("goal").and_then(Value::as_str).map(str::to_owned))
                .collect();
            let mut findings: Vec<(Value, String)> = Vec::new();
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
                if !is_missed(&g, now) || explained.contains(&g.code) {
                    continue;
                }
                let why = if g.status == GoalState::Overdue {
                    "goal_overdue"
                } else {
                    "goal_not_met"
                };
                let named = template
                    .goals
                    .iter()
                    .find(|x| x.code == g.code)
                    .and_then(|x| x.variance.as_deref());
                let code = automatic_code(named, g.kind);
                let mut variance = automatic_variance(&g.code, why, &code);
                let deviation = deviation_of(&g);
                let mut note = format!(
                    "[自動] 達成目標「{}」が期限までに達成されていません",
                    g.title.ja
                );
                if let Some((below, bound)) = deviation {
                    variance["deviation"] = json!({
                        "direction": if below { "below_range" } else { "above_range" },
                        "bound": bound,
                    });
                    note.push_str(&if below {
                        format!("(下限 {bound} 未満)")
                    } else {
                        format!("(上限 {bound} 超過)")
                    });
                }
                findings.push((variance, note));
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
                        automatic_variance(
                            &key,
                            "stage_overrun",
                            &default_automatic_code("stage_overrun"),
                        ),
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
            for (variance, note) in findings {
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
                        variance: Some(variance),
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

/// Whether a goal is a finding at `now`: overdue, or not met once its due date (a Tokyo
/// date: the last day still on time) has passed — whatever its kind, a value below or
/// above its range included. A pending goal and a goal that does not apply are never
/// findings.
fn is_missed(g: &GoalStatus, now: DateTime<Utc>) -> bool {
    match g.status {
        GoalState::Overdue => true,
        GoalState::NotMet => match (g.due_date, g.due) {
            (Some(d), _) => tokyo_date(now) > d,
            (None, Some(t)) => t < now,
            (None, None) => false,
        },
        GoalState::Met | GoalState::Pending | GoalState::NotApplicable => false,
    }
}

/// The below/above-range result of a numeric goal not met: (below, bound).
fn deviation_of(g: &GoalStatus) -> Option<(bool, f64)> {
    g.deviation
        .as_ref()
        .map(|d| (d.direction == DeviationDirection::BelowRange, d.bound))
}

/// The `variance` of an automatic entry: the goal (or `stage_overrun:<stage>`) it is
/// about, why it was raised, its code and the code's cause in words.
fn automatic_variance(goal: &str, why: &str, code: &str) -> Value {
    json!({
        "automatic": true,
        "goal": goal,
        "reason": why,
        "code": code,
        "cause": cause_of(code),
    })
}

/// The longest reason of a classification or dismissal, in characters as sent.
pub const REVIEW_REASON_MAX: usize = 2000;

/// What a person decides about an automatic variance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarianceReview {
    /// The cause is known: a code of the template's variance list.
    Classify { code: String },
    /// Not a variance after all (e.g. the value was a transcription error).
    Dismiss,
}

impl VarianceReview {
    fn action(&self) -> &'static str {
        match self {
            VarianceReview::Classify { .. } => "variance.classify",
            VarianceReview::Dismiss => "variance.dismiss",
        }
    }
}

impl Services {
    /// Classifies or dismisses the automatic variance `entry_id` of `plan_id`, with a
    /// reason: a variance entry amending it (the automatic one stays in the chain, shown
    /// as reviewed). Allowed by [`may_classify_variance`] on the variance's stage (404
    /// when the plan is hidden, 403 when the actor may see it but not review); 404 for an
    /// entry that is not a variance of this plan; 409 when the variance is not automatic,
    /// was reviewed already or the plan has ended; 422 for a blank reason or a code that
    /// is not a known cause of the template. The sweep never raises the goal again.
    pub async fn review_variance(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        entry_id: Uuid,
        review: VarianceReview,
        reason: &str,
    ) -> Result<Entry, ServiceError> {
        let now = self.now();
        let action = review.action();
        let write = self.begin_plan_write(actor, meta, plan_id).await?;
        let target = queries::entry_by_id(write.txn(), entry_id)
            .await?
            .filter(|e| e.care_plan_id == plan_id);
        // The decision looks at the variance's stage (the plan's current stage when the
        // entry is unknown, so an unknown id tells nothing to those who may not see the
        // plan).
        let stage = match (&target, write.plan()) {
            (Some(t), _) => t.stage.clone(),
            (None, Some(p)) => p.current_stage.clone(),
            (None, None) => return Err(ServiceError::NotFound("care plan")),
        };
        let who = subject(actor);
        let write = write
            .authorize_by(
                |plan, access| match may_classify_variance(&who, access, &stage) {
                    Decision::Allow => Ok(()),
                    denied => {
                        let hidden = denied == Decision::Hidden;
                        Err(Box::new((
                            AuditRecord::by(
                                actor,
                                action,
                                "entry",
                                Some(entry_id.to_string()),
                                Outcome::Denied,
                            )
                            .plan(Some(plan.id))
                            .patient((!hidden).then_some(plan.patient_id)),
                            if hidden {
                                ServiceError::NotFound("care plan")
                            } else {
                                ServiceError::Forbidden
                            },
                        )))
                    }
                },
            )
            .await?;
        let txn = &write.txn;
        let plan = write.plan.clone();
        let target = target
            .filter(|t| t.kind == EntryKind::Variance.as_str())
            .ok_or(ServiceError::NotFound("variance"))?;
        let automatic: Value = target
            .variance
            .as_deref()
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or(Value::Null);
        if automatic["automatic"] != true || target.amends.is_some() {
            return Err(conflict(
                "only an automatic variance can be classified or dismissed",
            ));
        }
        if queries::is_amended(txn, plan_id, entry_id).await? {
            return Err(conflict(
                "this automatic variance was classified or dismissed already",
            ));
        }
        let state = plan_state(&plan)?;
        if state.status != PlanStatus::Active {
            return Err(ServiceError::Conflict {
                code: ErrorCode::PlanNotActive,
                message: "the care plan is no longer active".into(),
            });
        }
        let mut errors = Vec::new();
        if reason.chars().count() > REVIEW_REASON_MAX {
            errors.push(renkei_domain::error::FieldError::new(
                "reason",
                Rule::MaxLength,
                format!("at most {REVIEW_REASON_MAX} characters"),
            ));
        }
        let reason = reason.trim();
        if visible_chars(reason) == 0 {
            errors.push(renkei_domain::error::FieldError::new(
                "reason",
                Rule::Required,
                "give the reason for the classification or dismissal",
            ));
        }
        let published = self.pathway_of_plan(&plan)?;
        if let VarianceReview::Classify { code } = &review {
            let known = parse_variance_code(code).is_ok()
                && published.template.variance(code).is_some()
                && is_classification(code);
            if !known {
                errors.push(renkei_domain::error::FieldError::new(
                    "code",
                    Rule::Allowed,
                    format!(
                        "`{code}` is not a cause this pathway lists (one of its [[variances]] codes, not unclassified)"
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let automatic_code = automatic["code"].as_str().unwrap_or_default().to_owned();
        let mut variance = json!({
            "goal": automatic["goal"],
            "reviews": entry_id,
            "automatic_code": automatic_code,
        });
        let note = match &review {
            VarianceReview::Classify { code } => {
                variance["code"] = json!(code);
                variance["cause"] = json!(cause_of(code));
                variance["classified"] = json!(true);
                format!("[分類] {reason}")
            }
            VarianceReview::Dismiss => {
                variance["code"] = json!(automatic_code);
                variance["cause"] = automatic["cause"].clone();
                variance["dismissed"] = json!(true);
                format!("[取消] {reason}")
            }
        };
        let row = insert_chained(
            txn,
            &plan,
            ChainFields {
                author_id: actor.practitioner_id,
                organization_id: actor.organization_id,
                stage: target.stage.clone(),
                kind: EntryKind::Variance,
                effective_at: now,
                recorded_at: now,
                values: json!({}),
                note: Some(note),
                variance: Some(variance),
                amends: Some(entry_id),
                reason: Some(reason.to_owned()),
            },
            &state,
        )
        .await?;
        let new_id = row.id;
        let entry = self
            .to_entries(txn, vec![row], &Default::default())
            .await?
            .remove(0);
        let record = AuditRecord::by(
            actor,
            action,
            "entry",
            Some(new_id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan_id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::CarePlan, plan_id);
        write.commit(record).await?;
        Ok(entry)
    }
}

impl Services {
    /// The stages of `plan_id` in which `actor` may classify or dismiss automatic
    /// variances (for offering the form; the write decides again). Read after the page's
    /// own access decision, so it records no audit event of its own.
    pub async fn variance_review_stages(
        &self,
        actor: &Actor,
        plan_id: Uuid,
    ) -> Result<Vec<String>, ServiceError> {
        let Some(plan) = queries::care_plan_by_id(&self.db, plan_id).await? else {
            return Ok(Vec::new());
        };
        let access =
            crate::access::plan_access_at(&self.db, self, actor, &plan, self.now()).await?;
        let published = self.pathway_of_plan(&plan)?;
        let who = subject(actor);
        Ok(published
            .template
            .stages
            .iter()
            .filter(|s| may_classify_variance(&who, &access, &s.code) == Decision::Allow)
            .map(|s| s.code.clone())
            .collect())
    }
}
