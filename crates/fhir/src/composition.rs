//! The referral letter (診療情報提供書) of a hand-over as a FHIR `document` Bundle: a
//! Composition with the sections of the national 診療情報提供書 FHIR specification
//! (JP_Composition_eReferral) where they fit, followed by every resource it references.
//!
//! Section codes (`http://jpfhir.jp/fhir/eReferral/CodeSystem/document-section`, see the
//! crate README for the source): 910 紹介先情報, 920 紹介元情報, 300 構造情報 holding 950
//! 紹介目的, 340 傷病名・主訴, 360 現病歴, 370 既往歴, 520 感染症情報, 610 身体所見, 620
//! 検査結果, 430 投薬指示 (処方), 640 社会歴・生活習慣; the pathway's goals and their status
//! (連携パスの達成目標と現状) have no section in that specification and go in a section of
//! Renkei's own code system.

use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::handover::{REFERRAL_FIELDS, referral_lines};
use renkei_domain::template::PathwayTemplate;
use renkei_domain::wording::Lang;
use serde_json::{Map, Value, json};

/// What `metadata` says of Composition: read by the hand-over's id, and `$document`.
pub const CAPABILITY: crate::capability::ResourceCapability =
    crate::capability::ResourceCapability {
        kind: "Composition",
        profile: Some(COMPOSITION_PROFILE),
        interactions: &["read"],
        search_params: &[],
        search_include: &[],
        operations: &[crate::capability::Operation {
            name: "document",
            definition: "http://hl7.org/fhir/OperationDefinition/Composition-document",
        }],
    };

/// Profile of the Composition (診療情報提供書 FHIR 記述仕様).
pub const COMPOSITION_PROFILE: &str =
    "http://jpfhir.jp/fhir/eReferral/StructureDefinition/JP_Composition_eReferral";
/// Profile of the document Bundle.
pub const BUNDLE_PROFILE: &str =
    "http://jpfhir.jp/fhir/eReferral/StructureDefinition/JP_Bundle_eReferral";
/// The section code system of the 診療情報提供書 specification.
pub const SECTION_SYSTEM: &str = "http://jpfhir.jp/fhir/eReferral/CodeSystem/document-section";
/// Renkei's own section codes (the pathway's goals).
pub const RENKEI_SECTION_SYSTEM: &str =
    "https://renkei.example.jp/fhir/CodeSystem/document-section";
/// Document type codes (文書区分コード) of the JP specifications; 57133-1 is 診療情報提供書.
pub const DOC_TYPE_SYSTEM: &str = "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes";
/// Business identifiers of resource instances (JP Core).
pub const INSTANCE_ID_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier";
const VERSION_EXTENSION: &str =
    "http://hl7.org/fhir/StructureDefinition/composition-clinicaldocument-versionNumber";
const REPRESENTATION_EXTENSION: &str =
    "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";

/// An organisation named in the letter.
#[derive(Debug, Clone)]
pub struct LetterOrganization {
    pub id: String,
    pub code: String,
    pub name: String,
    pub phone: Option<String>,
}

/// The patient of the letter.
#[derive(Debug, Clone)]
pub struct LetterPatient {
    pub id: String,
    pub family: String,
    pub given: String,
    pub family_kana: String,
    pub given_kana: String,
    pub birth_date: NaiveDate,
    /// `male` / `female` / `other` / `unknown` (FHIR administrative gender).
    pub gender: String,
}

/// The sending physician (the practitioner who proposed the hand-over).
#[derive(Debug, Clone)]
pub struct LetterAuthor {
    pub id: String,
    pub name: String,
}

/// Everything a referral letter is made of: the hand-over, its parties, and the summary
/// the hand-over recorded when it was proposed (`pathway`, `goals`, `latest_values`,
/// `referral`, `note`, `variances`, `stage_outcome`).
#[derive(Debug, Clone)]
pub struct ReferralLetter<'a> {
    pub handover_id: String,
    pub plan_id: String,
    /// The hand-over's state (`proposed`, `accepted`, `completed`, `declined`, `withdrawn`).
    pub state: String,
    pub proposed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub plan_started_at: DateTime<Utc>,
    pub transfer_date: Option<NaiveDate>,
    pub from: LetterOrganization,
    pub to: LetterOrganization,
    pub author: LetterAuthor,
    pub patient: LetterPatient,
    pub summary: &'a Value,
    pub template: &'a PathwayTemplate,
    /// The plan's template variant in words, when its version has variants.
    pub variant_title: Option<String>,
}

