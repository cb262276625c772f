//! PlanDefinition: one per published pathway version. The canonical `url` is
//! `https://renkei.example.jp/fhir/PlanDefinition/{pathway code}` and `version` the
//! template's version number as text (`v2.toml` → `"2"`); a CarePlan pins
//! `url|version`. Stages are actions (in template order, `timingDuration` the planned
//! length, the hard limit as the `stage-max-days` extension, the stages that may follow
//! as `relatedAction`); goals are goals with their targets and, where the template
//! gives one, the due offset relative to a stage event.

use renkei_domain::template::{Due, PathwayTemplate, ProviderKind, StageMoment};
use serde_json::{Value, json};

use crate::capability::{ResourceCapability, SearchParam};
use crate::common::{CANONICAL_BASE, code_system, coding};

pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "PlanDefinition",
    profile: None,
    interactions: &["read", "search-type"],
    search_params: &[URL],
    search_include: &[],
    operations: &[],
};

const URL: SearchParam = SearchParam {
    name: "url",
    kind: "uri",
    documentation: "The canonical URL of the pathway (every published version of it)",
};

/// The canonical URL of a pathway.
pub fn canonical_url(pathway: &str) -> String {
    format!("{CANONICAL_BASE}/PlanDefinition/{pathway}")
}

/// The `version` of a template.
pub fn version(t: &PathwayTemplate) -> String {
    t.version.to_string()
}

/// `url|version`, what a CarePlan's `instantiatesCanonical` names.
pub fn canonical(t: &PathwayTemplate) -> String {
    format!("{}|{}", canonical_url(&t.code), version(t))
}

