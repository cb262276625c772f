//! Reading lab results sent to Renkei: a `transaction` Bundle of Observations becomes plain
//! [`ImportedObservation`]s (who, which code, which value, when), and a code becomes the
//! template item that records it. Nothing here decides whether a value is in range or whom
//! it may be written for: the append use case does that for imported values exactly as for
//! values typed in.
//!
//! Code systems recognised: LOINC (`http://loinc.org`), JLAC10 under both the URI JP Core
//! uses (`http://medis.or.jp/CodeSystem/master-JLAC10-17digits`) and its OID
//! (`urn:oid:1.2.392.200119.4.504`), and Renkei's own item code system
//! (`https://renkei.example.jp/fhir/CodeSystem/{pathway code}-items`), which names an item
//! exactly and so wins over a standard code two items share (office and home blood pressure
//! both carry LOINC 8480-6).

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use renkei_domain::template::{Item, ItemType, PathwayTemplate};
use serde_json::{Map, Value};

pub use crate::common::LOINC;
/// JLAC10 (17 digits) as JP Core names it.
pub const JLAC10: &str = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits";
/// JLAC10 by its OID (what Renkei's own resources send, `common::JLAC10`).
pub const JLAC10_OID: &str = crate::common::JLAC10;
/// The base of Renkei's own code systems.
pub const RENKEI_CODE_SYSTEMS: &str = "https://renkei.example.jp/fhir/CodeSystem/";

/// The namespace of an organisation's patient identifiers (its 患者ID), as the Patient
/// mapper writes it: JP Core's OID form for a 10-digit institution number, Renkei's
/// `NamingSystem/patient-number/{organisation code}` otherwise.
pub fn patient_identifier_system(organization_code: &str) -> String {
    crate::patient::identifier_system(organization_code)
}

/// The organisation code whose patient-identifier namespace `system` is.
pub fn organization_of_identifier_system(system: &str) -> Option<&str> {
    let renkei = format!(
        "{}/NamingSystem/patient-number/",
        crate::common::CANONICAL_BASE
    );
    if let Some(code) = system.strip_prefix(renkei.as_str()) {
        return (!code.is_empty() && !code.contains('/')).then_some(code);
    }
    system
        .strip_prefix(crate::patient::JP_PATIENT_ID_OID)
        .filter(|n| crate::patient::is_institution_number(n))
}

/// Renkei's item code system of pathway `pathway`.
pub fn items_system(pathway: &str) -> String {
    crate::common::item_code_system(pathway)
}

/// Whether two code-system URIs name the same system (JLAC10 has two names).
pub fn same_system(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> &str {
        if s == JLAC10_OID { JLAC10 } else { s }
    }
    norm(a) == norm(b)
}

/// What went wrong with one part of the Bundle, in FHIR's words.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// FHIRPath of the element at fault, from `Bundle` (`Bundle.entry[2].resource.code`).
    pub expression: String,
    pub kind: IssueKind,
    /// What is wrong, in English (the service adds the Japanese text).
    pub detail: String,
}

/// The kinds of fault an import reports; each has its FHIR `IssueType` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    /// The Bundle or an Observation is not shaped as required.
    Structure,
    /// A required element is missing.
    Required,
    /// No template item of the plan records this code.
    UnmappedCode,
    /// Several items record this code and nothing says which.
    AmbiguousCode,
    /// The unit is not the item's.
    Unit,
    /// The value has the wrong type for the item, or is outside its valid values.
    Value,
    /// No patient has this id or identifier.
    UnknownPatient,
    /// The patient has no active plan that records the code.
    NotFound,
    /// The entry breaks a rule of the plan's state (a stage not started, …).
    BusinessRule,
    /// The identifier was used before for different content.
    Duplicate,
}

impl IssueKind {
    /// The FHIR `IssueType` code.
    pub fn code(self) -> &'static str {
        match self {
            IssueKind::Structure => "structure",
            IssueKind::Required => "required",
            IssueKind::UnmappedCode | IssueKind::AmbiguousCode => "code-invalid",
            IssueKind::Unit | IssueKind::Value => "value",
            IssueKind::UnknownPatient | IssueKind::NotFound => "not-found",
            IssueKind::BusinessRule => "business-rule",
            IssueKind::Duplicate => "duplicate",
        }
    }

    /// A stable short name (reports and wording keys).
    pub fn slug(self) -> &'static str {
        match self {
            IssueKind::Structure => "structure",
            IssueKind::Required => "required",
            IssueKind::UnmappedCode => "unmapped_code",
            IssueKind::AmbiguousCode => "ambiguous_code",
            IssueKind::Unit => "unit",
            IssueKind::Value => "out_of_range",
            IssueKind::UnknownPatient => "unknown_patient",
            IssueKind::NotFound => "no_plan",
            IssueKind::BusinessRule => "business_rule",
            IssueKind::Duplicate => "duplicate",
        }
    }
}