/// FHIR ids allow `[A-Za-z0-9\-\.]{1,64}`.
fn fhir_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A narrative of paragraphs (each line of each text a line break).
fn narrative(paragraphs: &[String]) -> Value {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", escape(p).replace('\n', "<br/>")))
        .collect();
    json!({
        "status": "additional",
        "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{body}</div>")
    })
}

/// A narrative table of (label, words) rows.
fn narrative_table(rows: &[(String, String)]) -> Value {
    let body: String = rows
        .iter()
        .map(|(k, v)| {
            format!(
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(k),
                escape(v).replace('\n', "<br/>")
            )
        })
        .collect();
    json!({
        "status": "additional",
        "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\"><table><tbody>{body}</tbody></table></div>")
    })
}

fn section(system: &str, code: &str, display: &str, title: &str) -> Map<String, Value> {
    let mut s = Map::new();
    s.insert("title".into(), json!(title));
    s.insert(
        "code".into(),
        json!({"coding": [{"system": system, "code": code, "display": display}]}),
    );
    s
}

fn reference(kind: &str, id: &str) -> Value {
    json!({"reference": format!("{kind}/{id}")})
}

/// What a section says: paragraphs, or rows of (label, words).
#[derive(Debug, Clone, PartialEq)]
pub enum LetterBody {
    Paragraphs(Vec<String>),
    Rows(Vec<(String, String)>),
}

impl LetterBody {
    fn narrative(&self) -> Value {
        match self {
            LetterBody::Paragraphs(p) => narrative(p),
            LetterBody::Rows(r) => narrative_table(r),
        }
    }
}

/// One section of the letter's 構造情報: its code in the 診療情報提供書 specification (or
/// Renkei's, for the pathway's goals), its title, what it says, and the references to
/// its entries. The printed letter shows the same sections as the Composition.
#[derive(Debug, Clone)]
pub struct LetterSection {
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
    pub title: &'static str,
    pub body: LetterBody,
    pub entries: Vec<Value>,
}

/// What the summary recorded for a referral field, in words (a coded field's Japanese term).
fn referral_words(summary: &Value) -> Vec<(&'static str, String)> {
    referral_lines(&summary["referral"], Lang::Ja)
}

