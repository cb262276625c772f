//! Observation: one per value recorded in an entry. The code carries the template item's
//! standard codes (LOINC, JLAC10) where it has them and always the pathway's own item
//! code; `effectiveDateTime` is when the value was observed, `issued` when it was
//! recorded; a computed total (`composite` item) names the item values it was summed
//! from in `derivedFrom`. A correction is `amended`; the version it replaced, and every
//! version of a chain voided by an `entered_in_error` entry, are `entered-in-error`.

use crate::capability::{self, ResourceCapability};
use chrono::{DateTime, Utc};
use renkei_domain::template::{Item, ItemType, PathwayTemplate};
use serde_json::{Value, json};

use crate::common::{self, coding, instant, meta, reference, reference_with_display};

/// JP Core's laboratory result profile (needs a specimen and `code.text`).
pub const PROFILE_LAB_RESULT: &str =
    "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Observation_LabResult";
/// JP Core's vital signs profile.
pub const PROFILE_VITAL_SIGNS: &str =
    "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Observation_VitalSigns";
/// JP Core's profile for every other observation.
pub const PROFILE_COMMON: &str =
    "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Observation_Common";

/// The system of `Observation.category` (base R4).
pub const CATEGORY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
/// JP Core's simple category code system (fixed `laboratory` on lab results).
pub const JP_CATEGORY_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS";
/// The JLAC10 system URI JP Core uses (domain.md §5.1), as the templates write it.
pub const JLAC10_JP_CORE: &str = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits";
/// UCUM; the templates write their units in UCUM (`mm[Hg]`, `mL/min/{1.73_m2}`).
pub const UCUM: &str = "http://unitsofmeasure.org";

/// LOINC codes of the vital signs value set (HL7 FHIR R4 ValueSet
/// observation-vitalsignresult, hl7.org/fhir/R4/valueset-observation-vitalsignresult.html):
/// the ones the templates use (blood pressure, body weight and height, BMI).
const VITAL_SIGNS_LOINC: &[&str] = &["8480-6", "8462-4", "29463-7", "8302-2", "39156-5"];

/// JLAC10 specimen (材料) codes, digits 10–12 of the 17-digit code, with the specimen's
/// name: 001 尿, 019 全血, 022 血漿, 023 血清 (JSLM 臨床検査項目分類コード JLAC10 材料コード;
/// the same codes appear in JAMI's JP-CLINS core-lab JLAC10 value sets, e.g.
/// 5H010000001910111 「全血」).
const JLAC10_SPECIMENS: &[(&str, &str)] = &[
    ("001", "尿"),
    ("019", "全血"),
    ("022", "血漿"),
    ("023", "血清"),
];

/// How later entries changed an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correction {
    /// It counts as recorded.
    None,
    /// A later correction replaced it: the correction's id and when it was recorded.
    Superseded { by: String, at: DateTime<Utc> },
    /// An `entered_in_error` entry struck out its chain: the void's id and when it was
    /// recorded.
    Voided { by: String, at: DateTime<Utc> },
}

/// One entry of a care plan, as the Observation and Provenance mappers read it.
#[derive(Debug, Clone)]
pub struct EntryInput {
    pub id: String,
    pub plan_id: String,
    pub patient_id: String,
    pub stage: String,
    /// The entry kind (`assessment`, `stage_end`, `entered_in_error` …).
    pub kind: String,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub author_id: String,
    pub author_name: String,
    pub organization_id: String,
    pub organization_name: String,
    /// The recorded values, by item code.
    pub values: Value,
    /// The entry this one corrects or voids.
    pub amends: Option<String>,
    pub reason: Option<String>,
    /// The entry's hash in the plan's chain (`sha256:<hex>`).
    pub hash: String,
    pub correction: Correction,
}

impl EntryInput {
    /// When the entry's resources last changed: when it was recorded, or when a later
    /// entry replaced or voided it.
    pub fn last_updated(&self) -> DateTime<Utc> {
        match &self.correction {
            Correction::None => self.recorded_at,
            Correction::Superseded { at, .. } | Correction::Voided { at, .. } => *at,
        }
    }

    /// Whether the entry voids another (its values are not observations).
    pub fn is_void(&self) -> bool {
        self.kind == "entered_in_error"
    }
}