fn issue(expression: impl Into<String>, kind: IssueKind, detail: impl Into<String>) -> Issue {
    Issue {
        expression: expression.into(),
        kind,
        detail: detail.into(),
    }
}

/// Who an Observation is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubjectRef {
    /// `Patient/{id}`: the Renkei patient id.
    Patient(String),
    /// A patient identifier in an organisation's namespace.
    Identifier { system: String, value: String },
}

/// A code as sent (`system`, `code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub system: String,
    pub code: String,
}

/// A value as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservedValue {
    Quantity {
        value: f64,
        /// The UCUM `code`, else the human `unit`.
        unit: Option<String>,
    },
    Integer(i64),
    Boolean(bool),
    Codes(Vec<Code>),
    Text(String),
    DateTime(String),
}

/// One Observation of the Bundle, read.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedObservation {
    /// Its index in `Bundle.entry`.
    pub index: usize,
    /// `system|value` of its first identifier.
    pub identifier: Option<String>,
    pub subject: SubjectRef,
    /// The plan named in `basedOn` (`CarePlan/{id}`).
    pub care_plan: Option<String>,
    pub codes: Vec<Code>,
    pub value: ObservedValue,
    /// When the specimen was taken (`effectiveDateTime`, else `effectivePeriod.start`).
    pub effective: DateTime<Utc>,
    /// The resource as sent, for the idempotency hash.
    pub resource: Value,
}

/// A transaction Bundle, read: its identifier and the Observations that could be read;
/// issues name everything that could not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportBundle {
    /// `system|value` of `Bundle.identifier`.
    pub identifier: Option<String>,
    pub observations: Vec<ImportedObservation>,
    pub issues: Vec<Issue>,
}

fn identifier_key(v: &Value) -> Option<String> {
    let value = v.get("value")?.as_str()?.trim();
    if value.is_empty() {
        return None;
    }
    let system = v.get("system").and_then(Value::as_str).unwrap_or("");
    Some(format!("{system}|{value}"))
}

/// Reads a `transaction` (or `batch`) Bundle of Observations. Every fault is reported, not
/// only the first; a Bundle that is not a Bundle at all gives one issue at `Bundle`.
pub fn read_bundle(bundle: &Value) -> ImportBundle {
    let mut out = ImportBundle::default();
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        out.issues.push(issue(
            "Bundle",
            IssueKind::Structure,
            "the body must be a FHIR Bundle",
        ));
        return out;
    }
    if bundle.get("type").and_then(Value::as_str) != Some("transaction") {
        out.issues.push(issue(
            "Bundle.type",
            IssueKind::Structure,
            "only a transaction Bundle can be imported",
        ));
    }
    out.identifier = bundle.get("identifier").and_then(identifier_key);
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if entries.is_empty() {
        out.issues.push(issue(
            "Bundle.entry",
            IssueKind::Required,
            "the Bundle has no entries",
        ));
    }
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("Bundle.entry[{i}]");
        let method = entry
            .pointer("/request/method")
            .and_then(Value::as_str)
            .unwrap_or("");
        if method != "POST" {
            out.issues.push(issue(
                format!("{at}.request.method"),
                IssueKind::Structure,
                "each entry must be a POST of a new Observation",
            ));
        }
        match read_observation(i, entry.get("resource").unwrap_or(&Value::Null)) {
            Ok(o) => out.observations.push(o),
            Err(mut e) => out.issues.append(&mut e),
        }
    }
    out
}

