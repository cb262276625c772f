//! Organization per JP Core (JP_Organization): the organisation code as a Renkei
//! identifier (and, when it is one, as the 10-digit medical institution number JP Core
//! names `medicalInstitutionCode`), its name, kind and liaison-office telephone.

use crate::capability::{self, ResourceCapability};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::common::{self, coding, meta};

pub const PROFILE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Organization";

/// JP Core's system of the 10-digit medical institution number (医療機関コード).
pub const INSTITUTION_NUMBER_SYSTEM: &str =
    "http://jpfhir.jp/fhir/Common/IdSystem/insurance-medical-institution-no";

/// An organisation as the mapper reads it.
#[derive(Debug, Clone)]
pub struct OrganizationInput {
    pub id: String,
    pub code: String,
    pub name: String,
    /// `acute_hospital`, `recovery_hospital`, `clinic` …
    pub kind: String,
    pub phone: Option<String>,
    pub last_updated: DateTime<Utc>,
}

/// The system of Renkei's organisation codes.
pub fn code_system() -> String {
    format!("{}/NamingSystem/organization", common::CANONICAL_BASE)
}

/// The Organization resource.
pub fn organization(o: &OrganizationInput) -> Value {
    let mut identifiers = vec![json!({ "system": code_system(), "value": o.code })];
    if crate::patient::is_institution_number(&o.code) {
        identifiers.push(json!({ "system": INSTITUTION_NUMBER_SYSTEM, "value": o.code }));
    }
    let mut out = json!({
        "resourceType": "Organization",
        "id": o.id,
        "meta": meta(o.last_updated, Some(PROFILE)),
        "identifier": identifiers,
        "active": true,
        "type": [{
            "coding": [
                coding("http://terminology.hl7.org/CodeSystem/organization-type", "prov", Some("Healthcare Provider")),
                coding(&common::code_system("organization-kind"), &o.kind, None),
            ],
        }],
        "name": o.name,
    });
    if let Some(phone) = o.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        out["telecom"] = json!([{ "system": "phone", "value": phone, "use": "work" }]);
    }
    out
}

/// What the server does with Organization.
pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "Organization",
    profile: Some(PROFILE),
    interactions: &["read", "search-type"],
    search_params: &[crate::patient::IDENTIFIER, capability::LAST_UPDATED],
    search_include: &[],
    operations: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn input(code: &str) -> OrganizationInput {
        OrganizationInput {
            id: "o1".into(),
            code: code.into(),
            name: "急性期病院".into(),
            kind: "acute_hospital".into(),
            phone: Some("043-000-0000".into()),
            last_updated: DateTime::from_timestamp(1_765_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn the_code_is_an_identifier_and_an_institution_number_when_it_is_one() {
        let o = organization(&input("acute-1"));
        assert_eq!(o["identifier"].as_array().map(Vec::len), Some(1));
        assert_eq!(o["identifier"][0]["value"], "acute-1");
        assert_eq!(o["telecom"][0]["value"], "043-000-0000");
        assert_eq!(o["type"][0]["coding"][1]["code"], "acute_hospital");
        let jp = organization(&input("1311234567"));
        assert_eq!(jp["identifier"][1]["system"], INSTITUTION_NUMBER_SYSTEM);
    }
}
