//! FHIR Bulk Data export (`$export`) of a region's plans for the council and research:
//! pseudonymised resources, one ndjson file per type.
//!
//! What a record carries: a pseudonymous id (the same on every export of the same server
//! key), the patient's sex and birth year only — no name, no identifier, no address, no
//! free text, no practitioner or organisation — and the plan's pathway, status, dates,
//! goal statuses and recorded values with their codes.

use chrono::{DateTime, Utc};
use renkei_domain::template::PathwayTemplate;
use serde_json::{Value, json};

/// The system-level operation `metadata` lists (FHIR Bulk Data Access).
pub const SYSTEM_OPERATION: crate::capability::Operation = crate::capability::Operation {
    name: "export",
    definition: "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
};

/// The resource types an export writes, in the manifest's order.
pub const EXPORT_TYPES: [&str; 4] = ["Patient", "CarePlan", "Goal", "Observation"];

/// A recorded value of a plan (the current view: voided values left out, corrections applied).
#[derive(Debug, Clone)]
pub struct ExportValue {
    /// Pseudonymous id of the entry the value belongs to.
    pub entry: String,
    pub item: String,
    pub value: Value,
    pub effective_at: DateTime<Utc>,
    pub stage: String,
}

/// A goal of the plan with the goal engine's status (`met`, `not_met`, `pending`,
/// `overdue`, `not_applicable`).
#[derive(Debug, Clone)]
pub struct ExportGoal {
    pub code: String,
    pub title_ja: String,
    pub status: String,
}

/// One plan of the export, already pseudonymised by the caller.
#[derive(Debug, Clone)]
pub struct ExportPlan<'a> {
    pub patient: String,
    pub plan: String,
    pub birth_year: i32,
    /// FHIR administrative gender.
    pub gender: String,
    /// `active`, `completed`, `revoked` (FHIR CarePlan status).
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub current_stage: String,
    pub goals: Vec<ExportGoal>,
    pub values: Vec<ExportValue>,
    pub template: &'a PathwayTemplate,
}

/// Canonical URL of a pathway's PlanDefinition.
pub fn plan_definition_url(code: &str) -> String {
    format!("https://renkei.example.jp/fhir/PlanDefinition/{code}")
}

fn item_system(template: &PathwayTemplate) -> String {
    format!(
        "https://renkei.example.jp/fhir/CodeSystem/{}-items",
        template.code
    )
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The pseudonymised Patient: sex and birth year only.
pub fn export_patient(p: &ExportPlan<'_>) -> Value {
    json!({
        "resourceType": "Patient",
        "id": p.patient,
        "gender": p.gender,
        "birthDate": format!("{:04}", p.birth_year),
    })
}

/// The plan as a CarePlan pinned to its pathway version.
pub fn export_care_plan(p: &ExportPlan<'_>) -> Value {
    let t = p.template;
    let mut period = json!({"start": instant(p.started_at)});
    if let Some(end) = p.ended_at {
        period["end"] = json!(instant(end));
    }
    let stage = t
        .stage(&p.current_stage)
        .map(|s| s.title.ja.clone())
        .unwrap_or_else(|| p.current_stage.clone());
    json!({
        "resourceType": "CarePlan",
        "id": p.plan,
        "instantiatesCanonical": [format!("{}|{}", plan_definition_url(&t.code), t.version)],
        "status": p.status,
        "intent": "plan",
        "title": t.title.ja,
        "description": format!("現在の病期: {stage}"),
        "subject": {"reference": format!("Patient/{}", p.patient)},
        "period": period,
        "goal": p.goals.iter().map(|g| json!({"reference": format!("Goal/{}", goal_id(p, g))})).collect::<Vec<_>>(),
    })
}

fn goal_id(p: &ExportPlan<'_>, g: &ExportGoal) -> String {
    let code: String = g
        .code
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{}-{code}", p.plan).chars().take(64).collect()
}

/// Each goal with the goal engine's status.
pub fn export_goals(p: &ExportPlan<'_>) -> Vec<Value> {
    p.goals
        .iter()
        .map(|g| {
            let mut v = json!({
                "resourceType": "Goal",
                "id": goal_id(p, g),
                "lifecycleStatus": if g.status == "not_applicable" { "cancelled" } else { "active" },
                "description": {
                    "coding": [{"system": format!("https://renkei.example.jp/fhir/CodeSystem/{}-goals", p.template.code), "code": g.code}],
                    "text": g.title_ja,
                },
                "subject": {"reference": format!("Patient/{}", p.patient)},
            });
            let achievement = match g.status.as_str() {
                "met" => Some("achieved"),
                "not_met" | "overdue" => Some("not-achieving"),
                "pending" => Some("in-progress"),
                _ => None,
            };
            if let Some(a) = achievement {
                v["achievementStatus"] = json!({"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/goal-achievement",
                    "code": a,
                }]});
            }
            v
        })
        .collect()
}