/// The FHIR id of the Observation of `item` in entry `entry_id`: `{entry id}-{item code}`
/// with the item code's `_` written `-` (a FHIR id allows neither `_` nor more than 64
/// characters; item codes are snake_case, so the form reads back unambiguously).
pub fn observation_id(entry_id: &str, item: &str) -> String {
    format!("{entry_id}-{}", item.replace('_', "-"))
}

/// The entry id and item code of an Observation id, if it has the form of one.
pub fn parse_observation_id(id: &str) -> Option<(String, String)> {
    let entry = id.get(..36)?;
    let item = id.get(36..)?.strip_prefix('-')?;
    if item.is_empty()
        || !item
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return None;
    }
    Some((entry.to_owned(), item.replace('-', "_")))
}

/// The Observation status of an entry's values.
pub fn status(entry: &EntryInput) -> &'static str {
    match entry.correction {
        Correction::Superseded { .. } | Correction::Voided { .. } => "entered-in-error",
        Correction::None if entry.amends.is_some() => "amended",
        Correction::None => "final",
    }
}

/// The item codes of `entry` that become Observations, in template order: template
/// items with a recorded (non-null) value; none for a void.
pub fn observed_items<'t>(template: &'t PathwayTemplate, entry: &EntryInput) -> Vec<&'t Item> {
    if entry.is_void() {
        return Vec::new();
    }
    template
        .items
        .iter()
        .filter(|i| entry.values.get(&i.code).is_some_and(|v| !v.is_null()))
        .collect()
}

/// Every Observation of an entry.
pub fn observations(template: &PathwayTemplate, entry: &EntryInput) -> Vec<Value> {
    observed_items(template, entry)
        .into_iter()
        .filter_map(|item| observation(template, entry, item))
        .collect()
}

/// The Observation of `item` in `entry`, if the entry recorded it.
pub fn observation(template: &PathwayTemplate, entry: &EntryInput, item: &Item) -> Option<Value> {
    if entry.is_void() {
        return None;
    }
    let value = entry.values.get(&item.code).filter(|v| !v.is_null())?;
    let class = classify(item);
    let mut codings: Vec<Value> = item
        .codes
        .iter()
        .map(|c| coding(&c.system, &c.code, c.display.as_deref()))
        .collect();
    codings.push(coding(
        &common::item_code_system(&template.code),
        &item.code,
        Some(&item.title.ja),
    ));
    let mut category = vec![coding(CATEGORY_SYSTEM, class.category(), None)];
    if class == Class::LabResult {
        category.push(coding(JP_CATEGORY_SYSTEM, "laboratory", None));
    }
    let mut o = json!({
        "resourceType": "Observation",
        "id": observation_id(&entry.id, &item.code),
        "meta": meta(entry.last_updated(), Some(class.profile())),
        "status": status(entry),
        "category": [{ "coding": category }],
        "code": { "coding": codings, "text": item.title.ja },
        "subject": reference("Patient", &entry.patient_id),
        "basedOn": [reference("CarePlan", &entry.plan_id)],
        "effectiveDateTime": instant(entry.effective_at),
        "issued": instant(entry.recorded_at),
        "performer": [
            reference_with_display("Practitioner", &entry.author_id, &entry.author_name),
            reference_with_display("Organization", &entry.organization_id, &entry.organization_name),
        ],
    });
    let (key, v) = value_x(template, item, value);
    o[key] = v;
    if class == Class::LabResult
        && let Some(name) = specimen_name(item)
    {
        o["specimen"] = json!({ "display": name });
    }
    if item.item_type == ItemType::Composite {
        let from: Vec<Value> = item
            .components
            .iter()
            .flatten()
            .filter(|c| entry.values.get(c.as_str()).is_some_and(|v| !v.is_null()))
            .map(|c| reference("Observation", &observation_id(&entry.id, c)))
            .collect();
        if !from.is_empty() {
            o["derivedFrom"] = Value::Array(from);
        }
    }
    if let Some(reason) = entry.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        o["note"] = json!([{ "text": reason }]);
    }
    Some(o)
}

