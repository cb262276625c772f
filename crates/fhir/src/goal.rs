//! Goal: one per shared goal (達成目標) of a care plan. The target comes from the pinned
//! template or, where the team individualised it, from the plan's own target (flagged
//! with the `goal-individualised` extension); `achievementStatus` and the exact state of
//! the goal engine (`goal-state` extension) come from the goal evaluation.
//!
//! A Goal has no row of its own: its id is `{plan id}-{8 hex digits}`, the digits being
//! the FNV-1a hash of the goal code (a goal code can be 34 characters long, too long
//! for a FHIR id next to the plan's UUID); `identifier` carries the code itself.

use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::goals::GoalState;
use renkei_domain::template::{Comparator, GoalTarget, PathwayTemplate};
use serde_json::{Value, json};

use crate::capability::{LAST_UPDATED, PATIENT, ResourceCapability};
use crate::common::{self, CANONICAL_BASE, code_system, coding, item_code_system};

pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "Goal",
    profile: None,
    interactions: &["read", "search-type"],
    search_params: &[PATIENT, LAST_UPDATED],
    search_include: &[],
    operations: &[],
};

/// The FNV-1a (32-bit) hash of `text`.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The logical id of goal `code` of plan `plan_id`.
pub fn goal_id(plan_id: &str, code: &str) -> String {
    format!("{plan_id}-{:08x}", fnv1a(code))
}

/// Splits a Goal id into the plan id and the hash part (the caller finds the goal code
/// whose [`goal_id`] matches).
pub fn split_goal_id(id: &str) -> Option<(&str, &str)> {
    let (plan, hash) = id.rsplit_once('-')?;
    (hash.len() == 8 && plan.len() == 36).then_some((plan, hash))
}

/// The identifier system of goals: the value is `{plan id}/{goal code}`.
pub fn identifier_system() -> String {
    format!("{CANONICAL_BASE}/goal")
}

/// The UCUM coding of a Quantity's unit, when the template's unit is plain UCUM.
fn quantity(value: f64, unit: Option<&str>, comparator: Option<Comparator>) -> Value {
    let mut q = json!({ "value": value });
    if let Some(u) = unit {
        q["unit"] = json!(u);
        let ucum = match u {
            "%" => Some("%"),
            "mg/dL" => Some("mg/dL"),
            "mmHg" => Some("mm[Hg]"),
            "kg" => Some("kg"),
            "kg/m2" | "kg/m²" => Some("kg/m2"),
            "d" | "日" => Some("d"),
            "h" | "時間" => Some("h"),
            "mo" | "か月" => Some("mo"),
            "mL/min/1.73m2" | "mL/min/1.73m²" => Some("mL/min/{1.73_m2}"),
            "pg/mL" => Some("pg/mL"),
            "mg/gCr" => Some("mg/g{creat}"),
            _ => None,
        };
        if let Some(code) = ucum {
            q["system"] = json!("http://unitsofmeasure.org");
            q["code"] = json!(code);
        }
    }
    match comparator {
        Some(Comparator::Lt) => q["comparator"] = json!("<"),
        Some(Comparator::Le) => q["comparator"] = json!("<="),
        Some(Comparator::Gt) => q["comparator"] = json!(">"),
        Some(Comparator::Ge) => q["comparator"] = json!(">="),
        Some(Comparator::Eq) | None => {}
    }
    q
}

/// The CodeableConcept of an item: its standard codes (LOINC, JLAC10) first, then the
/// pathway's own item code; the Japanese title as text.
pub fn item_concept(t: &PathwayTemplate, item: &str) -> Value {
    let found = t.items.iter().find(|i| i.code == item);
    let mut codings: Vec<Value> = found
        .map(|i| {
            i.codes
                .iter()
                .map(|c| coding(&c.system, &c.code, c.display.as_deref()))
                .collect()
        })
        .unwrap_or_default();
    codings.push(coding(
        &item_code_system(&t.code),
        item,
        found.map(|i| i.title.ja.as_str()),
    ));
    let mut cc = json!({ "coding": codings });
    if let Some(i) = found {
        cc["text"] = json!(i.title.ja);
    }
    cc
}

