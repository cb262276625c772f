//! What a plan's entries say: goal and schedule facts, the per-patient targets and
//! intervals, a stage's outcome, and which stages and provider kinds an organisation
//! fills.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use renkei_domain::entry::EntryKind;
use renkei_domain::goals::EntryFacts;
use renkei_domain::template::{GoalTarget, PathwayTemplate, ProviderKind};
use renkei_store::queries::EntryRow;
use serde_json::{Map, Value, json};

/// Which provider kinds an organisation kind fills (none for an unknown kind).
pub fn provider_kinds_of(org_kind: &str) -> &'static [ProviderKind] {
    renkei_domain::ids::OrgKind::parse(org_kind).map_or(&[], |k| k.provider_kinds())
}

/// The stages the planning organisation owns at enrolment: the first stage and every
/// stage run by the same kind of provider (the specialist's stages of a cyclical pathway).
pub(crate) fn planner_stages(t: &renkei_domain::template::PathwayTemplate) -> Vec<String> {
    t.planner_stages()
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
pub(crate) fn stage_outcome(facts: &[EntryFacts], stage: &str) -> Value {
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