/// What kind of observation an item records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A laboratory value whose specimen the JLAC10 code names.
    LabResult,
    /// Another laboratory value (no specimen known).
    Laboratory,
    VitalSigns,
    /// Scores, scales and everything else recorded on a pathway sheet.
    Survey,
}

impl Class {
    fn category(self) -> &'static str {
        match self {
            Class::LabResult | Class::Laboratory => "laboratory",
            Class::VitalSigns => "vital-signs",
            Class::Survey => "survey",
        }
    }

    fn profile(self) -> &'static str {
        match self {
            Class::LabResult => PROFILE_LAB_RESULT,
            Class::VitalSigns => PROFILE_VITAL_SIGNS,
            Class::Laboratory | Class::Survey => PROFILE_COMMON,
        }
    }
}

fn classify(item: &Item) -> Class {
    let loinc = |set: &[&str]| {
        item.codes
            .iter()
            .any(|c| c.system == common::LOINC && set.contains(&c.code.as_str()))
    };
    if loinc(VITAL_SIGNS_LOINC) {
        return Class::VitalSigns;
    }
    if specimen_name(item).is_some() {
        return Class::LabResult;
    }
    let standard = item
        .codes
        .iter()
        .any(|c| c.system == common::LOINC || is_jlac10(&c.system));
    let measured =
        matches!(item.item_type, ItemType::Integer | ItemType::Decimal) && item.unit.is_some();
    if standard && measured {
        Class::Laboratory
    } else {
        Class::Survey
    }
}

fn is_jlac10(system: &str) -> bool {
    system == JLAC10_JP_CORE || system == common::JLAC10
}

/// The specimen of an item measured on one, read from its JLAC10 code's 材料 digits.
fn specimen_name(item: &Item) -> Option<&'static str> {
    item.codes
        .iter()
        .filter(|c| is_jlac10(&c.system) && c.code.len() == 17)
        .find_map(|c| {
            let material = c.code.get(9..12)?;
            JLAC10_SPECIMENS
                .iter()
                .find(|(code, _)| *code == material)
                .map(|(_, name)| *name)
        })
}

/// The system of a choice item's option codes.
pub fn option_system(pathway: &str, item: &str) -> String {
    common::code_system(&format!("{pathway}-{item}"))
}

/// `value[x]` of a recorded value: its key and value.
fn value_x(template: &PathwayTemplate, item: &Item, value: &Value) -> (&'static str, Value) {
    match item.item_type {
        ItemType::Integer | ItemType::Decimal | ItemType::Composite => match &item.unit {
            Some(unit) => (
                "valueQuantity",
                json!({ "value": value, "unit": unit, "system": UCUM, "code": unit }),
            ),
            None if value.is_i64() || value.is_u64() => ("valueInteger", value.clone()),
            None => ("valueQuantity", json!({ "value": value })),
        },
        ItemType::Boolean => ("valueBoolean", value.clone()),
        ItemType::Choice => {
            let code = value.as_str().unwrap_or_default();
            let title = item
                .options
                .iter()
                .flatten()
                .find(|o| o.code == code)
                .map(|o| o.title.ja.as_str());
            let mut concept = json!({
                "coding": [coding(&option_system(&template.code, &item.code), code, title)],
            });
            if let Some(t) = title {
                concept["text"] = json!(t);
            }
            ("valueCodeableConcept", concept)
        }
        ItemType::Date | ItemType::Datetime => ("valueDateTime", value.clone()),
        ItemType::Text => (
            "valueString",
            match value {
                Value::String(_) => value.clone(),
                other => Value::String(other.to_string()),
            },
        ),
    }
}