/// Reads one Observation (entry `index` of its Bundle).
pub fn read_observation(index: usize, r: &Value) -> Result<ImportedObservation, Vec<Issue>> {
    let at = format!("Bundle.entry[{index}].resource");
    let mut issues = Vec::new();
    if r.get("resourceType").and_then(Value::as_str) != Some("Observation") {
        return Err(vec![issue(
            at,
            IssueKind::Structure,
            "only Observations can be imported",
        )]);
    }
    match r.get("status").and_then(Value::as_str) {
        Some("final" | "amended" | "corrected") => {}
        Some(_) => issues.push(issue(
            format!("{at}.status"),
            IssueKind::Value,
            "only final, amended or corrected results can be imported",
        )),
        None => issues.push(issue(
            format!("{at}.status"),
            IssueKind::Required,
            "status is required",
        )),
    }
    let subject = match r.get("subject") {
        Some(s) => match subject_ref(s) {
            Some(s) => Some(s),
            None => {
                issues.push(issue(
                    format!("{at}.subject"),
                    IssueKind::Structure,
                    "subject must be Patient/{id} or a patient identifier",
                ));
                None
            }
        },
        None => {
            issues.push(issue(
                format!("{at}.subject"),
                IssueKind::Required,
                "subject is required",
            ));
            None
        }
    };
    let care_plan = r
        .get("basedOn")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("reference").and_then(Value::as_str))
        .find_map(|s| reference_id(s, "CarePlan"));
    let codes = codings(r.get("code").unwrap_or(&Value::Null));
    if codes.is_empty() {
        issues.push(issue(
            format!("{at}.code"),
            IssueKind::Required,
            "code must carry at least one coding with system and code",
        ));
    }
    let value = match observed_value(r) {
        Ok(v) => Some(v),
        Err(e) => {
            issues.push(issue(format!("{at}.value[x]"), e.0, e.1));
            None
        }
    };
    let effective = match effective_time(r) {
        Ok(t) => Some(t),
        Err(e) => {
            issues.push(issue(format!("{at}.effective[x]"), e.0, e.1));
            None
        }
    };
    match (subject, value, effective) {
        (Some(subject), Some(value), Some(effective)) if issues.is_empty() => {
            Ok(ImportedObservation {
                index,
                identifier: r
                    .get("identifier")
                    .and_then(Value::as_array)
                    .and_then(|ids| ids.iter().find_map(identifier_key)),
                subject,
                care_plan,
                codes,
                value,
                effective,
                resource: r.clone(),
            })
        }
        _ => Err(issues),
    }
}

/// The id of `reference` when it names a resource of `kind` (relative or absolute URL).
pub fn reference_id(reference: &str, kind: &str) -> Option<String> {
    let mut parts = reference.rsplit('/');
    let id = parts.next()?;
    let ty = parts.next()?;
    (ty == kind && !id.is_empty()).then(|| id.to_owned())
}

fn subject_ref(s: &Value) -> Option<SubjectRef> {
    if let Some(r) = s.get("reference").and_then(Value::as_str) {
        return reference_id(r, "Patient").map(SubjectRef::Patient);
    }
    let ident = s.get("identifier")?;
    let system = ident.get("system")?.as_str()?.to_owned();
    let value = ident.get("value")?.as_str()?.trim().to_owned();
    (!system.is_empty() && !value.is_empty()).then_some(SubjectRef::Identifier { system, value })
}

fn codings(cc: &Value) -> Vec<Code> {
    cc.get("coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(Code {
                system: c.get("system")?.as_str()?.to_owned(),
                code: c.get("code")?.as_str()?.to_owned(),
            })
        })
        .collect()
}

