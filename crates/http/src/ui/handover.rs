//! S6 — hand-overs: the inbox and outbox, proposing a hand-over (the receiver chosen
//! from the facility directory, the generated referral summary), accepting or declining
//! it (with the version it was read at, as If-Match), and the report back (返書).

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use renkei_domain::handover::{HandoverEvent, HandoverState, REFERRAL_FIELDS, referral_lines};
use renkei_domain::template::PathwayTemplate;
use renkei_service::ServiceError;
use renkei_service::screens::{HandoverScreen, ReportScreen};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::fmt::{self, When};
use super::home::visible;
use super::views::{self, Banner};
use super::{Nav, Posted, Shell, Ui, UiResult, explain, page, parse_uuid, see_other};
use crate::state::AppState;

async fn org_names(state: &AppState) -> Result<HashMap<String, String>, ServiceError> {
    Ok(
        renkei_service::admin::list_organizations(&state.services.db)
            .await?
            .into_iter()
            .map(|o| (o.code, o.name))
            .collect(),
    )
}

fn name_of(names: &HashMap<String, String>, code: &str) -> String {
    names.get(code).cloned().unwrap_or_else(|| code.to_owned())
}

// ------------------------------------------------------------------ inbox / outbox

pub struct BoxRow {
    pub url: String,
    pub state: &'static str,
    pub class: &'static str,
    pub patient: String,
    pub pathway: String,
    pub stage: String,
    pub party: String,
    pub when: When,
}

#[derive(Template)]
#[template(path = "ui/handovers.html")]
pub struct InboxPage {
    pub shell: Shell,
    pub incoming: Vec<BoxRow>,
    pub outgoing: Vec<BoxRow>,
    pub reports_owed: Vec<BoxRow>,
    pub reports_to_me: Vec<BoxRow>,
}

async fn handover_row(
    state: &AppState,
    ui: &Ui,
    names: &HashMap<String, String>,
    id: &str,
    incoming: bool,
    unread: &HashSet<Uuid>,
) -> Result<Option<BoxRow>, ServiceError> {
    let Ok(id) = id.parse() else { return Ok(None) };
    let Some(screen) = visible(
        state
            .services
            .handover_screen(&ui.actor, &ui.meta, id)
            .await,
    )?
    else {
        return Ok(None);
    };
    let (patient, pathway, template) = patient_and_pathway(state, &screen);
    let h = screen.handover;
    let open = HandoverState::parse(&h.state) == Some(HandoverState::Proposed);
    let class = if open { "wait" } else { "ok" };
    Ok(Some(BoxRow {
        url: format!("/handovers/{}", h.id),
        state: if incoming && open && unread.contains(&h.id) {
            "未読・未回答"
        } else if incoming && open {
            "未回答"
        } else {
            fmt::handover_state(&h.state)
        },
        class,
        patient,
        pathway,
        stage: fmt::stage_title(template.as_ref(), &h.stage),
        party: if incoming {
            format!("{}から", name_of(names, &h.from_organization))
        } else {
            format!("{}へ", name_of(names, &h.to_organization))
        },
        when: fmt::datetime(h.proposed_at),
    }))
}

/// The patient's name (when this organisation may see it yet) and the pathway title.
fn patient_and_pathway(
    state: &AppState,
    screen: &HandoverScreen,
) -> (String, String, Option<PathwayTemplate>) {
    let h = &screen.handover;
    let code = h.summary["pathway"]["code"].as_str().unwrap_or("");
    let version = h.summary["pathway"]["version"].as_u64().unwrap_or(0) as u32;
    let template = state
        .services
        .pathways
        .find(code, version)
        .map(|p| p.template.clone());
    let pathway = template
        .as_ref()
        .map(|t| t.title.ja.clone())
        .unwrap_or_else(|| code.to_owned());
    let patient = match &screen.behind {
        Some(b) => {
            let (kana, kanji) = views::names(&b.patient.patient);
            format!("{kanji}({kana})")
        }
        None => "(受入後に表示されます)".to_owned(),
    };
    (patient, pathway, template)
}