/// What the server does with Observation.
pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "Observation",
    profile: None,
    interactions: &["read", "search-type"],
    search_params: &[
        capability::PATIENT,
        capability::STATUS,
        capability::LAST_UPDATED,
    ],
    search_include: &["Observation:patient"],
    operations: &[],
};

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_domain::template::parse_template;

    fn template(code: &str) -> PathwayTemplate {
        let src = match code {
            "stroke" => include_str!("../../../pathways/stroke/v2.toml"),
            _ => include_str!("../../../pathways/diabetes/v2.toml"),
        };
        parse_template(src, None).unwrap_or_else(|e| panic!("{code}: {e:?}"))
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn entry(values: Value) -> EntryInput {
        EntryInput {
            id: "0190c0de-0000-7000-8000-000000000001".into(),
            plan_id: "0190c0de-0000-7000-8000-0000000000aa".into(),
            patient_id: "0190c0de-0000-7000-8000-0000000000bb".into(),
            stage: "recovery".into(),
            kind: "assessment".into(),
            effective_at: at("2026-12-01T09:00:00+09:00"),
            recorded_at: at("2026-12-02T15:30:00+09:00"),
            author_id: "0190c0de-0000-7000-8000-0000000000cc".into(),
            author_name: "山田 花子".into(),
            organization_id: "0190c0de-0000-7000-8000-0000000000dd".into(),
            organization_name: "回復期病院".into(),
            values,
            amends: None,
            reason: None,
            hash: "sha256:00ff".into(),
            correction: Correction::None,
        }
    }

    fn fim_items(score: i64) -> serde_json::Map<String, Value> {
        template("stroke")
            .item("fim_total")
            .and_then(|i| i.components.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c, json!(score)))
            .collect()
    }

    #[test]
    fn ids_round_trip_through_the_fhir_id_rule() {
        let id = observation_id("0190c0de-0000-7000-8000-000000000001", "fim_total");
        assert_eq!(id, "0190c0de-0000-7000-8000-000000000001-fim-total");
        assert!(common::is_valid_id(&id));
        assert_eq!(
            parse_observation_id(&id),
            Some((
                "0190c0de-0000-7000-8000-000000000001".into(),
                "fim_total".into()
            ))
        );
        assert_eq!(
            parse_observation_id("0190c0de-0000-7000-8000-000000000001"),
            None
        );
        assert_eq!(
            parse_observation_id("0190c0de-0000-7000-8000-000000000001-"),
            None
        );
        assert_eq!(
            parse_observation_id("0190c0de-0000-7000-8000-000000000001-A.b"),
            None
        );
    }

    #[test]
    fn every_item_of_every_template_has_a_valid_observation_id() {
        for code in ["stroke", "diabetes"] {
            for item in &template(code).items {
                let id = observation_id("0190c0de-0000-7000-8000-000000000001", &item.code);
                assert!(common::is_valid_id(&id), "{code}/{}", item.code);
                assert_eq!(
                    parse_observation_id(&id).map(|p| p.1),
                    Some(item.code.clone())
                );
            }
        }
    }

    #[test]
    fn a_computed_total_is_derived_from_the_items_of_its_entry() {
        let t = template("stroke");
        let mut values = fim_items(5);
        values.insert("fim_total".into(), json!(90));
        let e = entry(Value::Object(values));
        let obs = observations(&t, &e);
        let total = obs
            .iter()
            .find(|o| o["id"].as_str().is_some_and(|i| i.ends_with("-fim-total")))
            .unwrap_or_else(|| panic!("no total in {obs:?}"));
        let from = total["derivedFrom"].as_array().map(Vec::len);
        assert_eq!(from, Some(18));
        assert_eq!(
            total["derivedFrom"][0]["reference"],
            format!("Observation/{}", observation_id(&e.id, "fim_eating"))
        );
        assert_eq!(total["valueInteger"], 90);
        let item = obs
            .iter()
            .find(|o| o["id"].as_str().is_some_and(|i| i.ends_with("-fim-eating")));
        assert!(item.is_some_and(|o| o.get("derivedFrom").is_none()));
    }

    #[test]
    fn a_total_sent_alone_names_no_source() {
        let t = template("stroke");
        let e = entry(json!({ "fim_total": 90 }));
        let obs = observations(&t, &e);
        assert_eq!(obs.len(), 1);
        assert!(obs[0].get("derivedFrom").is_none());
    }

    #[test]
    fn observed_and_recorded_times_are_kept_apart() {
        let t = template("diabetes");
        let o = observations(&t, &entry(json!({ "hba1c": 7.2 })));
        assert_eq!(o[0]["effectiveDateTime"], "2026-12-01T00:00:00Z");
        assert_eq!(o[0]["issued"], "2026-12-02T06:30:00Z");
        assert_eq!(o[0]["meta"]["lastUpdated"], "2026-12-02T06:30:00Z");
    }

    #[test]
    fn standard_codes_come_first_and_the_item_code_always() {
        let t = template("diabetes");
        let o = observations(&t, &entry(json!({ "hba1c": 7.2, "egfr": 55.0 })));
        let hba1c = &o[0];
        assert_eq!(hba1c["code"]["coding"][0]["system"], "http://loinc.org");
        assert_eq!(hba1c["code"]["coding"][0]["code"], "4548-4");
        assert_eq!(
            hba1c["code"]["coding"][1]["system"],
            common::item_code_system("diabetes")
        );
        assert_eq!(hba1c["code"]["coding"][1]["code"], "hba1c");
        assert_eq!(hba1c["code"]["text"], "HbA1c(NGSP)");
        assert_eq!(hba1c["valueQuantity"]["value"], 7.2);
        assert_eq!(hba1c["valueQuantity"]["code"], "%");
        assert_eq!(hba1c["valueQuantity"]["system"], UCUM);
        let egfr = &o[1];
        assert_eq!(egfr["code"]["coding"][0]["system"], JLAC10_JP_CORE);
        assert_eq!(egfr["code"]["coding"][0]["code"], "8A065000002391901");
        assert_eq!(egfr["meta"]["profile"][0], PROFILE_LAB_RESULT);
        assert_eq!(egfr["specimen"]["display"], "血清");
        assert_eq!(egfr["category"][0]["coding"][0]["code"], "laboratory");
    }

    #[test]
    fn an_item_without_a_standard_code_has_only_the_renkei_code() {
        let t = template("stroke");
        let o = observations(&t, &entry(json!({ "walk_cat": "indep_indoor" })));
        let codings = o[0]["code"]["coding"].as_array().map(Vec::len);
        assert_eq!(codings, Some(1));
        assert_eq!(
            o[0]["code"]["coding"][0]["system"],
            common::item_code_system("stroke")
        );
        assert_eq!(
            o[0]["valueCodeableConcept"]["coding"][0]["code"],
            "indep_indoor"
        );
        assert_eq!(o[0]["valueCodeableConcept"]["text"], "独歩(屋内)");
        assert_eq!(o[0]["category"][0]["coding"][0]["code"], "survey");
    }

    #[test]
    fn vital_signs_are_categorised_as_such() {
        let t = template("diabetes");
        let o = observations(&t, &entry(json!({ "bp_sys": 128 })));
        assert_eq!(o[0]["category"][0]["coding"][0]["code"], "vital-signs");
        assert_eq!(o[0]["meta"]["profile"][0], PROFILE_VITAL_SIGNS);
        assert_eq!(o[0]["valueQuantity"]["code"], "mm[Hg]");
    }

    #[test]
    fn corrections_are_amended_and_what_they_replaced_entered_in_error() {
        let t = template("diabetes");
        let mut original = entry(json!({ "hba1c": 9.9 }));
        assert_eq!(observations(&t, &original)[0]["status"], "final");
        let mut correction = entry(json!({ "hba1c": 7.9 }));
        correction.id = "0190c0de-0000-7000-8000-000000000002".into();
        correction.amends = Some(original.id.clone());
        correction.reason = Some("転記ミス".into());
        let c = &observations(&t, &correction)[0];
        assert_eq!(c["status"], "amended");
        assert_eq!(c["note"][0]["text"], "転記ミス");
        let later = at("2026-12-03T00:00:00Z");
        original.correction = Correction::Superseded {
            by: correction.id.clone(),
            at: later,
        };
        let o = &observations(&t, &original)[0];
        assert_eq!(o["status"], "entered-in-error");
        assert_eq!(o["meta"]["lastUpdated"], "2026-12-03T00:00:00Z");
        correction.correction = Correction::Voided {
            by: "v".into(),
            at: later,
        };
        assert_eq!(
            observations(&t, &correction)[0]["status"],
            "entered-in-error"
        );
    }

    #[test]
    fn a_void_has_no_observations_and_unknown_or_null_values_none_either() {
        let t = template("diabetes");
        let mut void = entry(json!({ "hba1c": 7.0 }));
        void.kind = "entered_in_error".into();
        assert!(observations(&t, &void).is_empty());
        let e = entry(json!({ "no_such_item": 1, "hba1c": null }));
        assert!(observations(&t, &e).is_empty());
    }
}
