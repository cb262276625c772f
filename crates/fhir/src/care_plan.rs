//! CarePlan: one per care plan. `instantiatesCanonical` pins the PlanDefinition version
//! the plan follows (`url|version`); one activity per stage of the template, with the
//! stage's state and its period; the goals and the care team by reference.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::capability::{LAST_UPDATED, Operation, PATIENT, ResourceCapability, STATUS};
use crate::common::{self, code_system, coding};

/// JP Core's CarePlan profile (draft; it constrains references to JP Core profiles only).
pub const PROFILE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_CarePlan";

pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "CarePlan",
    profile: Some(PROFILE),
    interactions: &["read", "search-type"],
    search_params: &[PATIENT, STATUS, LAST_UPDATED],
    search_include: &[INCLUDE_GOAL],
    operations: &[Operation {
        name: "everything",
        definition: "https://renkei.example.jp/fhir/OperationDefinition/CarePlan-everything",
    }],
};

/// `_include=CarePlan:goal`.
pub const INCLUDE_GOAL: &str = "CarePlan:goal";

/// CarePlan.status of a Renkei plan status.
pub fn status(plan_status: &str) -> &'static str {
    match plan_status {
        "active" => "active",
        "completed" => "completed",
        "withdrawn" => "revoked",
        _ => "unknown",
    }
}

/// The Renkei plan statuses a CarePlan `status` search code stands for.
pub fn renkei_status(fhir_status: &str) -> Option<&'static str> {
    match fhir_status {
        "active" => Some("active"),
        "completed" => Some("completed"),
        "revoked" => Some("withdrawn"),
        _ => None,
    }
}

/// Where a stage stands in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageState {
    /// Not entered (yet).
    NotStarted,
    InProgress,
    Completed,
    /// Never entered, and the plan has ended.
    Cancelled,
    /// Entered, not ended, and the plan was withdrawn.
    Stopped,
}

impl StageState {
    /// `CarePlan.activity.detail.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            StageState::NotStarted => "not-started",
            StageState::InProgress => "in-progress",
            StageState::Completed => "completed",
            StageState::Cancelled => "cancelled",
            StageState::Stopped => "stopped",
        }
    }

    /// The state of a stage that started at `start` and ended at `end` (either may be
    /// missing) in a plan with status `plan_status`.
    pub fn of(plan_status: &str, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Self {
        match (start, end, plan_status) {
            (Some(_), Some(_), _) => StageState::Completed,
            (Some(_), None, "active") => StageState::InProgress,
            (Some(_), None, _) => StageState::Stopped,
            (None, _, "active") => StageState::NotStarted,
            (None, _, _) => StageState::Cancelled,
        }
    }
}

