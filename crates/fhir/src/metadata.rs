//! The CapabilityStatement (`metadata`): built from [`SERVED`], the one table of the
//! resource types this server answers. Each type's module declares its own
//! [`ResourceCapability`] and adds one line here; the HTTP router serves exactly the
//! types of this table (its test checks every listed interaction answers).

use serde_json::{Value, json};

use crate::capability::ResourceCapability;
use crate::common::{FHIR_VERSION, MEDIA_TYPE};

/// Every resource type served, in the order the statement lists them.
pub const SERVED: &[ResourceCapability] = &[
    // PlanDefinition … Goal
    crate::plan_definition::CAPABILITY,
    crate::care_plan::CAPABILITY,
    crate::care_team::CAPABILITY,
    crate::goal::CAPABILITY,
    // Observation … AuditEvent
    crate::observation::CAPABILITY,
    crate::patient::CAPABILITY,
    crate::organization::CAPABILITY,
    crate::practitioner::CAPABILITY,
    crate::practitioner::ROLE_CAPABILITY,
    crate::task::CAPABILITY,
    crate::consent::CAPABILITY,
    crate::provenance::CAPABILITY,
    crate::audit_event::CAPABILITY,
    // Composition (the referral letter)
    crate::composition::CAPABILITY,
];

/// The capability of `kind`, when it is served.
pub fn served(kind: &str) -> Option<&'static ResourceCapability> {
    SERVED.iter().find(|c| c.kind == kind)
}

/// The CapabilityStatement of this server; `base` is the absolute URL of `/fhir/r4`,
/// `software_version` the running build's version, `date` when it was published.
pub fn capability_statement(base: &str, software_version: &str, date: &str) -> Value {
    let resources: Vec<Value> = SERVED.iter().map(resource).collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "Renkei",
        "kind": "instance",
        "software": { "name": "Renkei", "version": software_version },
        "implementation": {
            "description": "Renkei regional care-pathway record (地域医療連携パス)",
            "url": base,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["json", MEDIA_TYPE.split(';').next().unwrap_or(MEDIA_TYPE)],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": false,
                "description": "Authorization: Bearer <token>, the same tokens as /api/v1",
            },
            "resource": resources,
            // POST [base]: a transaction Bundle of lab-result Observations (the import).
            "interaction": [{
                "code": "transaction",
                "documentation": "A transaction Bundle of lab-result Observations, imported as entries of the patients' care plans, all or nothing",
            }],
            "operation": [{
                "name": crate::export::SYSTEM_OPERATION.name,
                "definition": crate::export::SYSTEM_OPERATION.definition,
            }],
        }],
    })
}

fn resource(c: &ResourceCapability) -> Value {
    let mut r = json!({
        "type": c.kind,
        "interaction": c.interactions.iter().map(|i| json!({ "code": i })).collect::<Vec<_>>(),
    });
    if let Some(p) = c.profile {
        r["profile"] = json!(p);
    }
    if !c.search_params.is_empty() {
        r["searchParam"] = c
            .search_params
            .iter()
            .map(|p| json!({ "name": p.name, "type": p.kind, "documentation": p.documentation }))
            .collect();
    }
    if !c.search_include.is_empty() {
        r["searchInclude"] = json!(c.search_include);
    }
    if !c.operations.is_empty() {
        r["operation"] = c
            .operations
            .iter()
            .map(|o| json!({ "name": o.name, "definition": o.definition }))
            .collect();
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_lists_each_served_type_once() {
        let s = capability_statement("https://h/fhir/r4", "0.1.0", "2026-12-10");
        assert_eq!(s["resourceType"], "CapabilityStatement");
        assert_eq!(s["fhirVersion"], "4.0.1");
        let listed: Vec<&str> = s["rest"][0]["resource"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["type"].as_str()).collect())
            .unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        for kind in &listed {
            assert!(seen.insert(*kind), "{kind} twice");
            assert!(served(kind).is_some());
        }
        assert_eq!(listed.len(), SERVED.len());
    }
}