/// Each recorded value as an Observation with its standard codes (LOINC, JLAC10) and the
/// pathway's item code; free-text items are left out (they may name people).
pub fn export_observations(p: &ExportPlan<'_>) -> Vec<Value> {
    let t = p.template;
    let system = item_system(t);
    let mut out = Vec::new();
    for v in &p.values {
        let Some(item) = t.item(&v.item) else {
            continue;
        };
        let value = match &v.value {
            Value::Number(n) => {
                let mut q = json!({"value": n});
                if let Some(u) = &item.unit {
                    q["unit"] = json!(u);
                }
                ("valueQuantity", q)
            }
            Value::Bool(b) => ("valueBoolean", json!(b)),
            Value::String(s) => match &item.options {
                Some(options) => {
                    let Some(o) = options.iter().find(|o| &o.code == s) else {
                        continue;
                    };
                    (
                        "valueCodeableConcept",
                        json!({"coding": [{"system": system, "code": format!("{}.{}", item.code, o.code), "display": o.title.ja}]}),
                    )
                }
                None => continue,
            },
            _ => continue,
        };
        let mut coding: Vec<Value> = item
            .codes
            .iter()
            .map(|c| json!({"system": c.system, "code": c.code}))
            .collect();
        coding.push(json!({"system": system, "code": item.code, "display": item.title.ja}));
        let code: String = item
            .code
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let mut obs = json!({
            "resourceType": "Observation",
            "id": format!("{}-{code}", v.entry).chars().take(64).collect::<String>(),
            "status": "final",
            "code": {"coding": coding, "text": item.title.ja},
            "subject": {"reference": format!("Patient/{}", p.patient)},
            "effectiveDateTime": instant(v.effective_at),
        });
        obs[value.0] = value.1;
        out.push(obs);
    }
    out
}

/// Every resource of one plan, by type (in [`EXPORT_TYPES`] order).
pub fn export_plan(p: &ExportPlan<'_>) -> [(&'static str, Vec<Value>); 4] {
    [
        ("Patient", vec![export_patient(p)]),
        ("CarePlan", vec![export_care_plan(p)]),
        ("Goal", export_goals(p)),
        ("Observation", export_observations(p)),
    ]
}

/// The completion manifest of the Bulk Data specification.
pub fn manifest(
    transaction_time: DateTime<Utc>,
    request: &str,
    outputs: &[(String, String, usize)],
) -> Value {
    json!({
        "transactionTime": transaction_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "request": request,
        "requiresAccessToken": true,
        "output": outputs.iter().map(|(kind, url, count)| json!({"type": kind, "url": url, "count": count})).collect::<Vec<_>>(),
        "error": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_domain::template::parse_template;

    #[test]
    fn the_patient_keeps_sex_and_birth_year_only_and_free_text_is_left_out() {
        let t = parse_template(include_str!("../../../pathways/stroke/v2.toml"), None)
            .expect("the stroke template parses");
        let at = Utc::now();
        let free_text = t
            .items
            .iter()
            .find(|i| {
                i.options.is_none()
                    && matches!(i.item_type, renkei_domain::template::ItemType::Text)
            })
            .map(|i| i.code.clone());
        let mut values = vec![ExportValue {
            entry: "e1".into(),
            item: "fim_total".into(),
            value: json!(52),
            effective_at: at,
            stage: "acute".into(),
        }];
        if let Some(code) = &free_text {
            values.push(ExportValue {
                entry: "e1".into(),
                item: code.clone(),
                value: json!("山田さんの長女から電話"),
                effective_at: at,
                stage: "acute".into(),
            });
        }
        let plan = ExportPlan {
            patient: "pp".into(),
            plan: "pl".into(),
            birth_year: 1948,
            gender: "female".into(),
            status: "active".into(),
            started_at: at,
            ended_at: None,
            current_stage: "acute".into(),
            goals: vec![],
            values,
            template: &t,
        };
        let p = export_patient(&plan);
        assert_eq!(
            p,
            json!({"resourceType": "Patient", "id": "pp", "gender": "female", "birthDate": "1948"})
        );
        let obs = export_observations(&plan);
        assert_eq!(obs.len(), 1, "only the coded and numeric values");
        assert_eq!(obs[0]["valueQuantity"]["value"], 52);
        assert!(!serde_json::to_string(&obs).expect("json").contains("長女"));
    }
}