fn observed_value(r: &Value) -> Result<ObservedValue, (IssueKind, &'static str)> {
    if let Some(q) = r.get("valueQuantity") {
        let value = q
            .get("value")
            .and_then(Value::as_f64)
            .ok_or((IssueKind::Required, "valueQuantity.value is required"))?;
        let unit = q
            .get("code")
            .or_else(|| q.get("unit"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        return Ok(ObservedValue::Quantity { value, unit });
    }
    if let Some(v) = r.get("valueInteger") {
        return v
            .as_i64()
            .map(ObservedValue::Integer)
            .ok_or((IssueKind::Structure, "valueInteger must be an integer"));
    }
    if let Some(v) = r.get("valueBoolean") {
        return v
            .as_bool()
            .map(ObservedValue::Boolean)
            .ok_or((IssueKind::Structure, "valueBoolean must be true or false"));
    }
    if let Some(v) = r.get("valueCodeableConcept") {
        let codes = codings(v);
        return if codes.is_empty() {
            Err((
                IssueKind::Required,
                "valueCodeableConcept needs a coding with system and code",
            ))
        } else {
            Ok(ObservedValue::Codes(codes))
        };
    }
    if let Some(v) = r.get("valueString") {
        return v
            .as_str()
            .map(|s| ObservedValue::Text(s.to_owned()))
            .ok_or((IssueKind::Structure, "valueString must be a string"));
    }
    if let Some(v) = r.get("valueDateTime") {
        return v
            .as_str()
            .map(|s| ObservedValue::DateTime(s.to_owned()))
            .ok_or((IssueKind::Structure, "valueDateTime must be a string"));
    }
    Err((IssueKind::Required, "the Observation has no value"))
}

fn effective_time(r: &Value) -> Result<DateTime<Utc>, (IssueKind, &'static str)> {
    let raw = r
        .get("effectiveDateTime")
        .or_else(|| r.get("effectiveInstant"))
        .or_else(|| r.pointer("/effectivePeriod/start"))
        .and_then(Value::as_str)
        .ok_or((
            IssueKind::Required,
            "effectiveDateTime (the specimen collection time) is required",
        ))?;
    parse_fhir_datetime(raw).ok_or((
        IssueKind::Structure,
        "effectiveDateTime must be a date-time with a time zone",
    ))
}

/// Parses a FHIR `dateTime` precise to the second at least, with a time zone.
pub fn parse_fhir_datetime(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::<FixedOffset>::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Why no item takes a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmapped {
    /// No item of the template carries any of the codes.
    Unknown,
    /// Several items carry the code (their item codes).
    Ambiguous(Vec<String>),
}

/// The template item that records an Observation with `codes`: the item named by Renkei's
/// item code system of this pathway, else the one item carrying one of the standard codes.
pub fn item_for<'t>(template: &'t PathwayTemplate, codes: &[Code]) -> Result<&'t Item, Unmapped> {
    let own = items_system(&template.code);
    if let Some(item) = codes
        .iter()
        .filter(|c| c.system == own)
        .find_map(|c| template.item(&c.code))
    {
        return Ok(item);
    }
    let mut ambiguous: Option<Vec<String>> = None;
    for c in codes {
        let matching: Vec<&Item> = template
            .items
            .iter()
            .filter(|i| {
                i.codes
                    .iter()
                    .any(|ic| ic.code == c.code && same_system(&ic.system, &c.system))
            })
            .collect();
        match matching.as_slice() {
            [one] => return Ok(one),
            [] => {}
            many => {
                ambiguous.get_or_insert_with(|| many.iter().map(|i| i.code.clone()).collect());
            }
        }
    }
    Err(ambiguous.map_or(Unmapped::Unknown, Unmapped::Ambiguous))
}

/// Spellings of one unit that senders use; the first of each group is the template's.
const UNIT_SPELLINGS: &[&[&str]] = &[
    &["mm[Hg]", "mmHg", "mmhg"],
    &["kg/m2", "kg/m²", "kg/m^2"],
    &[
        "mL/min/{1.73_m2}",
        "mL/min/1.73m2",
        "mL/min/1.73m²",
        "mL/min/1.73 m2",
        "mL/min/{1.73m2}",
    ],
    &["mg/g{creat}", "mg/gCr", "mg/g{Cre}", "mg/g·Cr", "mg/gCRE"],
    &["g/g{creat}", "g/gCr", "g/g{Cre}", "g/g·Cr", "g/gCRE"],
    &["%", "%{NGSP}"],
    &["{score}", "1"],
];

/// Whether `sent` is a spelling of the template unit `expected` (case-insensitive).
pub fn same_unit(expected: &str, sent: &str) -> bool {
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    if eq(expected, sent) {
        return true;
    }
    UNIT_SPELLINGS
        .iter()
        .any(|group| group.iter().any(|u| eq(u, expected)) && group.iter().any(|u| eq(u, sent)))
}

/// The value to store for `item`, or what is wrong with it (type and unit; the range is
/// the append's rule). `at` is the Observation's path (`Bundle.entry[i].resource`).
pub fn item_value(item: &Item, value: &ObservedValue, at: &str) -> Result<Value, Issue> {
    let wrong = |what: &str| {
        issue(
            format!("{at}.value[x]"),
            IssueKind::Value,
            format!("item {} takes {what}", item.code),
        )
    };
    let unit_ok = |unit: &Option<String>| -> Result<(), Issue> {
        match (&item.unit, unit) {
            (Some(expected), Some(sent)) if !same_unit(expected, sent) => Err(issue(
                format!("{at}.valueQuantity.code"),
                IssueKind::Unit,
                format!(
                    "unit {sent} is not {expected}, the unit of item {}",
                    item.code
                ),
            )),
            (Some(expected), None) => Err(issue(
                format!("{at}.valueQuantity.code"),
                IssueKind::Unit,
                format!("the unit is missing; item {} is in {expected}", item.code),
            )),
            _ => Ok(()),
        }
    };
    match (item.item_type, value) {
        (ItemType::Integer | ItemType::Composite, ObservedValue::Integer(n)) => Ok(Value::from(*n)),
        (ItemType::Integer | ItemType::Composite, ObservedValue::Quantity { value, unit }) => {
            unit_ok(unit)?;
            if value.fract() != 0.0 || !value.is_finite() {
                return Err(wrong("whole numbers"));
            }
            Ok(Value::from(*value as i64))
        }
        (ItemType::Decimal, ObservedValue::Quantity { value, unit }) => {
            unit_ok(unit)?;
            serde_json::Number::from_f64(*value)
                .map(Value::Number)
                .ok_or_else(|| wrong("a finite number"))
        }
        (ItemType::Decimal, ObservedValue::Integer(n)) if item.unit.is_none() => {
            Ok(Value::from(*n))
        }
        (ItemType::Boolean, ObservedValue::Boolean(b)) => Ok(Value::Bool(*b)),
        (ItemType::Choice, ObservedValue::Codes(codes)) => {
            let options = item.options.as_deref().unwrap_or(&[]);
            codes
                .iter()
                .find_map(|c| options.iter().find(|o| o.code == c.code))
                .map(|o| Value::String(o.code.clone()))
                .ok_or_else(|| {
                    issue(
                        format!("{at}.valueCodeableConcept"),
                        IssueKind::Value,
                        format!("no option of item {} has this code", item.code),
                    )
                })
        }
        (ItemType::Text, ObservedValue::Text(s)) => Ok(Value::String(s.clone())),
        (ItemType::Date, ObservedValue::DateTime(s)) => {
            let date = s.get(..10).unwrap_or(s);
            NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map(|d| Value::String(d.to_string()))
                .map_err(|_| wrong("a date"))
        }
        (ItemType::Datetime, ObservedValue::DateTime(s)) => parse_fhir_datetime(s)
            .map(|t| Value::String(t.to_rfc3339()))
            .ok_or_else(|| wrong("a date-time with a time zone")),
        (ItemType::Integer | ItemType::Composite, _) => Err(wrong("whole numbers")),
        (ItemType::Decimal, _) => Err(wrong("a quantity")),
        (ItemType::Boolean, _) => Err(wrong("true or false")),
        (ItemType::Choice, _) => Err(wrong("a coded value")),
        (ItemType::Text, _) => Err(wrong("text")),
        (ItemType::Date | ItemType::Datetime, _) => Err(wrong("a date")),
    }
}

/// Values of one entry to append, from Observations of one plan taken at one time: item
/// code → value, and item code → the Bundle entry index it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntryValues {
    pub values: Map<String, Value>,
    pub sources: Vec<(String, usize)>,
}