fn referral_word(words: &[(&'static str, String)], key: &str) -> Option<String> {
    let label = REFERRAL_FIELDS.iter().find(|f| f.key == key)?.ja;
    words
        .iter()
        .find(|(l, _)| *l == label)
        .map(|(_, v)| v.clone())
}

fn tokyo_date(t: DateTime<Utc>) -> NaiveDate {
    (t + chrono::Duration::hours(9)).date_naive()
}

fn ja_date(d: NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// The goal statuses of the goal engine in Japanese (as the plan page says them).
pub fn goal_status_ja(status: &str) -> &'static str {
    match status {
        "met" => "達成",
        "not_met" => "未達",
        "pending" => "評価待ち",
        "overdue" => "期限超過",
        "not_applicable" => "対象外",
        _ => "不明",
    }
}

/// `Goal.achievementStatus` of a goal-engine status (none for a goal that does not apply).
pub fn achievement_status(status: &str) -> Option<(&'static str, &'static str)> {
    match status {
        "met" => Some(("achieved", "Achieved")),
        "not_met" | "overdue" => Some(("not-achieving", "Not Achieving")),
        "pending" => Some(("in-progress", "In Progress")),
        _ => None,
    }
}

/// A recorded value in words, with its unit or option title.
pub fn value_words(template: &PathwayTemplate, item: &str, value: &Value) -> String {
    let def = template.item(item);
    match value {
        Value::String(s) => def
            .and_then(|d| d.options.as_ref())
            .and_then(|o| o.iter().find(|o| &o.code == s))
            .map(|o| o.title.ja.clone())
            .unwrap_or_else(|| s.clone()),
        Value::Bool(b) => if *b { "あり" } else { "なし" }.to_owned(),
        Value::Number(n) => match def.and_then(|d| d.unit.as_deref()) {
            Some(u) => format!("{n} {u}"),
            None => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// The letter's title words of an item (its Japanese title, else its code).
fn item_title(template: &PathwayTemplate, item: &str) -> String {
    template
        .item(item)
        .map(|i| i.title.ja.clone())
        .unwrap_or_else(|| item.to_owned())
}

/// An Observation of a value the hand-over's summary recorded (the latest of its item).
fn observation(l: &ReferralLetter<'_>, item: &str, recorded: &Value) -> Option<Value> {
    let value = recorded.get("value")?;
    let effective = recorded.get("effective_at")?.as_str()?;
    let def = l.template.item(item);
    let mut coding: Vec<Value> = def
        .map(|d| {
            d.codes
                .iter()
                .map(|c| {
                    let mut v = json!({"system": c.system, "code": c.code});
                    if let Some(d) = &c.display {
                        v["display"] = json!(d);
                    }
                    v
                })
                .collect()
        })
        .unwrap_or_default();
    coding.push(json!({
        "system": format!("https://renkei.example.jp/fhir/CodeSystem/{}-items", l.template.code),
        "code": item,
        "display": item_title(l.template, item),
    }));
    let mut obs = json!({
        "resourceType": "Observation",
        "id": fhir_id(&format!("{}-{}", l.handover_id, item)),
        "status": "final",
        "code": {"coding": coding, "text": item_title(l.template, item)},
        "subject": reference("Patient", &l.patient.id),
        "effectiveDateTime": effective,
    });
    match value {
        Value::Number(n) => {
            let mut q = json!({"value": n});
            if let Some(u) = def.and_then(|d| d.unit.as_deref()) {
                q["unit"] = json!(u);
            }
            obs["valueQuantity"] = q;
        }
        Value::Bool(b) => obs["valueBoolean"] = json!(b),
        Value::String(s) => {
            let title = value_words(l.template, item, value);
            if def.and_then(|d| d.options.as_ref()).is_some() {
                obs["valueCodeableConcept"] = json!({
                    "coding": [{
                        "system": format!("https://renkei.example.jp/fhir/CodeSystem/{}-items", l.template.code),
                        "code": format!("{item}.{s}"),
                        "display": title,
                    }],
                    "text": title,
                });
            } else {
                obs["valueString"] = json!(s);
            }
        }
        _ => return None,
    }
    Some(obs)
}

/// The resources of the letter other than the Composition: patient, organisations,
/// author, diagnosis, observations, goals.
struct Resources {
    list: Vec<Value>,
}

fn patient(p: &LetterPatient) -> Value {
    json!({
        "resourceType": "Patient",
        "id": p.id,
        "meta": {"profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"]},
        "name": [
            {
                "extension": [{"url": REPRESENTATION_EXTENSION, "valueCode": "IDE"}],
                "use": "official",
                "text": format!("{} {}", p.family, p.given),
                "family": p.family,
                "given": [p.given],
            },
            {
                "extension": [{"url": REPRESENTATION_EXTENSION, "valueCode": "SYL"}],
                "use": "official",
                "text": format!("{} {}", p.family_kana, p.given_kana),
                "family": p.family_kana,
                "given": [p.given_kana],
            }
        ],
        "gender": p.gender,
        "birthDate": p.birth_date.format("%Y-%m-%d").to_string(),
    })
}

fn organization(o: &LetterOrganization) -> Value {
    let mut v = json!({
        "resourceType": "Organization",
        "id": o.id,
        "meta": {"profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Organization"]},
        "identifier": [{"system": "https://renkei.example.jp/fhir/NamingSystem/organization-code", "value": o.code}],
        "active": true,
        "name": o.name,
    });
    if let Some(p) = &o.phone {
        v["telecom"] = json!([{"system": "phone", "value": p}]);
    }
    v
}

fn practitioner(a: &LetterAuthor) -> Value {
    json!({
        "resourceType": "Practitioner",
        "id": a.id,
        "meta": {"profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Practitioner"]},
        "name": [{"text": a.name}],
    })
}

/// The document Bundle of the letter; `base` is the absolute FHIR base URL
/// (`https://host/fhir/r4`) of the `fullUrl`s, `now` the Bundle's timestamp.
pub fn referral_document(l: &ReferralLetter<'_>, base: &str, now: DateTime<Utc>) -> Value {
    let (composition, resources) = build(l);
    let mut entries = vec![entry(base, &composition)];
    entries.extend(resources.list.iter().map(|r| entry(base, r)));
    json!({
        "resourceType": "Bundle",
        "id": fhir_id(&format!("doc-{}", l.handover_id)),
        "meta": {"profile": [BUNDLE_PROFILE], "lastUpdated": l.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
        "identifier": {"system": INSTANCE_ID_SYSTEM, "value": l.handover_id},
        "type": "document",
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "entry": entries,
    })
}

/// The Composition of the letter alone (its references resolve inside the document).
pub fn referral_composition(l: &ReferralLetter<'_>) -> Value {
    build(l).0
}

fn entry(base: &str, r: &Value) -> Value {
    let kind = r["resourceType"].as_str().unwrap_or_default();
    let id = r["id"].as_str().unwrap_or_default();
    json!({"fullUrl": format!("{base}/{kind}/{id}"), "resource": r})
}

fn sections_and_resources(l: &ReferralLetter<'_>) -> (Vec<LetterSection>, Vec<Value>) {
    let s = l.summary;
    let words = referral_words(s);
    let t = l.template;
    let stage_title = |code: &str| {
        t.stage(code)
            .map(|st| st.title.ja.clone())
            .unwrap_or_else(|| code.to_owned())
    };
    let mut list = vec![
        patient(&l.patient),
        organization(&l.to),
        organization(&l.from),
        practitioner(&l.author),
    ];
    // 傷病名・主訴: the referral's diagnosis, as a Condition.
    let diagnosis = referral_word(&words, "diagnosis").unwrap_or_else(|| t.title.ja.clone());
    let condition_id = fhir_id(&format!("{}-diagnosis", l.handover_id));
    let mut problem_rows = vec![("診断名".to_owned(), diagnosis.clone())];
    for key in ["clinical_type", "paralysis_side"] {
        if let Some(v) = referral_word(&words, key) {
            let label = REFERRAL_FIELDS
                .iter()
                .find(|f| f.key == key)
                .map(|f| f.ja)
                .unwrap_or(key);
            problem_rows.push((label.to_owned(), v));
        }
    }
    list.push(json!({
        "resourceType": "Condition",
        "id": condition_id,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}]}],
        "code": {"text": diagnosis},
        "subject": reference("Patient", &l.patient.id),
        "recordedDate": l.proposed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }));

    let mut parts = Vec::new();
    // 紹介目的: the receiving stage and organisation, the sender's note, the planned date.
    let mut purpose = vec![format!(
        "{}での診療の継続をお願いしたく、{}へご紹介します(地域連携パス: {})。",
        stage_title(s["stage"].as_str().unwrap_or_default()),
        l.to.name,
        t.title.ja
    )];
    if let Some(d) = l.transfer_date {
        purpose.push(format!("転院予定日: {}", ja_date(d)));
    }
    if let Some(n) = s["note"].as_str().filter(|n| !n.trim().is_empty()) {
        purpose.push(n.to_owned());
    }
    parts.push(LetterSection {
        system: SECTION_SYSTEM,
        code: "950",
        display: "紹介目的セクション",
        title: "紹介目的",
        body: LetterBody::Paragraphs(purpose),
        entries: vec![],
    });
    parts.push(LetterSection {
        system: SECTION_SYSTEM,
        code: "340",
        display: "傷病名・主訴セクション",
        title: "傷病名・主訴",
        body: LetterBody::Rows(problem_rows),
        entries: vec![reference("Condition", &condition_id)],
    });
    // 現病歴: the course along the pathway so far.
    let mut course = vec![format!(
        "{}より{}(第{}版{})に沿って診療しています。",
        ja_date(tokyo_date(l.plan_started_at)),
        t.title.ja,
        t.version,
        l.variant_title
            .as_ref()
            .map(|v| format!("・{v}"))
            .unwrap_or_default()
    )];
    course.push(format!(
        "現在の病期: {}。紹介先の病期: {}。",
        stage_title(s["from_stage"].as_str().unwrap_or_default()),
        stage_title(s["stage"].as_str().unwrap_or_default())
    ));
    let variances = s["variances"].as_array().map(Vec::len).unwrap_or(0);
    if variances > 0 {
        course.push(format!("記録されたバリアンス: {variances}件"));
    }
    parts.push(LetterSection {
        system: SECTION_SYSTEM,
        code: "360",
        display: "現病歴セクション",
        title: "現病歴",
        body: LetterBody::Paragraphs(course),
        entries: vec![],
    });
    let field_part = |key: &str,
                      code: &'static str,
                      display: &'static str,
                      title: &'static str|
     -> Option<LetterSection> {
        referral_word(&words, key).map(|v| LetterSection {
            system: SECTION_SYSTEM,
            code,
            display,
            title,
            body: LetterBody::Paragraphs(vec![v]),
            entries: vec![],
        })
    };
    parts.extend(field_part("history", "370", "既往歴セクション", "既往歴"));
    parts.extend(field_part(
        "infections",
        "520",
        "感染症情報セクション",
        "感染症情報",
    ));
    // 身体所見: ADL, swallowing and diet.
    let physical: Vec<(String, String)> = ["adl", "swallowing", "diet_form"]
        .iter()
        .filter_map(|k| {
            let label = REFERRAL_FIELDS.iter().find(|f| f.key == *k)?.ja;
            Some((label.to_owned(), referral_word(&words, k)?))
        })
        .collect();
    if !physical.is_empty() {
        parts.push(LetterSection {
            system: SECTION_SYSTEM,
            code: "610",
            display: "身体所見セクション",
            title: "身体所見",
            body: LetterBody::Rows(physical),
            entries: vec![],
        });
    }
    // 検査結果: the latest measured value of each item the plan recorded, as Observations.
    let mut results = Vec::new();
    let mut result_refs = Vec::new();
    if let Some(latest) = s["latest_values"].as_object() {
        // In the template's item order, so the letter reads like the plan.
        let mut items: Vec<&String> = latest.keys().collect();
        items.sort_by_key(|k| {
            t.items
                .iter()
                .position(|i| &i.code == *k)
                .unwrap_or(usize::MAX)
        });
        for item in items {
            let recorded = &latest[item.as_str()];
            // Measured values only: coded findings (care level, diet…) have their own
            // sections.
            if !recorded["value"].is_number() {
                continue;
            }
            let Some(obs) = observation(l, item, recorded) else {
                continue;
            };
            let when = recorded["effective_at"]
                .as_str()
                .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
                .map(|e| ja_date(tokyo_date(e.with_timezone(&Utc))))
                .unwrap_or_default();
            results.push((
                item_title(t, item),
                format!("{}({when})", value_words(t, item, &recorded["value"])),
            ));
            result_refs.push(reference(
                "Observation",
                obs["id"].as_str().unwrap_or_default(),
            ));
            list.push(obs);
        }
    }
    if !results.is_empty() {
        parts.push(LetterSection {
            system: SECTION_SYSTEM,
            code: "620",
            display: "検査結果セクション",
            title: "検査結果",
            body: LetterBody::Rows(results),
            entries: result_refs,
        });
    }
    parts.extend(field_part(
        "medications",
        "430",
        "投薬指示セクション",
        "処方",
    ));
    let social: Vec<(String, String)> = ["key_person", "key_person_contact", "care_insurance"]
        .iter()
        .filter_map(|k| {
            let label = REFERRAL_FIELDS.iter().find(|f| f.key == *k)?.ja;
            Some((label.to_owned(), referral_word(&words, k)?))
        })
        .collect();
    if !social.is_empty() {
        parts.push(LetterSection {
            system: SECTION_SYSTEM,
            code: "640",
            display: "社会歴・生活習慣セクション",
            title: "社会歴・生活習慣",
            body: LetterBody::Rows(social),
            entries: vec![],
        });
    }

    // 連携パスの達成目標と現状: each goal of the pathway with its status, as Goals.
    let mut goal_rows = Vec::new();
    let mut goal_refs = Vec::new();
    for g in s["goals"].as_array().into_iter().flatten() {
        let code = g["code"].as_str().unwrap_or_default();
        let title = g["title_ja"].as_str().unwrap_or(code);
        let status = g["status"].as_str().unwrap_or_default();
        let id = fhir_id(&format!("{}-{}", l.plan_id, code));
        let mut words = goal_status_ja(status).to_owned();
        if let Some(v) = g.get("latest").filter(|v| !v.is_null()) {
            words.push_str(&format!("(最新値 {})", value_words(t, code, v)));
        }
        goal_rows.push((title.to_owned(), words));
        let mut goal = json!({
            "resourceType": "Goal",
            "id": id,
            "lifecycleStatus": if status == "not_applicable" { "cancelled" } else { "active" },
            "description": {"text": title},
            "subject": reference("Patient", &l.patient.id),
            "note": [{"text": format!("紹介時点の状況: {}", goal_status_ja(status))}],
        });
        if let Some((code, display)) = achievement_status(status) {
            goal["achievementStatus"] = json!({"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/goal-achievement",
                "code": code, "display": display
            }]});
        }
        if let Some(due) = g["due"]
            .as_str()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        {
            goal["target"] = json!([{"dueDate": tokyo_date(due.with_timezone(&Utc)).format("%Y-%m-%d").to_string()}]);
        }
        goal_refs.push(reference("Goal", &id));
        list.push(goal);
    }
    if goal_rows.is_empty() {
        goal_rows.push((
            "達成目標".to_owned(),
            "この連携パスに達成目標はありません".to_owned(),
        ));
    }

    parts.push(LetterSection {
        system: RENKEI_SECTION_SYSTEM,
        code: "pathway-goals",
        display: "連携パスの達成目標と現状",
        title: "連携パスの達成目標と現状",
        body: LetterBody::Rows(goal_rows),
        entries: goal_refs,
    });
    (parts, list)
}

