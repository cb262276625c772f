//! Patient per JP Core (JP_Patient): the 漢字 name and the カナ name, each marked with the
//! `iso21090-EN-representation` extension (`IDE` ideographic, `SYL` syllabic), family and
//! given parts joined by a half-width space in `text`; birth date; sex; and every
//! organisation's patient number (カルテ番号) in that organisation's namespace.

use crate::capability::{self, ResourceCapability, SearchParam};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::common::{self, meta};

pub const PROFILE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient";

/// The extension marking a name's representation (R4 core extension).
pub const EN_REPRESENTATION: &str =
    "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";

/// JP Core's namespace of a medical institution's patient numbers: this OID followed by
/// the institution's 10-digit number (医療機関コード), e.g.
/// `urn:oid:1.2.392.100495.20.3.51.11318814790` (JP Core patient examples).
pub const JP_PATIENT_ID_OID: &str = "urn:oid:1.2.392.100495.20.3.51.1";

/// One organisation's patient number.
#[derive(Debug, Clone)]
pub struct IdentifierInput {
    pub organization_id: String,
    pub organization_code: String,
    pub organization_name: String,
    pub value: String,
}

/// A patient as the mapper reads it.
#[derive(Debug, Clone)]
pub struct PatientInput {
    pub id: String,
    pub family: String,
    pub given: String,
    /// Full-width katakana.
    pub family_kana: String,
    pub given_kana: String,
    pub birth_date: NaiveDate,
    /// `male`, `female`, `other` or `unknown` (the FHIR codes).
    pub sex: String,
    pub identifiers: Vec<IdentifierInput>,
    pub last_updated: DateTime<Utc>,
}

/// Whether an organisation code is a 10-digit medical institution number
/// (都道府県 2 + 点数表 1 + 医療機関コード 7).
pub fn is_institution_number(code: &str) -> bool {
    code.len() == 10 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The namespace of an organisation's patient numbers: JP Core's OID form when the
/// organisation code is its 10-digit institution number, Renkei's otherwise.
pub fn identifier_system(organization_code: &str) -> String {
    if is_institution_number(organization_code) {
        format!("{JP_PATIENT_ID_OID}{organization_code}")
    } else {
        format!(
            "{}/NamingSystem/patient-number/{organization_code}",
            common::CANONICAL_BASE
        )
    }
}

/// Hiragana as katakana (JP Core writes the SYL name in full-width katakana).
pub fn to_katakana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            c => c,
        })
        .collect()
}

fn name(representation: &str, family: &str, given: &str) -> Value {
    json!({
        "extension": [{ "url": EN_REPRESENTATION, "valueCode": representation }],
        "use": "official",
        "text": format!("{family} {given}"),
        "family": family,
        "given": [given],
    })
}

/// The Patient resource.
pub fn patient(p: &PatientInput) -> Value {
    let identifiers: Vec<Value> = p
        .identifiers
        .iter()
        .map(|i| {
            json!({
                "use": "usual",
                "type": {
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                        "code": "MR",
                    }],
                },
                "system": identifier_system(&i.organization_code),
                "value": i.value,
                "assigner": common::reference_with_display(
                    "Organization",
                    &i.organization_id,
                    &i.organization_name,
                ),
            })
        })
        .collect();
    let kana_family = to_katakana(&p.family_kana);
    let kana_given = to_katakana(&p.given_kana);
    let gender = match p.sex.as_str() {
        s @ ("male" | "female" | "other") => s,
        _ => "unknown",
    };
    let mut out = json!({
        "resourceType": "Patient",
        "id": p.id,
        "meta": meta(p.last_updated, Some(PROFILE)),
        "name": [
            name("IDE", &p.family, &p.given),
            name("SYL", &kana_family, &kana_given),
        ],
        "gender": gender,
        "birthDate": common::date(p.birth_date),
    });
    if !identifiers.is_empty() {
        out["identifier"] = Value::Array(identifiers);
    }
    out
}

/// `_id`.
pub const ID: SearchParam = SearchParam {
    name: "_id",
    kind: "token",
    documentation: "The resource's id",
};

/// `identifier`: a patient number with its namespace (`system|value`); for
/// Organization, the organisation code (`value` or `system|value`).
pub const IDENTIFIER: SearchParam = SearchParam {
    name: "identifier",
    kind: "token",
    documentation: "system|value (or the value alone, for Organization)",
};

/// What the server does with Patient.
pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "Patient",
    profile: Some(PROFILE),
    interactions: &["read", "search-type"],
    search_params: &[ID, IDENTIFIER, capability::LAST_UPDATED],
    search_include: &[],
    operations: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn input(orgs: &[(&str, &str)]) -> PatientInput {
        PatientInput {
            id: "0190c0de-0000-7000-8000-0000000000bb".into(),
            family: "山田".into(),
            given: "太郎".into(),
            family_kana: "やまだ".into(),
            given_kana: "タロウ".into(),
            birth_date: NaiveDate::from_ymd_opt(1948, 4, 1).unwrap_or_default(),
            sex: "male".into(),
            identifiers: orgs
                .iter()
                .map(|(code, value)| IdentifierInput {
                    organization_id: format!("org-{code}"),
                    organization_code: (*code).into(),
                    organization_name: format!("{code} 病院"),
                    value: (*value).into(),
                })
                .collect(),
            last_updated: DateTime::from_timestamp(1_765_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn names_are_marked_ideographic_and_syllabic_in_katakana() {
        let p = patient(&input(&[]));
        assert_eq!(p["meta"]["profile"][0], PROFILE);
        assert_eq!(p["name"][0]["extension"][0]["url"], EN_REPRESENTATION);
        assert_eq!(p["name"][0]["extension"][0]["valueCode"], "IDE");
        assert_eq!(p["name"][0]["text"], "山田 太郎");
        assert_eq!(p["name"][0]["family"], "山田");
        assert_eq!(p["name"][0]["given"][0], "太郎");
        assert_eq!(p["name"][1]["extension"][0]["valueCode"], "SYL");
        assert_eq!(p["name"][1]["text"], "ヤマダ タロウ");
        assert_eq!(p["birthDate"], "1948-04-01");
        assert_eq!(p["gender"], "male");
        assert!(p.get("identifier").is_none());
    }

    #[test]
    fn each_organisations_number_is_in_its_own_namespace() {
        let p = patient(&input(&[("acute-1", "A-001"), ("1318814790", "000999739")]));
        assert_eq!(
            p["identifier"][0]["system"],
            "https://renkei.example.jp/fhir/NamingSystem/patient-number/acute-1"
        );
        assert_eq!(p["identifier"][0]["value"], "A-001");
        assert_eq!(
            p["identifier"][0]["assigner"]["reference"],
            "Organization/org-acute-1"
        );
        assert_eq!(
            p["identifier"][1]["system"],
            "urn:oid:1.2.392.100495.20.3.51.11318814790"
        );
        assert_eq!(p["identifier"][1]["type"]["coding"][0]["code"], "MR");
    }

    #[test]
    fn hiragana_becomes_katakana_and_other_text_stays() {
        assert_eq!(to_katakana("やまだ ゔぁ"), "ヤマダ ヴァ");
        assert_eq!(to_katakana("ヤマダ"), "ヤマダ");
        assert_eq!(to_katakana("山田"), "山田");
    }

    #[test]
    fn unknown_sexes_are_unknown() {
        let mut i = input(&[]);
        i.sex = "x".into();
        assert_eq!(patient(&i)["gender"], "unknown");
    }
}