/// A measure that is not an item (stage length, time between two items…).
fn measure(code: &str, text: &str) -> Value {
    json!({
        "coding": [coding(&code_system("goal-measure"), code, Some(text))],
        "text": text,
    })
}

fn unit_of<'t>(t: &'t PathwayTemplate, item: &str) -> Option<&'t str> {
    t.items
        .iter()
        .find(|i| i.code == item)
        .and_then(|i| i.unit.as_deref())
}

/// The targets (`measure` and `detail[x]`, without the due) of a goal target. A range's
/// high is exclusive (`min <= value < max`), as the goal engine reads it.
pub fn targets(t: &PathwayTemplate, target: &GoalTarget) -> Vec<Value> {
    match target {
        GoalTarget::Threshold { item, op, value } => vec![json!({
            "measure": item_concept(t, item),
            "detailQuantity": quantity(*value, unit_of(t, item), Some(*op)),
        })],
        GoalTarget::Range { item, min, max } => vec![json!({
            "measure": item_concept(t, item),
            "detailRange": {
                "low": quantity(*min, unit_of(t, item), None),
                "high": quantity(*max, unit_of(t, item), None),
            },
        })],
        GoalTarget::Change { to, op, value, .. } => vec![json!({
            "measure": item_concept(t, &to.item),
            "detailQuantity": quantity(*value, unit_of(t, &to.item), Some(*op)),
        })],
        GoalTarget::Membership { item, values } => values
            .iter()
            .map(|v| {
                let title = t
                    .items
                    .iter()
                    .find(|i| i.code == *item)
                    .and_then(|i| i.options.as_ref())
                    .and_then(|o| o.iter().find(|o| o.code == *v))
                    .map(|o| o.title.ja.as_str());
                json!({
                    "measure": item_concept(t, item),
                    "detailCodeableConcept": {
                        "coding": [coding(&code_system(&format!("{}-{}", t.code, item)), v, title)],
                    },
                })
            })
            .collect(),
        GoalTarget::StageLength { op, days, .. } => vec![json!({
            "measure": measure("stage-length", "病期の日数"),
            "detailQuantity": quantity(f64::from(*days), Some("d"), Some(*op)),
        })],
        GoalTarget::TimeBetween { max_hours, .. } => vec![json!({
            "measure": measure("time-between", "項目間の時間"),
            "detailQuantity": quantity(f64::from(*max_hours), Some("h"), Some(Comparator::Le)),
        })],
        GoalTarget::DoneWithin { item, months } => vec![json!({
            "measure": item_concept(t, item),
            "detailQuantity": quantity(f64::from(*months), Some("mo"), Some(Comparator::Le)),
        })],
        GoalTarget::DaysBetween { op, days, .. } => vec![json!({
            "measure": measure("days-between", "項目間の日数"),
            "detailQuantity": quantity(f64::from(*days), Some("d"), Some(*op)),
        })],
    }
}

/// `achievementStatus` (goal-achievement) of a goal engine state; none where the goal
/// does not apply to the patient.
pub fn achievement(state: GoalState) -> Option<&'static str> {
    match state {
        GoalState::Met => Some("achieved"),
        GoalState::NotMet | GoalState::Overdue => Some("not-achieved"),
        GoalState::Pending => Some("in-progress"),
        GoalState::NotApplicable => None,
    }
}

/// `lifecycleStatus` of a goal of a plan with status `plan_status` (Renkei's).
pub fn lifecycle(plan_status: &str, state: GoalState) -> &'static str {
    if state == GoalState::NotApplicable {
        return "cancelled";
    }
    match plan_status {
        "completed" => "completed",
        "withdrawn" => "cancelled",
        _ => "active",
    }
}