pub async fn inbox_page(State(state): State<AppState>, ui: Ui) -> UiResult {
    let w = state
        .services
        .worklist(&ui.actor, &ui.meta, None, 100, 90)
        .await?;
    let names = org_names(&state).await?;
    let unread = state.services.unread_handovers(&ui.actor).await?;
    let mut incoming = Vec::new();
    for i in &w.handovers_incoming.items {
        if let Some(r) = handover_row(&state, &ui, &names, &i.subject, true, &unread).await? {
            incoming.push(r);
        }
    }
    let mut outgoing = Vec::new();
    for i in &w.handovers_outgoing.items {
        if let Some(r) = handover_row(&state, &ui, &names, &i.subject, false, &unread).await? {
            outgoing.push(r);
        }
    }
    let mut reports_owed = Vec::new();
    let mut reports_to_me = Vec::new();
    for (list, out, mine) in [
        (&w.reports_owed.items, &mut reports_owed, true),
        (&w.reports_owed_to_me.items, &mut reports_to_me, false),
    ] {
        for i in list {
            let Ok(id) = i.subject.parse() else { continue };
            let Some(r) = visible(state.services.get_report(&ui.actor, &ui.meta, id).await)? else {
                continue;
            };
            let template = state
                .services
                .pathways
                .latest(&i.pathway)
                .map(|p| p.template.clone());
            out.push(BoxRow {
                url: format!("/reports/{}", r.id),
                state: if r.overdue {
                    "期限超過"
                } else {
                    "未送付"
                },
                class: if r.overdue { "bad" } else { "wait" },
                patient: String::new(),
                pathway: template
                    .as_ref()
                    .map(|t| t.title.ja.clone())
                    .unwrap_or_default(),
                stage: fmt::stage_title(template.as_ref(), &r.stage),
                party: if mine {
                    format!("{}へ", name_of(&names, &r.to_organization))
                } else {
                    format!("{}から", name_of(&names, &r.from_organization))
                },
                when: fmt::day_of(r.due_at),
            });
        }
    }
    Ok(page(
        StatusCode::OK,
        &InboxPage {
            shell: ui.shell(
                format!("連携受信箱・送信箱(未回答 {}件)", incoming.len()),
                Nav::Handovers,
            ),
            incoming,
            outgoing,
            reports_owed,
            reports_to_me,
        },
    ))
}

// ------------------------------------------------------------------ one hand-over

pub struct Line {
    pub label: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "ui/handover.html")]