impl EntryValues {
    /// Adds `value` of `item` from Bundle entry `index`; an item already set from another
    /// Observation of the same time is a fault of the second.
    pub fn add(&mut self, item: &str, value: Value, index: usize) -> Result<(), Issue> {
        if let Some((_, first)) = self.sources.iter().find(|(c, _)| c == item) {
            return Err(issue(
                format!("Bundle.entry[{index}].resource"),
                IssueKind::Duplicate,
                format!("item {item} is also given by Bundle.entry[{first}] at the same time"),
            ));
        }
        self.values.insert(item.to_owned(), value);
        self.sources.push((item.to_owned(), index));
        Ok(())
    }

    /// The Bundle entries whose item a field error names (`values.hba1c`, `values`).
    pub fn entries_for_field(&self, field: &str) -> Vec<usize> {
        let item = field.strip_prefix("values.").unwrap_or(field);
        let item = item.split(['.', '[']).next().unwrap_or(item);
        let hits: Vec<usize> = self
            .sources
            .iter()
            .filter(|(c, _)| c == item)
            .map(|(_, i)| *i)
            .collect();
        if hits.is_empty() {
            self.sources.iter().map(|(_, i)| *i).collect()
        } else {
            hits
        }
    }
}

/// The answer to one entry of an imported Bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseEntry {
    /// Written now (`201 Created`) or imported before (`200 OK`).
    pub created: bool,
    /// The Observation's id (`observation::observation_id`).
    pub observation_id: String,
}