/// The sections of the letter's 構造情報, in the letter's order (the printed letter shows
/// exactly these).
pub fn letter_sections(l: &ReferralLetter<'_>) -> Vec<LetterSection> {
    sections_and_resources(l).0
}

fn build(l: &ReferralLetter<'_>) -> (Value, Resources) {
    let (parts, list) = sections_and_resources(l);
    let mut structured = section(SECTION_SYSTEM, "300", "構造情報セクション", "構造情報");
    let subs: Vec<Value> = parts
        .into_iter()
        .map(|p| {
            let mut sec = section(p.system, p.code, p.display, p.title);
            sec.insert("text".into(), p.body.narrative());
            if !p.entries.is_empty() {
                sec.insert("entry".into(), Value::Array(p.entries));
            }
            Value::Object(sec)
        })
        .collect();
    structured.insert("section".into(), Value::Array(subs));

    let mut to_section = section(SECTION_SYSTEM, "910", "紹介先情報セクション", "紹介先情報");
    to_section.insert("text".into(), narrative(std::slice::from_ref(&l.to.name)));
    to_section.insert("entry".into(), json!([reference("Organization", &l.to.id)]));
    let mut from_section = section(SECTION_SYSTEM, "920", "紹介元情報セクション", "紹介元情報");
    from_section.insert(
        "text".into(),
        narrative(&[format!("{} {}", l.from.name, l.author.name)]),
    );
    from_section.insert(
        "entry".into(),
        json!([
            reference("Organization", &l.from.id),
            reference("Practitioner", &l.author.id)
        ]),
    );

    let status = match l.state.as_str() {
        "withdrawn" => "entered-in-error",
        _ => "final",
    };
    let composition = json!({
        "resourceType": "Composition",
        "id": l.handover_id,
        "meta": {
            "profile": [COMPOSITION_PROFILE],
            "lastUpdated": l.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
        "extension": [{"url": VERSION_EXTENSION, "valueString": "1"}],
        "identifier": {"system": INSTANCE_ID_SYSTEM, "value": l.handover_id},
        "status": status,
        "type": {"coding": [
            {"system": DOC_TYPE_SYSTEM, "code": "57133-1", "display": "診療情報提供書"},
            {"system": "http://loinc.org", "code": "57133-1", "display": "Referral note"}
        ]},
        "category": [{"coding": [{"system": DOC_TYPE_SYSTEM, "code": "57133-1", "display": "診療情報提供書"}]}],
        "subject": reference("Patient", &l.patient.id),
        "date": l.proposed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "author": [reference("Practitioner", &l.author.id), reference("Organization", &l.from.id)],
        "title": "診療情報提供書",
        "custodian": reference("Organization", &l.from.id),
        "section": [Value::Object(to_section), Value::Object(from_section), Value::Object(structured)],
    });
    (composition, Resources { list })
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_domain::template::parse_template;

    fn stroke() -> PathwayTemplate {
        parse_template(include_str!("../../../pathways/stroke/v2.toml"), None)
            .expect("the stroke template parses")
    }

    fn summary() -> Value {
        json!({
            "pathway": {"code": "stroke", "version": 2, "title_ja": "脳卒中"},
            "from_stage": "acute",
            "stage": "recovery",
            "goals": [
                {"code": "g1", "title_ja": "目標<1>", "status": "met", "latest": null, "due": null},
                {"code": "g2", "title_ja": "目標2", "status": "not_applicable", "latest": null, "due": null}
            ],
            "latest_values": {"fim_total": {"value": 52, "effective_at": "2026-12-01T00:00:00Z", "stage": "acute"}},
            "variances": [],
            "note": "転院をお願いします & <よろしく>",
            "referral": {"diagnosis": "脳梗塞", "paralysis_side": "right", "medications": "薬A"}
        })
    }

    fn letter<'a>(t: &'a PathwayTemplate, s: &'a Value) -> ReferralLetter<'a> {
        let at = DateTime::parse_from_rfc3339("2026-12-07T01:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let org = |id: &str, name: &str| LetterOrganization {
            id: id.into(),
            code: id.into(),
            name: name.into(),
            phone: None,
        };
        ReferralLetter {
            handover_id: "h-1".into(),
            plan_id: "p-1".into(),
            state: "proposed".into(),
            proposed_at: at,
            updated_at: at,
            plan_started_at: at,
            variant_title: None,
            transfer_date: None,
            from: org("o-1", "急性期病院"),
            to: org("o-2", "回復期病院"),
            author: LetterAuthor {
                id: "pr-1".into(),
                name: "佐藤".into(),
            },
            patient: LetterPatient {
                id: "pt-1".into(),
                family: "山田".into(),
                given: "太郎".into(),
                family_kana: "ヤマダ".into(),
                given_kana: "タロウ".into(),
                birth_date: NaiveDate::from_ymd_opt(1948, 4, 1).expect("date"),
                gender: "male".into(),
            },
            summary: s,
            template: t,
        }
    }

    #[test]
    fn the_letter_has_the_required_sections_and_leaves_out_empty_ones() {
        let (t, s) = (stroke(), summary());
        let codes: Vec<&str> = letter_sections(&letter(&t, &s))
            .iter()
            .map(|s| s.code)
            .collect();
        for required in ["950", "340", "360", "620", "430", "pathway-goals"] {
            assert!(
                codes.contains(&required),
                "{required} missing from {codes:?}"
            );
        }
        for absent in ["370", "520", "640"] {
            assert!(!codes.contains(&absent), "{absent} has nothing to say");
        }
    }

    #[test]
    fn narratives_escape_what_people_typed() {
        let (t, s) = (stroke(), summary());
        let c = referral_composition(&letter(&t, &s));
        let text = c.to_string();
        assert!(
            text.contains("転院をお願いします &amp; &lt;よろしく&gt;"),
            "{text}"
        );
        assert!(text.contains("目標&lt;1&gt;"));
        assert!(!text.contains("<よろしく>"));
    }

    #[test]
    fn coded_fields_are_words_and_goal_statuses_map_to_fhir() {
        let (t, s) = (stroke(), summary());
        let doc = referral_document(&letter(&t, &s), "https://x/fhir/r4", Utc::now());
        let text = doc.to_string();
        assert!(text.contains("右片麻痺"));
        let goals: Vec<&Value> = doc["entry"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["resourceType"] == "Goal")
            .collect();
        assert_eq!(
            goals[0]["achievementStatus"]["coding"][0]["code"],
            "achieved"
        );
        assert_eq!(goals[1]["lifecycleStatus"], "cancelled");
        assert!(goals[1].get("achievementStatus").is_none());
        assert_eq!(
            doc["entry"][0]["fullUrl"],
            "https://x/fhir/r4/Composition/h-1"
        );
    }
}