pub struct HandoverPage {
    pub shell: Shell,
    pub banner: Option<Banner>,
    pub state: &'static str,
    pub proposed: bool,
    pub patient: String,
    pub pathway: String,
    pub plan_url: Option<String>,
    pub facts: Vec<Line>,
    /// The referral's structured fields in words (labels in Japanese, no codes).
    pub referral: Vec<Line>,
    /// 転院予定日 to prefill the acceptance with (`YYYY-MM-DD`).
    pub transfer_date: String,
    pub goals: Vec<(String, &'static str, &'static str, String)>,
    pub latest: Vec<Line>,
    pub outcome: Vec<Line>,
    pub variances: Vec<String>,
    pub note: Option<String>,
    pub decline_reason: Option<String>,
    pub version: i32,
    pub may_answer: bool,
    pub may_withdraw: bool,
    pub action: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub reason: String,
    /// The printable referral letter (診療情報提供書) of this hand-over.
    pub letter_url: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// A value in words with its item's unit (`152 mmHg`, `60点`), never a raw code.
fn with_unit(t: Option<&PathwayTemplate>, item: &str, v: &Value) -> String {
    let text = fmt::value_text(t, item, v);
    match t.and_then(|t| t.item(item)).and_then(|i| i.unit.clone()) {
        Some(u) if v.is_number() => format!("{text} {u}"),
        _ => text,
    }
}

fn outcome_lines(t: Option<&PathwayTemplate>, v: &Value) -> Vec<Line> {
    let mut out = Vec::new();
    let Some(m) = v.as_object() else { return out };
    if let Some(s) = m.get("stage").and_then(Value::as_str) {
        out.push(Line {
            label: "病期".into(),
            value: fmt::stage_title(t, s),
        });
    }
    if let Some(d) = m.get("length_of_stay_days") {
        out.push(Line {
            label: "在院日数".into(),
            value: format!("{d}日"),
        });
    }
    for (item, label) in [
        ("fim_total", "FIM合計"),
        ("fim_motor", "FIM運動項目"),
        ("barthel_total", "BI合計"),
    ] {
        let n = |v: Option<&Value>| {
            v.and_then(Value::as_f64)
                .map(|x| format!("{}点", fmt::num(x)))
                .unwrap_or_else(|| "—".into())
        };
        match (
            m.get(&format!("{item}_admission")),
            m.get(&format!("{item}_discharge")),
        ) {
            // A gain only from two measurements.
            (Some(a), Some(b)) => out.push(Line {
                label: label.into(),
                value: format!(
                    "{} → {}(利得 {})",
                    n(Some(a)),
                    n(Some(b)),
                    n(m.get(&format!("{item}_gain")))
                ),
            }),
            (Some(a), None) => out.push(Line {
                label: label.into(),
                value: format!("{}(評価1回のため利得なし)", n(Some(a))),
            }),
            _ => {}
        }
    }
    if let Some(d) = m.get("destination") {
        out.push(Line {
            label: "退院先".into(),
            value: fmt::value_text(t, "destination", d),
        });
    }
    out
}

fn handover_page_data(
    state: &AppState,
    ui: &Ui,
    screen: HandoverScreen,
    notice: Option<String>,
    error: Option<String>,
    reason: String,
) -> HandoverPage {
    let (patient, pathway, template) = patient_and_pathway(state, &screen);
    let t = template.as_ref();
    let banner = screen.behind.as_ref().map(|b| {
        let c = &b.patient;
        views::banner_of(state, ui, &c.patient, &c.plans, c.same_name)
    });
    let plan = screen.behind.as_ref().map(|b| &b.plan);
    let names = &screen.org_names;
    let h = &screen.handover;
    let s = &h.summary;
    let goals = s["goals"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|g| {
                    let (word, _, class) = fmt::goal_state(g["status"].as_str().unwrap_or(""));
                    (
                        g["title_ja"].as_str().unwrap_or("").to_owned(),
                        word,
                        class,
                        match &g["latest"] {
                            Value::Null => "—".to_owned(),
                            v => {
                                use renkei_domain::template::GoalTarget;
                                let item = g["code"]
                                    .as_str()
                                    .and_then(|c| {
                                        t.and_then(|t| t.goals.iter().find(|x| x.code == c))
                                    })
                                    .and_then(|x| match &x.target {
                                        GoalTarget::Threshold { item, .. }
                                        | GoalTarget::Range { item, .. }
                                        | GoalTarget::Membership { item, .. } => Some(item.clone()),
                                        _ => None,
                                    })
                                    .unwrap_or_default();
                                with_unit(t, &item, v)
                            }
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let latest = s["latest_values"]
        .as_object()
        .map(|m| {
            let mut v: Vec<Line> = m
                .iter()
                .filter(|(k, _)| {
                    // The composites and the main scales; item details stay in the plan.
                    !(k.starts_with("fim_") || k.starts_with("barthel_"))
                        || k.ends_with("_total")
                        || k.ends_with("_motor")
                        || k.ends_with("_cognitive")
                })
                .map(|(k, v)| Line {
                    label: fmt::item_title(t, k),
                    value: format!(
                        "{}({})",
                        with_unit(t, k, &v["value"]),
                        v["effective_at"]
                            .as_str()
                            .and_then(|x| chrono::DateTime::parse_from_rfc3339(x).ok())
                            .map(|x| fmt::day_of(x.with_timezone(&chrono::Utc)).text)
                            .unwrap_or_default()
                    ),
                })
                .collect();
            v.sort_by(|a, b| a.label.cmp(&b.label));
            v
        })
        .unwrap_or_default();
    let variances = s["variances"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    let code = v["variance"]["code"].as_str().unwrap_or("");
                    let title = t
                        .and_then(|t| t.variance(code))
                        .map(|x| x.title.ja.clone())
                        .unwrap_or_else(|| "自動検出".to_owned());
                    match v["note"].as_str() {
                        Some(n) => format!("{title} — {n}"),
                        None => title,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let open = screen.state == Some(HandoverState::Proposed);
    let referral = referral_lines(&s["referral"], renkei_domain::wording::Lang::Ja)
        .into_iter()
        .map(|(label, value)| Line {
            label: label.to_owned(),
            value,
        })
        .collect();
    let transfer_line = match (h.proposed_transfer_date, h.agreed_transfer_date) {
        (_, Some(a)) => format!("{}(合意済み)", fmt::date_text(a)),
        (Some(p), None) => format!("{}(紹介元の提案・受入時に確定)", fmt::date_text(p)),
        (None, None) => "未定".to_owned(),
    };
    let transfer_date = h
        .agreed_transfer_date
        .or(h.proposed_transfer_date)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let facts = vec![
        Line {
            label: "転院予定日".into(),
            value: transfer_line,
        },
        Line {
            label: "紹介元".into(),
            value: name_of(names, &h.from_organization),
        },
        Line {
            label: "紹介先".into(),
            value: name_of(names, &h.to_organization),
        },
        Line {
            label: "病期".into(),
            value: format!(
                "{} → {}",
                fmt::stage_title(t, &h.from_stage),
                fmt::stage_title(t, &h.stage)
            ),
        },
        Line {
            label: "依頼日時".into(),
            value: fmt::datetime(h.proposed_at).text,
        },
        Line {
            label: "回答日時".into(),
            value: h
                .answered_at
                .map(|a| fmt::datetime(a).text)
                .unwrap_or_else(|| "未回答".into()),
        },
    ];
    HandoverPage {
        shell: ui.shell(
            format!(
                "紹介・転院 — {}",
                banner.as_ref().map(|b| b.kanji.clone()).unwrap_or_default()
            ),
            Nav::Handovers,
        ),
        banner,
        state: fmt::handover_state(&h.state),
        proposed: open,
        patient,
        pathway,
        plan_url: plan.map(|p| format!("/care-plans/{}", p.id)),
        facts,
        referral,
        transfer_date,
        goals,
        latest,
        outcome: outcome_lines(t, &s["stage_outcome"]),
        variances,
        note: h.note.clone().filter(|n| !n.trim().is_empty()),
        decline_reason: h.decline_reason.clone(),
        version: h.version,
        may_answer: screen.may_answer,
        may_withdraw: screen.may_withdraw,
        action: format!("/handovers/{}/answer", h.id),
        letter_url: format!("/handovers/{}/letter", h.id),
        notice,
        error,
        reason,
    }
}

pub async fn handover_page(
    State(state): State<AppState>,
    mut ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let screen = state
        .services
        .handover_screen(&ui.actor, &ui.meta, id)
        .await?;
    // Opened by this facility: no longer unread (the nav count follows at once).
    state.services.mark_handover_read(&ui.actor, id).await?;
    ui.unread = state.services.unread_handovers(&ui.actor).await?.len();
    let notice = match q.done.as_str() {
        "accept" => Some(
            "受入を回答しました。ケアチームに加わり、患者情報と連携パスが表示されます。".to_owned(),
        ),
        "decline" => Some("受入できない旨を回答しました。".to_owned()),
        "withdraw" => Some("依頼を取り下げました。".to_owned()),
        _ => None,
    };
    let p = handover_page_data(&state, &ui, screen, notice, None, String::new());
    Ok(page(StatusCode::OK, &p))
}

pub async fn answer_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    let event = match posted.get("event") {
        "accept" => HandoverEvent::Accept,
        "decline" => HandoverEvent::Decline,
        "withdraw" => HandoverEvent::Withdraw,
        _ => return Err(ServiceError::NotFound("action").into()),
    };
    let version = posted.get("version").parse::<i32>().ok();
    let reason = posted.get("reason").to_owned();
    let transfer_date = match posted.get("transfer_date") {
        "" => None,
        d => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                let screen = state
                    .services
                    .handover_screen(&ui.actor, &ui.meta, id)
                    .await?;
                let p = handover_page_data(
                    &state,
                    ui,
                    screen,
                    None,
                    Some("転院予定日は日付(例: 2026-12-20)で入力してください。".to_owned()),
                    reason,
                );
                return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, &p));
            }
        },
    };
    let result = state
        .services
        .answer_handover(
            &ui.actor,
            &ui.meta,
            id,
            event,
            version,
            (!reason.is_empty()).then(|| reason.clone()),
            transfer_date.filter(|_| event == HandoverEvent::Accept),
        )
        .await;
    match result {
        Ok(h) => {
            let done = posted.get("event");
            if event == HandoverEvent::Accept {
                return Ok(see_other(&format!(
                    "/care-plans/{}?accepted=1",
                    h.care_plan_id
                )));
            }
            Ok(see_other(&format!("/handovers/{id}?done={done}")))
        }
        Err(
            e @ (ServiceError::Validation(_)
            | ServiceError::PreconditionFailed
            | ServiceError::PreconditionRequired
            | ServiceError::Conflict { .. }),
        ) => {
            let message = match &e {
                ServiceError::Validation(list)
                    if list.iter().any(|x| x.field.ends_with("transfer_date")) =>
                {
                    list.iter().map(propose_error).collect::<Vec<_>>().join(" ")
                }
                ServiceError::Validation(_) => {
                    "受入できない理由を入力してください(例: 満床のため、医療処置に対応できないため)。".to_owned()
                }
                other => explain(other.code()).to_owned(),
            };
            let status = crate::error::status_of(e.code());
            let screen = state
                .services
                .handover_screen(&ui.actor, &ui.meta, id)
                .await?;
            let p = handover_page_data(&state, ui, screen, None, Some(message), reason);
            Ok(page(status, &p))
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------ propose

pub struct Receiver {
    pub stage: String,
    pub stage_title: String,
    pub options: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "ui/handover_new.html")]
pub struct ProposePage {
    pub shell: Shell,
    pub banner: Banner,
    pub action: String,
    pub plan_url: String,
    pub current: String,
    pub receivers: Vec<Receiver>,
    pub checks: Vec<(String, bool)>,
    pub goals: Vec<(String, &'static str, &'static str)>,
    pub note: String,
    /// Every error at once: (anchor of its field, message).
    pub errors: Vec<(String, String)>,
    /// 転院予定日 as typed (`YYYY-MM-DD`), and its error.
    pub transfer_date: String,
    pub transfer_date_error: Option<String>,
    pub receiver_error: Option<String>,
    /// The referral's structured fields, prefilled from the plan until the sender sends.
    pub referral: Vec<RefField>,
    /// The fields still show what the plan prefilled (nothing sent yet).
    pub prefilled: bool,
}

/// One structured field of the referral on the proposal form.
pub struct RefField {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
    /// Coded options (code, words, selected); empty for text.
    pub options: Vec<(&'static str, &'static str, bool)>,
    pub long: bool,
    pub required: bool,
    pub error: Option<String>,
}

/// What the sender typed (or the plan prefilled) on the proposal form.
#[derive(Default)]
pub struct ProposeInput {
    pub chosen: String,
    pub note: String,
    pub transfer_date: String,
    pub referral: std::collections::BTreeMap<String, String>,
    pub prefilled: bool,
    /// Field errors by field path (`referral.diagnosis`, `planned_transfer_date`, …).
    pub errors: Vec<(String, String)>,
}

/// The label of a field path of the proposal.
fn propose_label(field: &str) -> String {
    if let Some(k) = field.strip_prefix("referral.") {
        return REFERRAL_FIELDS
            .iter()
            .find(|f| f.key == k)
            .map(|f| f.ja.to_owned())
            .unwrap_or_else(|| k.to_owned());
    }
    match field {
        "planned_transfer_date" => "転院予定日".to_owned(),
        "transfer_date" => "転院予定日".to_owned(),
        other => fmt::field_label(None, other),
    }
}

/// A field error in Japanese, named by the proposal's own labels.
fn propose_error(e: &renkei_domain::FieldError) -> String {
    if e.field.starts_with("referral.") || e.field.ends_with("transfer_date") {
        let label = propose_label(&e.field);
        let facts = renkei_domain::wording::FieldFacts {
            label: Some(&label),
            range: None,
            is_list: false,
            item_type: None,
        };
        return renkei_domain::wording::field_message(e, renkei_domain::wording::Lang::Ja, &facts);
    }
    fmt::error_ja(None, e)
}

/// The anchor of a field path on the proposal form.
fn propose_anchor(field: &str) -> String {
    match field {
        "to_organization" | "stage" | "receiver" => "f-receiver".to_owned(),
        "planned_transfer_date" => "f-transfer-date".to_owned(),
        "note" => "f-note".to_owned(),
        f => match f.strip_prefix("referral.") {
            Some(k) => format!("f-ref-{k}"),
            None => "f-receiver".to_owned(),
        },
    }
}

async fn propose_page(
    state: &AppState,
    ui: &Ui,
    plan_id: uuid::Uuid,
    input: ProposeInput,
) -> Result<ProposePage, super::UiError> {
    let d = super::plan_data::load(state, ui, plan_id).await?;
    let chosen = input.chosen.as_str();
    let error_of = |path: &str| {
        input
            .errors
            .iter()
            .find(|(f, _)| f == path)
            .map(|(_, m)| m.clone())
    };
    let referral = REFERRAL_FIELDS
        .iter()
        .map(|f| {
            let value = input.referral.get(f.key).cloned().unwrap_or_default();
            RefField {
                key: f.key,
                label: f.ja,
                options: f
                    .options
                    .map(|o| o.iter().map(|c| (c.code, c.ja, c.code == value)).collect())
                    .unwrap_or_default(),
                long: f.max_chars > 200,
                required: f.key == "diagnosis",
                error: error_of(&format!("referral.{}", f.key)),
                value,
            }
        })
        .collect();
    let errors = input
        .errors
        .iter()
        .map(|(f, m)| (propose_anchor(f), m.clone()))
        .collect();
    let receiver_error = error_of("to_organization")
        .or_else(|| error_of("stage"))
        .or_else(|| error_of("receiver"));
    let t = &d.template;
    let mut receivers = Vec::new();
    for stage in t.next_stages(&d.plan.current_stage) {
        let mut options = Vec::new();
        for e in state
            .services
            .directory(Some(&t.code), Some(&stage), None)
            .await?
        {
            if e.code == ui.actor.organization_code {
                continue;
            }
            let value = format!("{stage}|{}", e.code);
            let label = format!(
                "{}({}・{}){}",
                e.name,
                fmt::org_kind(&e.kind),
                e.area,
                if e.note.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", e.note)
                }
            );
            options.push((value.clone(), label, chosen == value));
        }
        receivers.push(Receiver {
            stage_title: fmt::stage_title(Some(t), &stage),
            stage,
            options,
        });
    }
    let cur = &d.plan.current_stage;
    let consent_ok = d.consents.iter().any(|c| c.active);
    let has = |prefix: &str| {
        d.effective().any(|e| {
            e.stage == *cur
                && e.values
                    .as_object()
                    .is_some_and(|m| m.keys().any(|k| k.starts_with(prefix)))
        })
    };
    let mut checks = vec![
        ("患者さんの同意(情報共有)".to_owned(), consent_ok),
        (
            format!("{}の終了の記録(転院・退院)", fmt::stage_title(Some(t), cur)),
            d.plan.stage_ended,
        ),
    ];
    if t.items
        .iter()
        .any(|i| i.code == "fim_total" && i.stages.contains(cur))
    {
        checks.push((
            format!("{}のFIM評価", fmt::stage_title(Some(t), cur)),
            has("fim_"),
        ));
    }
    let goals = d
        .goals
        .iter()
        .map(|g| {
            let (w, _, c) = fmt::goal_state(super::plan::status_code(g));
            (g.title.ja.clone(), w, c)
        })
        .collect();
    Ok(ProposePage {
        shell: ui.shell(
            format!("転院・紹介の依頼 — {}", d.banner.name()),
            Nav::Handovers,
        ),
        action: format!("/care-plans/{plan_id}/handovers/new"),
        plan_url: format!("/care-plans/{plan_id}"),
        current: fmt::stage_title(Some(t), cur),
        receivers,
        checks,
        goals,
        note: input.note.clone(),
        errors,
        transfer_date_error: error_of("planned_transfer_date"),
        transfer_date: input.transfer_date.clone(),
        receiver_error,
        referral,
        prefilled: input.prefilled,
        banner: d.banner,
    })
}

pub async fn propose_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let referral = state
        .services
        .referral_prefill(&ui.actor, &ui.meta, id)
        .await?;
    let input = ProposeInput {
        referral,
        prefilled: true,
        ..Default::default()
    };
    let p = propose_page(&state, &ui, id, input).await?;
    Ok(page(StatusCode::OK, &p))
}

pub async fn propose_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    let mut input = ProposeInput {
        chosen: posted.get("receiver").to_owned(),
        note: posted.get("note").to_owned(),
        transfer_date: posted.get("transfer_date").to_owned(),
        ..Default::default()
    };
    for f in REFERRAL_FIELDS {
        let v = posted.get(&format!("ref_{}", f.key));
        if !v.is_empty() {
            input.referral.insert(f.key.to_owned(), v.to_owned());
        }
    }
    // Every error at once: the form's own checks, then the service's.
    let mut local = Vec::new();
    let receiver = input
        .chosen
        .split_once('|')
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
    if receiver.is_none() {
        local.push((
            "receiver".to_owned(),
            "紹介先の施設を選んでください。".to_owned(),
        ));
    }
    let transfer_date = if input.transfer_date.is_empty() {
        None
    } else {
        match chrono::NaiveDate::parse_from_str(&input.transfer_date, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                local.push((
                    "planned_transfer_date".to_owned(),
                    "転院予定日は日付(例: 2026-12-20)で入力してください。".to_owned(),
                ));
                None
            }
        }
    };
    let referral_json = serde_json::Value::Object(
        input
            .referral
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    );
    if !local.is_empty() {
        // The form's own errors with the referral's, without writing anything.
        if let Err(list) = renkei_domain::handover::validate_referral(&referral_json) {
            local.extend(list.iter().map(|x| (x.field.clone(), propose_error(x))));
        }
        input.errors = local;
        let p = propose_page(&state, ui, id, input).await?;
        return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, &p));
    }
    let (stage, org) = receiver.unwrap_or_default();
    let result = state
        .services
        .propose_handover(
            &ui.actor,
            &ui.meta,
            id,
            &org,
            &stage,
            (!input.note.is_empty()).then(|| input.note.clone()),
            renkei_service::handovers::HandoverDetails {
                transfer_date,
                referral: Some(referral_json),
            },
        )
        .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/care-plans/{id}?proposed=1#handovers"))),
        Err(e @ (ServiceError::Validation(_) | ServiceError::Conflict { .. })) => {
            let mut errors = Vec::new();
            match &e {
                ServiceError::Validation(list) => {
                    for x in list {
                        errors.push((x.field.clone(), propose_error(x)));
                    }
                }
                ServiceError::Conflict { code, .. } => errors.push((
                    "receiver".to_owned(),
                    if *code == renkei_service::ErrorCode::InvalidTransition {
                        "この連携パスには回答待ちの紹介・転院依頼がすでにあります。".to_owned()
                    } else {
                        explain(*code).to_owned()
                    },
                )),
                _ => {}
            }
            input.errors = errors;
            let status = crate::error::status_of(e.code());
            let p = propose_page(&state, ui, id, input).await?;
            Ok(page(status, &p))
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------ report back

#[derive(Template)]
#[template(path = "ui/report.html")]
pub struct ReportPage {
    pub shell: Shell,
    pub banner: Option<Banner>,
    pub plan_url: String,
    pub stage: String,
    pub from: String,
    pub to: String,
    pub due: When,
    pub sent: Option<When>,
    pub overdue: bool,
    pub outcome: Vec<Line>,
    pub may_send: bool,
    pub action: String,
    pub notice: Option<String>,
    /// The covering note sent with the report.
    pub note: Option<String>,
}

fn report_page_data(
    state: &AppState,
    ui: &Ui,
    screen: ReportScreen,
    notice: Option<String>,
) -> ReportPage {
    let names = &screen.org_names;
    let r = &screen.report;
    let template = screen.behind.as_ref().map(|b| b.published.template.clone());
    let banner = screen.behind.as_ref().map(|b| {
        let c = &b.patient;
        views::banner_of(state, ui, &c.patient, &c.plans, c.same_name)
    });
    ReportPage {
        shell: ui.shell(
            format!(
                "返書 — {}",
                banner.as_ref().map(|b| b.kanji.clone()).unwrap_or_default()
            ),
            Nav::Handovers,
        ),
        banner,
        plan_url: format!("/care-plans/{}", r.care_plan_id),
        stage: fmt::stage_title(template.as_ref(), &r.stage),
        from: name_of(names, &r.from_organization),
        to: name_of(names, &r.to_organization),
        due: fmt::day_of(r.due_at),
        sent: r.sent_at.map(fmt::datetime),
        overdue: r.overdue,
        outcome: outcome_lines(template.as_ref(), &r.content),
        may_send: screen.may_send,
        action: format!("/reports/{}", r.id),
        notice,
        note: screen.note.clone(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SentQuery {
    #[serde(default)]
    sent: String,
}

pub async fn report_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<SentQuery>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let screen = state
        .services
        .report_screen(&ui.actor, &ui.meta, id)
        .await?;
    let notice = (!q.sent.is_empty()).then(|| "返書を送付しました。".to_owned());
    let p = report_page_data(&state, &ui, screen, notice);
    Ok(page(StatusCode::OK, &p))
}

pub async fn report_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    let note = posted.get("note").to_owned();
    match state
        .services
        .send_report(&ui.actor, &ui.meta, id, (!note.is_empty()).then_some(note))
        .await
    {
        Ok(_) => Ok(see_other(&format!("/reports/{id}?sent=1"))),
        Err(ServiceError::Conflict { .. }) => Ok(see_other(&format!("/reports/{id}?sent=1"))),
        Err(e) => Err(e.into()),
    }
}
