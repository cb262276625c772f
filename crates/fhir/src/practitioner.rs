//! Practitioner per JP Core (JP_Practitioner) and PractitionerRole (JP_PractitionerRole):
//! a Renkei user's name and profession, and the one organisation they act for with
//! their profession and administrative roles. Logins and credentials never leave.

use crate::capability::{self, ResourceCapability, SearchParam};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::common::{self, coding, meta, reference_with_display};

pub const PROFILE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Practitioner";
pub const ROLE_PROFILE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_PractitionerRole";

/// A practitioner as the mapper reads it.
#[derive(Debug, Clone)]
pub struct PractitionerInput {
    pub id: String,
    /// The name as registered (漢字, family and given separated by a space).
    pub name: String,
    /// `physician`, `nurse` …
    pub profession: String,
    pub roles: Vec<String>,
    pub organization_id: String,
    pub organization_name: String,
    pub active: bool,
    pub last_updated: DateTime<Utc>,
}

/// The FHIR id of a practitioner's PractitionerRole.
pub fn role_id(practitioner_id: &str) -> String {
    format!("role-{practitioner_id}")
}

/// The practitioner id of a PractitionerRole id.
pub fn parse_role_id(id: &str) -> Option<&str> {
    id.strip_prefix("role-")
}

fn profession_coding(profession: &str) -> Value {
    coding(&common::code_system("profession"), profession, None)
}

/// The name: `text` as registered, split into family and given where it has two parts.
fn name(full: &str) -> Value {
    let parts: Vec<&str> = full
        .split(|c: char| c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    let mut n = json!({
        "extension": [{ "url": crate::patient::EN_REPRESENTATION, "valueCode": "IDE" }],
        "use": "official",
        "text": parts.join(" "),
    });
    if let [family, given] = parts.as_slice() {
        n["family"] = json!(family);
        n["given"] = json!([given]);
    }
    n
}

/// The Practitioner resource.
pub fn practitioner(p: &PractitionerInput) -> Value {
    json!({
        "resourceType": "Practitioner",
        "id": p.id,
        "meta": meta(p.last_updated, Some(PROFILE)),
        "active": p.active,
        "name": [name(&p.name)],
        "qualification": [{ "code": { "coding": [profession_coding(&p.profession)] } }],
    })
}

/// The PractitionerRole resource.
pub fn practitioner_role(p: &PractitionerInput) -> Value {
    let mut codes = vec![json!({ "coding": [profession_coding(&p.profession)] })];
    for r in &p.roles {
        codes.push(json!({ "coding": [coding(&common::code_system("admin-role"), r, None)] }));
    }
    json!({
        "resourceType": "PractitionerRole",
        "id": role_id(&p.id),
        "meta": meta(p.last_updated, Some(ROLE_PROFILE)),
        "active": p.active,
        "practitioner": reference_with_display("Practitioner", &p.id, name(&p.name)["text"].as_str().unwrap_or_default()),
        "organization": reference_with_display("Organization", &p.organization_id, &p.organization_name),
        "code": codes,
    })
}

/// The `organization` search parameter of Practitioner and PractitionerRole.
pub const ORGANIZATION: SearchParam = SearchParam {
    name: "organization",
    kind: "reference",
    documentation: "The organisation (Organization/{id} or the bare id); default the caller's own",
};

/// What the server does with Practitioner.
pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "Practitioner",
    profile: Some(PROFILE),
    interactions: &["read", "search-type"],
    search_params: &[ORGANIZATION, capability::LAST_UPDATED],
    search_include: &[],
    operations: &[],
};

/// What the server does with PractitionerRole.
pub const ROLE_CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "PractitionerRole",
    profile: Some(ROLE_PROFILE),
    interactions: &["read", "search-type"],
    search_params: &[ORGANIZATION, capability::LAST_UPDATED],
    search_include: &[],
    operations: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PractitionerInput {
        PractitionerInput {
            id: "a1".into(),
            name: "山田　花子".into(),
            profession: "nurse".into(),
            roles: vec!["org_admin".into()],
            organization_id: "o1".into(),
            organization_name: "急性期病院".into(),
            active: true,
            last_updated: DateTime::from_timestamp(1_765_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn a_practitioner_has_a_split_name_and_a_profession() {
        let p = practitioner(&input());
        assert_eq!(p["meta"]["profile"][0], PROFILE);
        assert_eq!(p["name"][0]["text"], "山田 花子");
        assert_eq!(p["name"][0]["family"], "山田");
        assert_eq!(p["name"][0]["given"][0], "花子");
        assert_eq!(p["qualification"][0]["code"]["coding"][0]["code"], "nurse");
        assert!(p.get("identifier").is_none());
    }

    #[test]
    fn the_role_links_practitioner_and_organisation() {
        let r = practitioner_role(&input());
        assert_eq!(r["id"], "role-a1");
        assert_eq!(parse_role_id("role-a1"), Some("a1"));
        assert_eq!(r["practitioner"]["reference"], "Practitioner/a1");
        assert_eq!(r["organization"]["reference"], "Organization/o1");
        assert_eq!(r["code"][0]["coding"][0]["code"], "nurse");
        assert_eq!(r["code"][1]["coding"][0]["code"], "org_admin");
    }

    #[test]
    fn a_one_part_name_keeps_its_text_only() {
        let mut i = input();
        i.name = "Renkei".into();
        let p = practitioner(&i);
        assert_eq!(p["name"][0]["text"], "Renkei");
        assert!(p["name"][0].get("family").is_none());
    }
}
