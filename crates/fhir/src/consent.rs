//! Consent: the patient's consent to share a care plan (scope `patient-privacy`), who
//! gave it (the patient, or a proxy), the organisation that obtained it, the period it
//! was in force, the organisations it names (scope `listed`) and its purposes (care,
//! and optionally regional statistics). A withdrawn consent is `inactive`.

use crate::capability::{self, ResourceCapability};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::common::{self, coding, instant, meta, reference, reference_with_display};
use crate::task::OrgRef;

/// A consent record as the mapper reads it.
#[derive(Debug, Clone)]
pub struct ConsentInput {
    pub id: String,
    pub plan_id: String,
    pub patient_id: String,
    /// `care_team` or `listed`.
    pub scope: String,
    /// The organisations a `listed` consent names.
    pub organizations: Vec<OrgRef>,
    /// `care`, `statistics`.
    pub purposes: Vec<String>,
    /// `paper` or `electronic`.
    pub method: String,
    /// `self` or `proxy`.
    pub signer: String,
    pub proxy_relationship: Option<String>,
    pub obtained_by: OrgRef,
    pub obtained_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawal_reason: Option<String>,
}

const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

/// The consent's status: `active` until withdrawn, `inactive` after.
pub fn status(c: &ConsentInput) -> &'static str {
    if c.withdrawn_at.is_some() {
        "inactive"
    } else {
        "active"
    }
}

/// When the consent record last changed.
pub fn last_updated(c: &ConsentInput) -> DateTime<Utc> {
    c.withdrawn_at.unwrap_or(c.recorded_at).max(c.recorded_at)
}

fn purpose(p: &str) -> Value {
    match p {
        "care" => coding(ACT_REASON, "TREAT", Some("treatment")),
        "statistics" => coding(ACT_REASON, "HRESCH", Some("healthcare research")),
        other => coding(&common::code_system("consent-purpose"), other, None),
    }
}

/// The Consent resource.
pub fn consent(c: &ConsentInput) -> Value {
    let mut period = json!({ "start": instant(c.obtained_at) });
    if let Some(end) = c.withdrawn_at {
        period["end"] = json!(instant(end));
    }
    let mut provision = json!({
        "type": "permit",
        "period": period,
        "purpose": c.purposes.iter().map(|p| purpose(p)).collect::<Vec<_>>(),
        "data": [{ "meaning": "related", "reference": reference("CarePlan", &c.plan_id) }],
    });
    if c.scope == "listed" {
        provision["actor"] = c
            .organizations
            .iter()
            .map(|o| {
                json!({
                    "role": { "coding": [coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP", Some("information recipient"))] },
                    "reference": reference_with_display("Organization", &o.id, &o.name),
                })
            })
            .collect();
    }
    let performer = if c.signer == "proxy" {
        json!({ "display": c.proxy_relationship.clone().unwrap_or_else(|| "proxy".into()) })
    } else {
        reference("Patient", &c.patient_id)
    };
    let mut out = json!({
        "resourceType": "Consent",
        "id": c.id,
        "meta": meta(last_updated(c), None),
        "status": status(c),
        "scope": { "coding": [coding("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy", Some("Privacy Consent"))] },
        "category": [
            { "coding": [coding("http://loinc.org", "59284-0", Some("Patient Consent"))] },
            { "coding": [coding(&common::code_system("consent-scope"), &c.scope, None)] },
        ],
        "patient": reference("Patient", &c.patient_id),
        "dateTime": instant(c.obtained_at),
        "performer": [performer],
        "organization": [reference_with_display("Organization", &c.obtained_by.id, &c.obtained_by.name)],
        "policyRule": { "coding": [coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN", Some("opt-in"))] },
        "provision": provision,
        "extension": [{
            "url": format!("{}/StructureDefinition/consent-method", common::CANONICAL_BASE),
            "valueCode": c.method,
        }],
    });
    if let Some(reason) = c.withdrawal_reason.as_deref()
        && let Some(list) = out["extension"].as_array_mut()
        && !reason.trim().is_empty()
    {
        list.push(json!({
            "url": format!("{}/StructureDefinition/consent-withdrawal-reason", common::CANONICAL_BASE),
            "valueString": reason,
        }));
    }
    out
}

/// What the server does with Consent.
pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "Consent",
    profile: None,
    interactions: &["read", "search-type"],
    search_params: &[
        capability::PATIENT,
        capability::STATUS,
        capability::LAST_UPDATED,
    ],
    search_include: &[],
    operations: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ConsentInput {
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        };
        ConsentInput {
            id: "c1".into(),
            plan_id: "p1".into(),
            patient_id: "pt1".into(),
            scope: "listed".into(),
            organizations: vec![OrgRef {
                id: "o2".into(),
                name: "回復期病院".into(),
            }],
            purposes: vec!["care".into(), "statistics".into()],
            method: "paper".into(),
            signer: "self".into(),
            proxy_relationship: None,
            obtained_by: OrgRef {
                id: "o1".into(),
                name: "急性期病院".into(),
            },
            obtained_at: t("2026-12-01T00:00:00Z"),
            recorded_at: t("2026-12-01T01:00:00Z"),
            withdrawn_at: None,
            withdrawal_reason: None,
        }
    }

    #[test]
    fn an_active_consent_names_its_organisations_and_purposes() {
        let c = consent(&input());
        assert_eq!(c["status"], "active");
        assert_eq!(c["scope"]["coding"][0]["code"], "patient-privacy");
        assert_eq!(c["patient"]["reference"], "Patient/pt1");
        assert_eq!(c["performer"][0]["reference"], "Patient/pt1");
        assert_eq!(c["organization"][0]["reference"], "Organization/o1");
        assert_eq!(
            c["provision"]["actor"][0]["reference"]["reference"],
            "Organization/o2"
        );
        assert_eq!(c["provision"]["purpose"][0]["code"], "TREAT");
        assert_eq!(c["provision"]["purpose"][1]["code"], "HRESCH");
        assert_eq!(
            c["provision"]["data"][0]["reference"]["reference"],
            "CarePlan/p1"
        );
        assert!(c["provision"]["period"].get("end").is_none());
    }

    #[test]
    fn a_withdrawn_consent_is_inactive_and_its_period_ends() {
        let mut i = input();
        i.scope = "care_team".into();
        i.signer = "proxy".into();
        i.proxy_relationship = Some("長男".into());
        i.withdrawn_at = Some(i.obtained_at + chrono::Duration::days(3));
        i.withdrawal_reason = Some("本人の希望".into());
        let c = consent(&i);
        assert_eq!(c["status"], "inactive");
        assert_eq!(c["provision"]["period"]["end"], "2026-12-04T00:00:00Z");
        assert!(c["provision"].get("actor").is_none());
        assert_eq!(c["performer"][0]["display"], "長男");
        assert_eq!(c["meta"]["lastUpdated"], "2026-12-04T00:00:00Z");
    }
}
