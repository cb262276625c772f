//! AuditEvent: one per row of the audit log — who (practitioner, organisation, network
//! address), what (the Renkei action as subtype, the resource and, where there is one,
//! the patient and care plan), when, and whether it was allowed; the event's leaf hash
//! in the region's Merkle log and the request id as entity details.

use crate::capability::{self, ResourceCapability};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::common::{self, coding, instant, meta, reference};

/// An audit log row as the mapper reads it.
#[derive(Debug, Clone)]
pub struct AuditInput {
    pub id: String,
    pub at: DateTime<Utc>,
    pub region: String,
    pub practitioner_id: Option<String>,
    pub organization_id: Option<String>,
    /// `care_plan.read`, `entry.append` …
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub patient_id: Option<String>,
    pub care_plan_id: Option<String>,
    /// `allowed` or `denied`.
    pub outcome: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
    pub hash: String,
}

/// The FHIR action code (C, R, U, D, E) of a Renkei audit action.
pub fn action_code(action: &str) -> &'static str {
    let verb = action.rsplit('.').next().unwrap_or(action);
    match verb {
        "read" | "list" | "search" | "history" | "access_report" | "export" | "print" => "R",
        "append" | "create" | "record" | "add" | "propose" | "enrol" | "grant" | "declare" => "C",
        "amend" | "answer" | "send" | "withdraw" | "lifecycle" | "individualize" | "update"
        | "review" => "U",
        "delete" | "remove" => "D",
        _ => "E",
    }
}

/// The AuditEvent resource.
pub fn audit_event(a: &AuditInput) -> Value {
    let denied = a.outcome != "allowed";
    let mut agents = Vec::new();
    match &a.practitioner_id {
        Some(p) => {
            let mut agent = json!({
                "type": { "coding": [coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type", "humanuser", Some("human user"))] },
                "who": reference("Practitioner", p),
                "requestor": true,
            });
            if let Some(addr) = a.client_addr.as_deref().filter(|s| !s.is_empty()) {
                agent["network"] = json!({ "address": addr, "type": "2" });
            }
            agents.push(agent);
        }
        None => agents.push(json!({
            "type": { "coding": [coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type", "dataprocessor", Some("data processor"))] },
            "who": { "display": "Renkei" },
            "requestor": false,
        })),
    }
    if let Some(o) = &a.organization_id {
        agents.push(json!({
            "type": { "coding": [coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV", Some("healthcare provider"))] },
            "who": reference("Organization", o),
            "requestor": false,
        }));
    }
    let mut entities = Vec::new();
    if let Some(p) = &a.patient_id {
        entities.push(json!({
            "what": reference("Patient", p),
            "type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", Some("Person")),
            "role": coding("http://terminology.hl7.org/CodeSystem/object-role", "1", Some("Patient")),
        }));
    }
    if let Some(c) = &a.care_plan_id {
        entities.push(json!({
            "what": reference("CarePlan", c),
            "type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", Some("System Object")),
        }));
    }
    let mut details = vec![json!({ "type": "hash", "valueString": a.hash })];
    if let Some(r) = a.request_id.as_deref().filter(|s| !s.is_empty()) {
        details.push(json!({ "type": "request-id", "valueString": r }));
    }
    let mut resource = json!({
        "type": coding(&common::code_system("audit-resource"), &a.resource_type, None),
        "detail": details,
    });
    if let Some(id) = a.resource_id.as_deref().filter(|s| !s.is_empty()) {
        resource["what"] = json!({ "identifier": { "value": id } });
    }
    entities.push(resource);
    let mut out = json!({
        "resourceType": "AuditEvent",
        "id": a.id,
        "meta": meta(a.at, None),
        "type": coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", Some("RESTful Operation")),
        "subtype": [coding(&common::code_system("audit-action"), &a.action, None)],
        "action": action_code(&a.action),
        "recorded": instant(a.at),
        "outcome": if denied { "4" } else { "0" },
        "agent": agents,
        "source": {
            "site": a.region,
            "observer": { "display": "Renkei" },
            "type": [coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", Some("Application Server"))],
        },
        "entity": entities,
    });
    if let Some(d) = a.detail.as_deref().filter(|s| !s.is_empty()) {
        out["outcomeDesc"] = json!(d);
    }
    out
}

/// What the server does with AuditEvent.
pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "AuditEvent",
    profile: None,
    interactions: &["read", "search-type"],
    search_params: &[capability::PATIENT, capability::LAST_UPDATED],
    search_include: &[],
    operations: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn input(outcome: &str) -> AuditInput {
        AuditInput {
            id: "e1".into(),
            at: DateTime::from_timestamp(1_765_000_000, 0).unwrap_or_default(),
            region: "chiba-1".into(),
            practitioner_id: Some("a1".into()),
            organization_id: Some("o1".into()),
            action: "care_plan.read".into(),
            resource_type: "care_plan".into(),
            resource_id: Some("p1".into()),
            patient_id: Some("pt1".into()),
            care_plan_id: Some("p1".into()),
            outcome: outcome.into(),
            request_id: Some("req-1".into()),
            client_addr: Some("127.0.0.1".into()),
            detail: Some("fhir CarePlan".into()),
            hash: "abcd".into(),
        }
    }

    #[test]
    fn an_allowed_read_names_who_what_and_the_patient() {
        let a = audit_event(&input("allowed"));
        assert_eq!(a["action"], "R");
        assert_eq!(a["outcome"], "0");
        assert_eq!(a["subtype"][0]["code"], "care_plan.read");
        assert_eq!(a["agent"][0]["who"]["reference"], "Practitioner/a1");
        assert_eq!(a["agent"][0]["requestor"], true);
        assert_eq!(a["agent"][0]["network"]["address"], "127.0.0.1");
        assert_eq!(a["agent"][1]["who"]["reference"], "Organization/o1");
        assert_eq!(a["entity"][0]["what"]["reference"], "Patient/pt1");
        assert_eq!(a["entity"][1]["what"]["reference"], "CarePlan/p1");
        assert_eq!(a["entity"][2]["detail"][0]["valueString"], "abcd");
        assert_eq!(a["outcomeDesc"], "fhir CarePlan");
        assert_eq!(a["source"]["site"], "chiba-1");
    }

    #[test]
    fn a_denial_is_a_failure_and_actions_map_to_crude() {
        assert_eq!(audit_event(&input("denied"))["outcome"], "4");
        assert_eq!(action_code("entry.append"), "C");
        assert_eq!(action_code("entry.amend"), "U");
        assert_eq!(action_code("entry.list"), "R");
        assert_eq!(action_code("login"), "E");
    }

    #[test]
    fn a_system_event_has_no_practitioner() {
        let mut i = input("allowed");
        i.practitioner_id = None;
        i.organization_id = None;
        let a = audit_event(&i);
        assert_eq!(a["agent"][0]["who"]["display"], "Renkei");
        assert_eq!(a["agent"].as_array().map(Vec::len), Some(1));
    }
}