/// One stage of the plan.
#[derive(Debug, Clone)]
pub struct StageView {
    pub code: String,
    pub title_ja: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// What the CarePlan mapper needs of a plan.
#[derive(Debug, Clone)]
pub struct PlanView {
    pub id: String,
    pub patient_id: String,
    /// Renkei's status (`active`, `completed`, `withdrawn`).
    pub status: String,
    pub pathway_code: String,
    pub title_ja: String,
    /// `url|version` of the pinned PlanDefinition.
    pub canonical: String,
    pub started_at: DateTime<Utc>,
    /// When the plan was completed or withdrawn.
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub planner_organization_id: String,
    pub planner_organization_name: String,
    /// The goals' logical ids.
    pub goal_ids: Vec<String>,
    /// Every stage of the template, in order.
    pub stages: Vec<StageView>,
    /// The template variant chosen at enrolment: `(code, Japanese title)`.
    pub variant: Option<(String, String)>,
}

/// The code system of one pathway's variants.
pub fn variant_code_system(pathway: &str) -> String {
    code_system(&format!("{pathway}-variants"))
}

fn period(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Value {
    let mut p = json!({});
    if let Some(s) = start {
        p["start"] = json!(common::instant(s));
    }
    if let Some(e) = end {
        p["end"] = json!(common::instant(e));
    }
    p
}

/// The CarePlan of `p`.
pub fn care_plan(p: &PlanView) -> Value {
    crate::common::prune(care_plan_unpruned(p))
}

fn care_plan_unpruned(p: &PlanView) -> Value {
    let stage_system = code_system("stage");
    let activity: Vec<Value> = p
        .stages
        .iter()
        .map(|s| {
            let state = StageState::of(&p.status, s.start, s.end);
            let mut detail = json!({
                "code": { "coding": [coding(&stage_system, &s.code, Some(&s.title_ja))], "text": s.title_ja },
                "status": state.as_str(),
                "instantiatesCanonical": [format!("{}#{}", p.canonical.split('|').next().unwrap_or_default(), crate::plan_definition::element_id(&s.code))],
            });
            if s.start.is_some() {
                detail["scheduledPeriod"] = period(s.start, s.end);
            }
            json!({ "detail": detail })
        })
        .collect();
    // The variant is a second category: CarePlan.category is the element FHIR gives for
    // telling apart the kinds of plan of one pathway, and a coding there needs no extension.
    let mut category = vec![
        json!({ "coding": [coding(&code_system("care-plan-category"), "regional-pathway", Some("地域連携診療計画"))] }),
    ];
    if let Some((code, title)) = &p.variant {
        category.push(json!({
            "coding": [coding(&variant_code_system(&p.pathway_code), code, Some(title))],
            "text": title,
        }));
    }
    json!({
        "resourceType": "CarePlan",
        "id": p.id,
        "meta": common::meta(p.last_updated, Some(PROFILE)),
        "identifier": [{ "system": format!("{}/care-plan", common::CANONICAL_BASE), "value": p.id }],
        "instantiatesCanonical": [p.canonical],
        "status": status(&p.status),
        "intent": "plan",
        "category": category,
        "title": p.title_ja,
        "subject": common::reference("Patient", &p.patient_id),
        "period": period(Some(p.started_at), p.ended_at),
        "created": common::instant(p.created_at),
        "author": common::reference_with_display("Organization", &p.planner_organization_id, &p.planner_organization_name),
        "careTeam": [common::reference("CareTeam", &p.id)],
        "goal": p.goal_ids.iter().map(|g| common::reference("Goal", g)).collect::<Vec<_>>(),
        "activity": activity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(1_765_000_000 + h * 3600, 0)
    }

    #[test]
    fn stage_states_follow_the_stage_events_and_the_plan() {
        assert_eq!(
            StageState::of("active", at(0), at(5)),
            StageState::Completed
        );
        assert_eq!(
            StageState::of("active", at(0), None),
            StageState::InProgress
        );
        assert_eq!(StageState::of("active", None, None), StageState::NotStarted);
        assert_eq!(
            StageState::of("withdrawn", at(0), None),
            StageState::Stopped
        );
        assert_eq!(
            StageState::of("completed", None, None),
            StageState::Cancelled
        );
    }

    #[test]
    fn statuses_map_both_ways() {
        for s in ["active", "completed", "withdrawn"] {
            assert_eq!(renkei_status(status(s)), Some(s));
        }
        assert_eq!(renkei_status("draft"), None);
    }

    #[test]
    fn a_care_plan_pins_its_version_and_lists_each_stage() {
        let p = PlanView {
            id: "p1".into(),
            patient_id: "pt1".into(),
            status: "active".into(),
            pathway_code: "stroke".into(),
            title_ja: "脳卒中".into(),
            canonical: "https://renkei.example.jp/fhir/PlanDefinition/stroke|2".into(),
            started_at: at(0).unwrap_or_default(),
            ended_at: None,
            created_at: at(0).unwrap_or_default(),
            last_updated: at(1).unwrap_or_default(),
            planner_organization_id: "o1".into(),
            planner_organization_name: "急性期病院".into(),
            goal_ids: vec!["p1-00000001".into()],
            stages: vec![
                StageView {
                    code: "acute".into(),
                    title_ja: "急性期".into(),
                    start: at(0),
                    end: at(100),
                },
                StageView {
                    code: "recovery".into(),
                    title_ja: "回復期".into(),
                    start: at(100),
                    end: None,
                },
                StageView {
                    code: "home".into(),
                    title_ja: "在宅".into(),
                    start: None,
                    end: None,
                },
            ],
            variant: None,
        };
        let r = care_plan(&p);
        assert_eq!(r["category"].as_array().map(Vec::len), Some(1));
        let with_variant = care_plan(&PlanView {
            variant: Some(("severe".into(), "重症".into())),
            ..p.clone()
        });
        assert_eq!(
            with_variant["category"][1]["coding"][0],
            json!({"system": "https://renkei.example.jp/fhir/CodeSystem/stroke-variants", "code": "severe", "display": "重症"})
        );
        assert_eq!(with_variant["category"][1]["text"], "重症");
        assert_eq!(
            r["instantiatesCanonical"][0],
            "https://renkei.example.jp/fhir/PlanDefinition/stroke|2"
        );
        assert_eq!(r["activity"][0]["detail"]["status"], "completed");
        assert_eq!(r["activity"][1]["detail"]["status"], "in-progress");
        assert_eq!(r["activity"][2]["detail"]["status"], "not-started");
        assert_eq!(r["activity"].as_array().map(Vec::len), Some(3));
        assert_eq!(r["goal"][0]["reference"], "Goal/p1-00000001");
        assert_eq!(r["careTeam"][0]["reference"], "CareTeam/p1");
    }
}