/// What the Goal mapper needs of one goal of one plan.
#[derive(Debug, Clone)]
pub struct GoalView<'a> {
    pub plan_id: &'a str,
    pub patient_id: &'a str,
    /// Renkei's plan status (`active`, `completed`, `withdrawn`).
    pub plan_status: &'a str,
    pub plan_started: NaiveDate,
    pub last_updated: DateTime<Utc>,
    /// The pinned template (for item codes and units).
    pub template: &'a PathwayTemplate,
    pub code: &'a str,
    pub title_ja: &'a str,
    /// The target that applies to this patient.
    pub target: &'a GoalTarget,
    /// Whether `target` is the plan's own, not the template's.
    pub individualised: bool,
    pub state: GoalState,
    pub due_date: Option<NaiveDate>,
    /// The entry whose value decided the state, with the item (an Observation's id is
    /// `{entry id}-{item code}`).
    pub latest: Option<(String, String)>,
}

/// The Goal of `g`.
pub fn goal(g: &GoalView<'_>) -> Value {
    crate::common::prune(goal_unpruned(g))
}

fn goal_unpruned(g: &GoalView<'_>) -> Value {
    let mut targets = targets(g.template, g.target);
    if let Some(due) = g.due_date {
        for t in &mut targets {
            t["dueDate"] = json!(common::date(due));
        }
    }
    let mut extension = vec![json!({
        "url": format!("{CANONICAL_BASE}/StructureDefinition/goal-state"),
        "valueCode": g.state.as_str(),
    })];
    if g.individualised {
        extension.push(json!({
            "url": format!("{CANONICAL_BASE}/StructureDefinition/goal-individualised"),
            "valueBoolean": true,
        }));
    }
    let mut r = json!({
        "resourceType": "Goal",
        "id": goal_id(g.plan_id, g.code),
        "meta": common::meta(g.last_updated, None),
        "extension": extension,
        "identifier": [{
            "system": identifier_system(),
            "value": format!("{}/{}", g.plan_id, g.code),
        }],
        "lifecycleStatus": lifecycle(g.plan_status, g.state),
        "description": {
            "coding": [coding(&code_system(&format!("{}-goals", g.template.code)), g.code, Some(g.title_ja))],
            "text": g.title_ja,
        },
        "subject": common::reference("Patient", g.patient_id),
        "startDate": common::date(g.plan_started),
        "target": targets,
    });
    if let Some(a) = achievement(g.state) {
        r["achievementStatus"] = json!({
            "coding": [coding("http://terminology.hl7.org/CodeSystem/goal-achievement", a, None)],
        });
    }
    if let Some((entry, item)) = &g.latest {
        r["outcomeReference"] = json!([common::reference(
            "Observation",
            &crate::observation::observation_id(entry, item)
        )]);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goal_ids_are_fhir_ids_and_split_back() {
        let plan = "0190c0de-0000-7000-8000-000000000001";
        let id = goal_id(plan, "h1_fixation_within_48h_of_injury");
        assert!(common::is_valid_id(&id), "{id}");
        assert_eq!(split_goal_id(&id).map(|p| p.0), Some(plan));
        assert_ne!(goal_id(plan, "a"), goal_id(plan, "b"));
        assert_eq!(split_goal_id("short-1"), None);
    }

    #[test]
    fn achievement_follows_the_goal_engine() {
        assert_eq!(achievement(GoalState::Met), Some("achieved"));
        assert_eq!(achievement(GoalState::NotMet), Some("not-achieved"));
        assert_eq!(achievement(GoalState::Overdue), Some("not-achieved"));
        assert_eq!(achievement(GoalState::Pending), Some("in-progress"));
        assert_eq!(achievement(GoalState::NotApplicable), None);
        assert_eq!(lifecycle("active", GoalState::Met), "active");
        assert_eq!(lifecycle("completed", GoalState::NotMet), "completed");
        assert_eq!(lifecycle("withdrawn", GoalState::Pending), "cancelled");
        assert_eq!(lifecycle("active", GoalState::NotApplicable), "cancelled");
    }
}
