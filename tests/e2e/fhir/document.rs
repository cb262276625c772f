//! Issue 15 §3: every hand-over as the referral letter (診療情報提供書) — a FHIR document
//! Bundle whose Composition carries the sections of the national 診療情報提供書 FHIR
//! specification (紹介目的 950, 傷病名 340, 現病歴 360, 検査結果 620, 処方 430) and the
//! pathway's goals with their status; read under the hand-over's read rule and audited;
//! and the printable Japanese letter in the web UI.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{app_or_skip, append, consent, stroke_plan};
use renkei_testkit::app::send;
use renkei_testkit::builders::days_ago;
use renkei_testkit::{TestApp, fhir_validate};

const SECTIONS: &str = "http://jpfhir.jp/fhir/eReferral/CodeSystem/document-section";

async fn fhir_get(app: &TestApp, path: &str, token: &str) -> renkei_testkit::ApiResponse {
    send(app.request(Method::GET, path).bearer_auth(token)).await
}

/// A stroke plan of acute-1 in its acute stage with an HbA1c-free but FIM-recorded
/// course, proposed to recovery-1 with a note and typed referral fields; returns
/// (plan id, hand-over id).
pub async fn proposed_handover(app: &TestApp, token: &str) -> (String, String) {
    let plan = stroke_plan(app, token, 6).await;
    consent(app, token, &plan).await;
    append(
        app,
        token,
        &plan,
        json!({"stage": "acute", "kind": "stage_start", "effective_at": days_ago(5),
               "values": {"nihss_total": 8}}),
    )
    .await;
    append(
        app,
        token,
        &plan,
        json!({"stage": "acute", "kind": "assessment", "effective_at": days_ago(3),
               "values": {"fim_total": 52, "care_level": "applying"}}),
    )
    .await;
    app.ensure_org("recovery-1", "recovery_hospital").await;
    let res = app
        .post_json(
            &format!("/api/v1/care-plans/{plan}/handovers"),
            token,
            &json!({
                "to_organization": "recovery-1",
                "stage": "recovery",
                "note": "リハビリ継続目的の転院をお願いします。",
                "referral": {
                    "diagnosis": "アテローム血栓性脳梗塞",
                    "clinical_type": "atherothrombotic",
                    "paralysis_side": "right",
                    "history": "高血圧症(10年)",
                    "medications": "クロピドグレル 75mg 1日1回 朝食後",
                    "adl": "FIM合計 52点",
                    "key_person": "長女"
                }
            }),
            None,
        )
        .await;
    res.assert_status(201);
    (plan, res.body["id"].as_str().expect("id").to_owned())
}

fn section<'a>(sections: &'a Value, code: &str) -> Option<&'a Value> {
    sections
        .as_array()?
        .iter()
        .find(|s| s["code"]["coding"][0]["code"] == code)
}

fn text_of(section: &Value) -> String {
    section["text"]["div"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_over_is_a_referral_document_with_the_national_sections() {
    let app = app_or_skip!();
    let a = app.token().await;
    let (plan, id) = proposed_handover(&app, &a).await;

    let res = fhir_get(&app, &format!("/fhir/r4/Composition/{id}/$document"), &a).await;
    res.assert_status(200);
    assert_eq!(res.content_type(), "application/fhir+json; charset=utf-8");
    let bundle = &res.body;
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "document");
    assert_eq!(bundle["identifier"]["value"], id.as_str());
    assert!(bundle["timestamp"].is_string());
    let entries = bundle["entry"].as_array().expect("entries");
    let composition = &entries[0]["resource"];
    assert_eq!(
        composition["resourceType"], "Composition",
        "the Composition comes first"
    );
    assert_eq!(composition["id"], id.as_str());
    assert_eq!(composition["title"], "診療情報提供書");
    assert_eq!(composition["type"]["coding"][0]["code"], "57133-1");
    // Every reference of the Composition resolves inside the document.
    let full_urls: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["fullUrl"].as_str())
        .collect();
    let mut refs = Vec::new();
    collect_references(composition, &mut refs);
    for r in &refs {
        assert!(
            full_urls.iter().any(|u| u.ends_with(&format!("/{r}"))),
            "{r} is not in the document"
        );
    }
    assert!(
        full_urls.iter().all(|u| u.starts_with("http://")),
        "{full_urls:?}"
    );

    let top = &composition["section"];
    let to = section(top, "910").expect("紹介先情報");
    assert!(text_of(to).contains("recovery-1"), "{}", text_of(to));
    section(top, "920").expect("紹介元情報");
    let structured = &section(top, "300").expect("構造情報")["section"];
    for s in structured.as_array().expect("sub-sections") {
        assert!(s["code"]["coding"][0]["system"].is_string(), "{s}");
    }
    let purpose = section(structured, "950").expect("紹介目的");
    assert_eq!(purpose["code"]["coding"][0]["system"], SECTIONS);
    assert!(
        text_of(purpose).contains("リハビリ継続目的の転院をお願いします。"),
        "{}",
        text_of(purpose)
    );
    let problem = section(structured, "340").expect("傷病名・主訴");
    assert!(text_of(problem).contains("アテローム血栓性脳梗塞"));
    assert!(
        text_of(problem).contains("右片麻痺"),
        "coded fields in words, not codes"
    );
    section(structured, "360").expect("現病歴");
    assert!(text_of(section(structured, "370").expect("既往歴")).contains("高血圧症"));
    let results = section(structured, "620").expect("検査結果");
    assert!(text_of(results).contains("52"), "{}", text_of(results));
    assert!(
        !results["entry"]
            .as_array()
            .expect("observations")
            .is_empty()
    );
    let prescription = section(structured, "430").expect("処方");
    assert_eq!(prescription["title"], "処方");
    assert!(text_of(prescription).contains("クロピドグレル"));
    let goals = structured
        .as_array()
        .expect("sections")
        .iter()
        .find(|s| s["title"] == "連携パスの達成目標と現状")
        .expect("連携パスの達成目標と現状");
    let goal_refs = goals["entry"].as_array().expect("goals");
    assert!(!goal_refs.is_empty());
    let goal_resources: Vec<&Value> = entries
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "Goal")
        .collect();
    assert_eq!(goal_resources.len(), goal_refs.len());
    assert!(
        goal_resources
            .iter()
            .all(|g| g["id"].as_str().is_some_and(|i| i.starts_with(&plan)))
    );
    // The goal engine's status at the hand-over: the summary's, in words and as FHIR.
    let summary =
        app.get(&format!("/api/v1/handovers/{id}"), &a).await.body["summary"]["goals"].clone();
    for g in summary.as_array().expect("summary goals") {
        let title = g["title_ja"].as_str().expect("title");
        let escaped = title
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(
            text_of(goals).contains(&escaped),
            "{title} missing from the goals section"
        );
    }

    assert_eq!(fhir_validate(bundle), Vec::<String>::new());

    // The Composition alone is the first entry.
    let c = fhir_get(&app, &format!("/fhir/r4/Composition/{id}"), &a).await;
    c.assert_status(200);
    assert_eq!(c.body, *composition);
}

fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("reference") {
                out.push(r.clone());
            }
            for x in m.values() {
                collect_references(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_references(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_referral_document_is_read_under_the_hand_overs_rule_and_audited() {
    let app = app_or_skip!();
    let a = app.token().await;
    let (_, id) = proposed_handover(&app, &a).await;
    // The receiver reads it before accepting.
    let r = app
        .user_token("recovery-1", "recovery_hospital", "kaifuku-doc")
        .await;
    fhir_get(&app, &format!("/fhir/r4/Composition/{id}/$document"), &r)
        .await
        .assert_status(200);
    // An organisation outside the hand-over and the care team gets an OperationOutcome 404,
    // as for an unknown id.
    let outsider = app.user_token("clinic-9", "clinic", "soto-doc").await;
    let res = fhir_get(
        &app,
        &format!("/fhir/r4/Composition/{id}/$document"),
        &outsider,
    )
    .await;
    res.assert_status(404);
    assert_eq!(res.body["resourceType"], "OperationOutcome");
    let unknown = fhir_get(
        &app,
        "/fhir/r4/Composition/00000000-0000-7000-8000-000000000000/$document",
        &outsider,
    )
    .await;
    unknown.assert_status(404);
    assert_eq!(res.body["issue"], unknown.body["issue"]);
    // No token: 401.
    let anon =
        send(app.request(Method::GET, &format!("/fhir/r4/Composition/{id}/$document"))).await;
    anon.assert_status(401);
    assert_eq!(anon.body["resourceType"], "OperationOutcome");
    // The receiver's read is the JSON API's hand-over read event.
    let events = renkei_testkit::rows::audit_events(&app.services.db)
        .await
        .expect("audit events");
    let reads = events
        .iter()
        .filter(|e| {
            e.action == "handover.read"
                && e.outcome == "allowed"
                && e.resource_id.as_deref() == Some(id.as_str())
        })
        .count();
    assert_eq!(reads, 1, "one allowed handover.read event");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_composition_snapshot_with_ids_and_times_redacted() {
    let app = app_or_skip!();
    let a = app.token().await;
    let (_, id) = proposed_handover(&app, &a).await;
    let c = fhir_get(&app, &format!("/fhir/r4/Composition/{id}"), &a).await;
    c.assert_status(200);
    let redacted = redact(c.body);
    insta::assert_json_snapshot!("referral_composition", redacted);
}

/// Replaces UUIDs (anywhere in strings) and timestamps by placeholders.
pub fn redact(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(redact_text(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(redact).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    // Signature data and hashes change with every id and time they cover.
                    if k == "data" && v.is_string() {
                        (k, Value::String("[data]".into()))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        other => other,
    }
}

fn redact_text(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let hex = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        if hex >= 32 && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            out.push_str("[hex]");
            i += hex;
        } else if let Some(n) = shaped(&chars[i..], "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh") {
            out.push_str("[uuid]");
            i += n;
        } else if let Some(n) = shaped(&chars[i..], "dddd-dd-ddTdd:dd:dd") {
            let mut j = i + n;
            while j < chars.len()
                && (chars[j].is_ascii_digit() || matches!(chars[j], '.' | 'Z' | '+' | ':'))
            {
                j += 1;
            }
            out.push_str("[time]");
            i = j;
        } else if let Some(n) = shaped(&chars[i..], "dddd-dd-dd") {
            out.push_str("[date]");
            i += n;
        } else if let Some(n) = ja_date_len(&chars[i..]) {
            out.push_str("[date]");
            i += n;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The length of `c`'s prefix of `shape` (`d` digit, `h` hex digit, others literal).
fn shaped(c: &[char], shape: &str) -> Option<usize> {
    let n = shape.chars().count();
    (c.len() >= n
        && shape.chars().zip(c).all(|(s, ch)| match s {
            'd' => ch.is_ascii_digit(),
            'h' => ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase(),
            lit => lit == *ch,
        }))
    .then_some(n)
}

/// `2026年12月7日`.
fn ja_date_len(c: &[char]) -> Option<usize> {
    let mut i = 0;
    for (unit, max) in [('年', 4), ('月', 2), ('日', 2)] {
        let start = i;
        while i < c.len() && c[i].is_ascii_digit() && i - start < max {
            i += 1;
        }
        if i == start || c.get(i) != Some(&unit) {
            return None;
        }
        i += 1;
    }
    Some(i)
}