/// A computer-friendly name (`femur-fracture` → `FemurFracture`).
fn name(code: &str) -> String {
    code.split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// An element id from a snake_case code (`fim_gain` → `fim-gain`).
pub fn element_id(code: &str) -> String {
    code.replace('_', "-")
}

fn provider_kind(k: ProviderKind) -> (&'static str, &'static str) {
    match k {
        ProviderKind::AcuteHosp => ("acute_hosp", "急性期病院"),
        ProviderKind::RecoveryHosp => ("recovery_hosp", "回復期病院"),
        ProviderKind::Clinic => ("clinic", "診療所(かかりつけ医)"),
        ProviderKind::Specialist => ("specialist", "専門医療機関"),
        ProviderKind::VisitNurse => ("visit_nurse", "訪問看護ステーション"),
        ProviderKind::CareManager => ("care_manager", "居宅介護支援事業所"),
        ProviderKind::CareFacility => ("care_facility", "介護施設"),
        ProviderKind::Dentist => ("dentist", "歯科診療所"),
        ProviderKind::Ophthal => ("ophthal", "眼科"),
        ProviderKind::Pharmacy => ("pharmacy", "薬局"),
    }
}

/// `Duration` of a due offset, in the one unit it is given in (`mo` when it has months
/// and no days, else days; the exact offset is always in the `goal-due` extension).
fn due_duration(due: &Due) -> Option<Value> {
    let ucum = |value: u32, unit: &str| json!({ "value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit });
    match (due.months, due.days) {
        (0, d) => Some(ucum(d, "d")),
        (m, 0) => Some(ucum(m, "mo")),
        _ => None,
    }
}

fn due_extension(due: &Due) -> Value {
    let moment = match due.at {
        StageMoment::Start => "start",
        StageMoment::End => "end",
    };
    json!({
        "url": format!("{CANONICAL_BASE}/StructureDefinition/goal-due"),
        "extension": [
            { "url": "stage", "valueCode": due.stage },
            { "url": "moment", "valueCode": moment },
            { "url": "months", "valueUnsignedInt": due.months },
            { "url": "days", "valueUnsignedInt": due.days },
        ],
    })
}

/// The PlanDefinition of published version `id` (its Renkei UUID) of template `t`.
pub fn plan_definition(id: &str, t: &PathwayTemplate) -> Value {
    crate::common::prune(plan_definition_unpruned(id, t))
}

fn plan_definition_unpruned(id: &str, t: &PathwayTemplate) -> Value {
    let stage_system = code_system("stage");
    let goals: Vec<Value> = t
        .goals
        .iter()
        .map(|g| {
            let mut targets = crate::goal::targets(t, &g.target);
            if let Some(due) = g.due.as_ref().and_then(due_duration) {
                for target in &mut targets {
                    target["due"] = due.clone();
                }
            }
            let mut goal = json!({
                "id": element_id(&g.code),
                "description": {
                    "coding": [coding(&code_system(&format!("{}-goals", t.code)), &g.code, Some(&g.title.ja))],
                    "text": g.title.ja,
                },
                "target": targets,
            });
            if let Some(due) = &g.due {
                goal["extension"] = json!([due_extension(due)]);
                goal["start"] = json!({
                    "coding": [coding(&stage_system, &due.stage, None)],
                });
            }
            goal
        })
        .collect();
    let actions: Vec<Value> = t
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut a = json!({
                "id": element_id(&s.code),
                "title": s.title.ja,
                "code": [{ "coding": [coding(&stage_system, &s.code, Some(&s.title.ja))] }],
                "participant": s.provider_kinds.iter().map(|k| {
                    let (code, display) = provider_kind(*k);
                    json!({
                        "type": "practitioner",
                        "role": { "coding": [coding(&code_system("provider-kind"), code, Some(display))] },
                    })
                }).collect::<Vec<_>>(),
            });
            if let Some(days) = s.expected_days {
                a["timingDuration"] = json!({
                    "value": days, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d",
                });
            }
            if let Some(max) = s.max_days {
                a["extension"] = json!([{
                    "url": format!("{CANONICAL_BASE}/StructureDefinition/stage-max-days"),
                    "valueDuration": { "value": max, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d" },
                }]);
            }
            if let Some(c) = &s.exit_criteria {
                a["description"] = json!(c);
            }
            let next: Vec<String> = match &s.next {
                Some(n) => n.clone(),
                None => t.stages.get(i + 1).map(|n| vec![n.code.clone()]).unwrap_or_default(),
            };
            if !next.is_empty() {
                a["relatedAction"] = next
                    .iter()
                    .map(|n| json!({ "actionId": element_id(n), "relationship": "before-start" }))
                    .collect();
            }
            let goal_ids: Vec<String> = t
                .goals
                .iter()
                .filter(|g| g.due.as_ref().is_some_and(|d| d.stage == s.code))
                .map(|g| element_id(&g.code))
                .collect();
            if !goal_ids.is_empty() {
                a["goalId"] = json!(goal_ids);
            }
            a
        })
        .collect();
    let mut r = json!({
        "resourceType": "PlanDefinition",
        "id": id,
        "url": canonical_url(&t.code),
        "version": version(t),
        "name": name(&t.code),
        "title": t.title.ja,
        "type": { "coding": [coding(
            "http://terminology.hl7.org/CodeSystem/plan-definition-type",
            "clinical-protocol",
            Some("Clinical Protocol"),
        )] },
        "status": "active",
        "publisher": "Renkei",
        "goal": goals,
        "action": actions,
    });
    if !t.description.is_empty() {
        r["description"] = json!(t.description);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every published template of the repository.
    fn templates() -> Vec<PathwayTemplate> {
        [
            include_str!("../../../pathways/stroke/v1.toml"),
            include_str!("../../../pathways/stroke/v2.toml"),
            include_str!("../../../pathways/femur-fracture/v1.toml"),
            include_str!("../../../pathways/femur-fracture/v2.toml"),
            include_str!("../../../pathways/diabetes/v1.toml"),
            include_str!("../../../pathways/diabetes/v2.toml"),
            include_str!("../../../pathways/ami/v1.toml"),
            include_str!("../../../pathways/heart-failure/v1.toml"),
            include_str!("../../../pathways/cancer-colorectal/v1.toml"),
            include_str!("../../../pathways/cancer-gastric/v1.toml"),
            include_str!("../../../pathways/cancer-liver/v1.toml"),
            include_str!("../../../pathways/cancer-lung/v1.toml"),
            include_str!("../../../pathways/cancer-breast/v1.toml"),
        ]
        .iter()
        .map(|src| {
            renkei_domain::template::parse_template(src, None)
                .unwrap_or_else(|e| panic!("template: {e:?}"))
        })
        .collect()
    }

    #[test]
    fn every_template_maps_each_stage_to_an_action_and_each_goal_to_a_goal() {
        for t in templates() {
            let pd = plan_definition("0190c0de-0000-7000-8000-000000000001", &t);
            assert_eq!(pd["url"], canonical_url(&t.code));
            assert_eq!(pd["version"], t.version.to_string());
            assert_eq!(
                canonical(&t),
                format!("{}|{}", canonical_url(&t.code), t.version)
            );
            let actions = pd["action"].as_array().cloned().unwrap_or_default();
            let goals = pd["goal"].as_array().cloned().unwrap_or_default();
            assert_eq!(actions.len(), t.stages.len(), "{}", t.code);
            assert_eq!(goals.len(), t.goals.len(), "{}", t.code);
            let action_ids: Vec<&str> = actions.iter().filter_map(|a| a["id"].as_str()).collect();
            let goal_ids: Vec<&str> = goals.iter().filter_map(|g| g["id"].as_str()).collect();
            for a in &actions {
                for r in a["relatedAction"].as_array().into_iter().flatten() {
                    let target = r["actionId"].as_str().unwrap_or_default();
                    assert!(action_ids.contains(&target), "{}: {target}", t.code);
                }
                for g in a["goalId"].as_array().into_iter().flatten() {
                    assert!(
                        goal_ids.contains(&g.as_str().unwrap_or_default()),
                        "{}",
                        t.code
                    );
                }
            }
            for (g, def) in goals.iter().zip(&t.goals) {
                assert!(
                    g["target"].as_array().is_some_and(|t| !t.is_empty()),
                    "{}",
                    def.code
                );
                assert_eq!(g["extension"].is_array(), def.due.is_some(), "{}", def.code);
                for target in g["target"].as_array().into_iter().flatten() {
                    assert!(
                        target["measure"]["coding"]
                            .as_array()
                            .is_some_and(|c| !c.is_empty())
                    );
                    let details = ["detailQuantity", "detailRange", "detailCodeableConcept"];
                    assert_eq!(
                        details.iter().filter(|d| target.get(**d).is_some()).count(),
                        1
                    );
                }
            }
        }
    }

    #[test]
    fn a_range_goal_keeps_both_bounds_and_items_keep_their_standard_codes() {
        let mut ranges = 0;
        for t in templates() {
            for g in &t.goals {
                if let renkei_domain::template::GoalTarget::Range { item, min, max } = &g.target {
                    let targets = crate::goal::targets(&t, &g.target);
                    assert_eq!(targets[0]["detailRange"]["low"]["value"], *min);
                    assert_eq!(targets[0]["detailRange"]["high"]["value"], *max);
                    let codings = targets[0]["measure"]["coding"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let standard = t
                        .items
                        .iter()
                        .find(|i| i.code == *item)
                        .map(|i| i.codes.len());
                    assert_eq!(Some(codings.len()), standard.map(|n| n + 1), "{}", g.code);
                    assert_eq!(codings.last().map(|c| c["code"].clone()), Some(json!(item)));
                    ranges += 1;
                }
            }
        }
        assert!(
            ranges > 0,
            "the templates have range goals (the elderly HbA1c band)"
        );
    }

    #[test]
    fn names_and_element_ids_are_made_from_codes() {
        assert_eq!(name("femur-fracture"), "FemurFracture");
        assert_eq!(name("stroke"), "Stroke");
        assert_eq!(element_id("fim_gain"), "fim-gain");
    }

    #[test]
    fn a_due_offset_keeps_its_single_unit() {
        let due = |months, days| Due {
            stage: "acute".into(),
            at: StageMoment::Start,
            months,
            days,
        };
        assert_eq!(
            due_duration(&due(0, 21)).map(|d| d["code"].clone()),
            Some(json!("d"))
        );
        assert_eq!(
            due_duration(&due(3, 0)).map(|d| d["value"].clone()),
            Some(json!(3))
        );
        assert_eq!(due_duration(&due(1, 2)), None);
        assert_eq!(
            due_extension(&due(1, 2))["extension"][3]["valueUnsignedInt"],
            2
        );
    }
}