/// The `transaction-response` Bundle: one entry per request entry, in order.
pub fn transaction_response(entries: &[ResponseEntry], now: DateTime<Utc>) -> Value {
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "response": {
                    "status": if e.created { "201 Created" } else { "200 OK" },
                    "location": format!("Observation/{}", e.observation_id),
                }
            })
        })
        .collect();
    serde_json::json!({
        "resourceType": "Bundle",
        "type": "transaction-response",
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "entry": entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> PathwayTemplate {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../pathways/diabetes/v2.toml"
        );
        let text = std::fs::read_to_string(path).expect("diabetes v2");
        renkei_domain::template::parse_template(&text, Some(("diabetes", 2)))
            .expect("diabetes v2 parses")
    }

    fn hba1c(value: Value) -> Value {
        json!({
            "resourceType": "Observation",
            "status": "final",
            "identifier": [{"system": "urn:oid:1.2.392.100495.20.3.51.11234567", "value": "lab-1"}],
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": LOINC, "code": "4548-4"}], "text": "HbA1c"},
            "effectiveDateTime": "2026-11-02T09:30:00+09:00",
            "valueQuantity": value,
        })
    }

    fn bundle(resources: Vec<Value>) -> Value {
        json!({
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": resources.into_iter().map(|r| json!({
                "resource": r, "request": {"method": "POST", "url": "Observation"}
            })).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn an_hba1c_observation_reads_as_code_value_unit_and_collection_time() {
        let read = read_bundle(&bundle(vec![hba1c(
            json!({"value": 7.2, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}),
        )]));
        assert!(read.issues.is_empty(), "{:?}", read.issues);
        let o = &read.observations[0];
        assert_eq!(o.subject, SubjectRef::Patient("p1".into()));
        assert_eq!(
            o.identifier.as_deref(),
            Some("urn:oid:1.2.392.100495.20.3.51.11234567|lab-1")
        );
        assert_eq!(
            o.value,
            ObservedValue::Quantity {
                value: 7.2,
                unit: Some("%".into())
            }
        );
        assert_eq!(o.effective.to_rfc3339(), "2026-11-02T00:30:00+00:00");
        let t = template();
        let item = item_for(&t, &o.codes).expect("hba1c maps");
        assert_eq!(item.code, "hba1c");
        assert_eq!(item_value(item, &o.value, "x").expect("value"), json!(7.2));
    }

    #[test]
    fn every_fault_of_every_entry_is_reported_with_its_index() {
        let mut no_time = hba1c(json!({"value": 7.0, "code": "%"}));
        no_time
            .as_object_mut()
            .expect("obj")
            .remove("effectiveDateTime");
        let mut no_subject = hba1c(json!({"value": 7.0, "code": "%"}));
        no_subject.as_object_mut().expect("obj").remove("subject");
        let read = read_bundle(&bundle(vec![
            hba1c(json!({"value": 7.0, "code": "%"})),
            no_time,
            json!({"resourceType": "Patient"}),
            no_subject,
        ]));
        let at: Vec<&str> = read.issues.iter().map(|i| i.expression.as_str()).collect();
        assert_eq!(
            at,
            [
                "Bundle.entry[1].resource.effective[x]",
                "Bundle.entry[2].resource",
                "Bundle.entry[3].resource.subject",
            ]
        );
        assert_eq!(read.observations.len(), 1);
    }

    #[test]
    fn a_bundle_of_another_type_is_refused() {
        let mut b = bundle(vec![hba1c(json!({"value": 7.0, "code": "%"}))]);
        b["type"] = json!("collection");
        assert_eq!(read_bundle(&b).issues[0].expression, "Bundle.type");
        assert_eq!(
            read_bundle(&json!({"resourceType": "Observation"})).issues[0].expression,
            "Bundle"
        );
    }

    #[test]
    fn jlac10_maps_under_both_of_its_system_names() {
        let t = template();
        for system in [JLAC10, JLAC10_OID] {
            let codes = [Code {
                system: system.into(),
                code: "8A065000002391901".into(),
            }];
            assert_eq!(item_for(&t, &codes).expect("egfr").code, "egfr");
        }
    }

    #[test]
    fn a_code_no_item_carries_is_unmapped_and_a_shared_one_is_ambiguous() {
        let t = template();
        let unknown = [Code {
            system: LOINC.into(),
            code: "0000-0".into(),
        }];
        assert_eq!(item_for(&t, &unknown), Err(Unmapped::Unknown));
        let systolic = [Code {
            system: LOINC.into(),
            code: "8480-6".into(),
        }];
        assert_eq!(
            item_for(&t, &systolic),
            Err(Unmapped::Ambiguous(vec![
                "bp_sys".into(),
                "bp_sys_home".into()
            ]))
        );
        let named = [
            systolic[0].clone(),
            Code {
                system: items_system("diabetes"),
                code: "bp_sys_home".into(),
            },
        ];
        assert_eq!(item_for(&t, &named).expect("named").code, "bp_sys_home");
        // Another pathway's item system names nothing here.
        let foreign = [Code {
            system: items_system("stroke"),
            code: "hba1c".into(),
        }];
        assert_eq!(item_for(&t, &foreign), Err(Unmapped::Unknown));
    }

    #[test]
    fn a_unit_other_than_the_items_is_refused_and_its_spellings_are_accepted() {
        let t = template();
        let hba1c = t.item("hba1c").expect("hba1c");
        let mmol = ObservedValue::Quantity {
            value: 53.0,
            unit: Some("mmol/mol".into()),
        };
        let e = item_value(hba1c, &mmol, "Bundle.entry[0].resource").expect_err("IFCC unit");
        assert_eq!(e.kind, IssueKind::Unit);
        assert_eq!(e.expression, "Bundle.entry[0].resource.valueQuantity.code");
        let none = ObservedValue::Quantity {
            value: 7.0,
            unit: None,
        };
        assert_eq!(
            item_value(hba1c, &none, "x").expect_err("no unit").kind,
            IssueKind::Unit
        );
        let egfr = t.item("egfr").expect("egfr");
        let v = ObservedValue::Quantity {
            value: 58.5,
            unit: Some("mL/min/1.73m2".into()),
        };
        assert_eq!(item_value(egfr, &v, "x").expect("egfr"), json!(58.5));
        let ldl = t.item("ldl").expect("ldl");
        let frac = ObservedValue::Quantity {
            value: 120.5,
            unit: Some("mg/dL".into()),
        };
        assert_eq!(
            item_value(ldl, &frac, "x").expect_err("integer item").kind,
            IssueKind::Value
        );
        let whole = ObservedValue::Quantity {
            value: 120.0,
            unit: Some("mg/dl".into()),
        };
        assert_eq!(item_value(ldl, &whole, "x").expect("ldl"), json!(120));
    }

    #[test]
    fn the_same_item_twice_at_one_time_is_a_fault_of_the_second() {
        let mut e = EntryValues::default();
        e.add("hba1c", json!(7.0), 0).expect("first");
        e.add("ldl", json!(100), 2).expect("ldl");
        let dup = e.add("hba1c", json!(7.1), 3).expect_err("second");
        assert_eq!(dup.expression, "Bundle.entry[3].resource");
        assert_eq!(e.entries_for_field("values.ldl"), vec![2]);
        assert_eq!(e.entries_for_field("values"), vec![0, 2]);
    }

    #[test]
    fn a_patient_identifier_namespace_names_its_organisation_both_ways() {
        for code in ["acute-1", "1234567890"] {
            let system = patient_identifier_system(code);
            assert_eq!(organization_of_identifier_system(&system), Some(code));
        }
        assert_eq!(organization_of_identifier_system("urn:x"), None);
    }

    #[test]
    fn a_subject_may_be_a_patient_identifier() {
        let mut o = hba1c(json!({"value": 7.0, "code": "%"}));
        o["subject"] = json!({"identifier": {"system": "urn:x", "value": "000123"}});
        let read = read_observation(0, &o).expect("reads");
        assert_eq!(
            read.subject,
            SubjectRef::Identifier {
                system: "urn:x".into(),
                value: "000123".into()
            }
        );
        o["basedOn"] = json!([{"reference": "https://h/fhir/r4/CarePlan/abc"}]);
        assert_eq!(
            read_observation(0, &o).expect("reads").care_plan.as_deref(),
            Some("abc")
        );
    }
}
