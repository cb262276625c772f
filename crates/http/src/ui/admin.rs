//! S10 — administration and audit (管理・監査), for administrators only: the users of the
//! region (or of one's organisation), the break-glass review list, the audit log search
//! with paging and its CSV export, and a patient's access history (閲覧履歴) for the
//! liaison room. Every page calls the same service function as the JSON API, so the
//! same role checks apply: the audit log and break-glass review belong to the regional
//! administrator, the access history to the regional administrator or an organisation
//! administrator whose organisation sees the patient.

use renkei_domain::Rule;
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use renkei_domain::access::{GlobalAction, decide_global};
use renkei_domain::ids::AdminRole;
use renkei_service::access::{AuditEvent, subject};
use renkei_service::{AuditFilter, ServiceError};
use serde::Deserialize;
use uuid::Uuid;

use super::csv_export::CsvExport;
use super::fmt::{self, When};
use super::{Nav, Posted, Shell, Ui, UiError, UiResult, page, parse_uuid, see_other};
use crate::state::AppState;

/// Rows per page of the audit search.
const PAGE: u64 = 50;
/// Rows of one CSV export.
const CSV_LIMIT: u64 = 1000;

fn forbidden() -> UiError {
    UiError(ServiceError::Forbidden)
}

// ------------------------------------------------------------------ words

/// The audit actions people search by, in Japanese, with the actions of each (and the
/// outcome, for failed logins).
const CATEGORIES: &[(&str, &str, &[&str], Option<&str>)] = &[
    (
        "view",
        "閲覧",
        &[
            "care_plan.read",
            "care_plan.list",
            "patient.read",
            "patient.search",
            "entry.list",
            "goal.read",
            "schedule.read",
            "care_team.read",
            "consent.read",
            "handover.read",
            "handover.list",
            "report.read",
            "report.list",
            "worklist.read",
            "care_plan.migration_preview",
            "entry.history",
            "notice.list",
        ],
        None,
    ),
    (
        "create",
        "作成",
        &[
            "patient.create",
            "care_plan.enrol",
            "entry.append",
            "consent.record",
            "care_team.add",
        ],
        None,
    ),
    (
        "amend",
        "修正",
        &[
            "entry.amend",
            "entry.void",
            "care_plan.individualize",
            "care_plan.lifecycle",
            "consent.withdraw",
            "handover.withdraw",
        ],
        None,
    ),
    ("send", "送信", &["handover.propose", "report.send"], None),
    (
        "receive",
        "受領",
        &["handover.accept", "handover.complete", "handover.decline"],
        None,
    ),
    ("print", "印刷", &["care_plan.print", "print"], None),
    (
        "login_failed",
        "ログイン失敗",
        &["login.password", "login.totp", "login.lockout"],
        Some("denied"),
    ),
    (
        "break_glass",
        "緊急アクセス",
        &[
            "break_glass.grant",
            "break_glass.review",
            "break_glass.list",
        ],
        None,
    ),
    (
        "audit",
        "監査・管理",
        &["audit.read", "patient.access_report", "user.list"],
        None,
    ),
];

/// An audit action in Japanese words.
pub fn action_ja(action: &str, outcome: &str) -> String {
    let denied = outcome == "denied";
    let word = match action {
        "login.password" | "login.totp" if denied => "ログイン失敗",
        "login.lockout" => "ログイン失敗(ロック)",
        "login.password" => "ログイン",
        "login.totp" => "ログイン(2段階認証)",
        "password.change" => "パスワード変更",
        "totp.enrol" => "2段階認証の登録",
        "token.issue" => "APIトークン発行",
        "admin.token_issue" => "APIトークン発行(管理コマンド)",
        "token.revoke" => "APIトークン失効",
        "form.post" => "不正な送信",
        "handover.decline" => "受領(辞退)",
        "notice.acknowledge" => "修正のお知らせを確認",
        _ => CATEGORIES
            .iter()
            .find(|c| c.2.contains(&action))
            .map(|c| c.1)
            .unwrap_or_else(|| {
                if action.ends_with(".read") || action.ends_with(".list") {
                    "閲覧"
                } else if action.contains("print") {
                    "印刷"
                } else {
                    "その他"
                }
            }),
    };
    if denied && !word.starts_with("ログイン失敗") {
        format!("{word}(拒否)")
    } else {
        word.to_owned()
    }
}

fn resource_ja(t: &str) -> &str {
    match t {
        "care_plan" => "連携パス",
        "patient" => "患者",
        "entry" => "記録",
        "handover" => "転院・紹介の依頼",
        "report" => "返書",
        "consent" => "同意",
        "care_team" => "ケアチーム",
        "break_glass" => "緊急アクセス",
        "audit" => "監査ログ",
        "practitioner" => "利用者",
        "session" | "login" => "ログイン",
        "worklist" => "作業一覧",
        "amendment_notice" => "修正のお知らせ",
        other => other,
    }
}

/// `2026年4月1日(水) 14:05:09` in Japan time (the audit log shows seconds).
fn seconds(t: DateTime<Utc>) -> When {
    let j = fmt::to_jst(t);
    When {
        iso: j.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        text: format!(
            "{} {}",
            fmt::date_text(j.date_naive()),
            j.format("%H:%M:%S")
        ),
    }
}

// ------------------------------------------------------------------ landing

#[derive(Template)]
#[template(path = "ui/admin.html")]
pub struct AdminHome {
    pub shell: Shell,
    pub regional: bool,
    pub notice: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AdminHomeQuery {
    /// Set after a password change (the regional administrator lands here from `/`).
    #[serde(default)]
    password_changed: String,
}

/// `GET /admin` — the administration home: the regional administrator's landing page.
pub async fn admin_home(ui: Ui, Query(q): Query<AdminHomeQuery>) -> UiResult {
    if !ui.is_admin() {
        return Err(forbidden());
    }
    Ok(page(
        StatusCode::OK,
        &AdminHome {
            regional: decide_global(&subject(&ui.actor), GlobalAction::ReadAudit),
            notice: (!q.password_changed.is_empty()).then_some("パスワードを変更しました。"),
            shell: ui.shell("管理・監査", Nav::Admin),
        },
    ))
}

// ------------------------------------------------------------------ users

pub struct UserRow {
    pub name: String,
    pub url: String,
    pub login: String,
    pub profession: &'static str,
    pub organization: String,
    pub roles: String,
    pub totp: bool,
    pub last_login: Option<When>,
    pub locked: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/admin_users.html")]
pub struct UsersPage {
    pub shell: Shell,
    pub rows: Vec<UserRow>,
    pub regional: bool,
    /// Only those who have not logged in for this many days.
    pub inactive: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    /// `90`: only the users who have not logged in for 90 days.
    #[serde(default)]
    inactive: String,
}

pub async fn users_page(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<UsersQuery>,
) -> UiResult {
    let inactive = q
        .inactive
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|d| (1..=3650).contains(d));
    let users = match inactive {
        Some(days) => {
            renkei_service::admin_users::inactive_users(&state.services, &ui.actor, &ui.meta, days)
                .await?
        }
        None => renkei_service::admin::list_users(&state.services, &ui.actor, &ui.meta).await?,
    };
    let now = state.services.now();
    let rows = users
        .into_iter()
        .map(|u| UserRow {
            roles: u
                .roles
                .iter()
                .map(|r| AdminRole::parse(r).map(fmt::admin_role).unwrap_or("その他"))
                .collect::<Vec<_>>()
                .join("・"),
            locked: if u.disabled {
                Some("利用停止".to_owned())
            } else {
                u.locked_until
                    .filter(|t| *t > now)
                    .map(|t| format!("ロック中({}まで)", seconds(t).text))
            },
            name: u.name,
            url: format!("/admin/users/{}", u.login),
            login: u.login,
            profession: fmt::profession(&u.profession),
            organization: u.organization_name,
            totp: u.totp_enabled,
            last_login: u.last_login.map(seconds),
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &UsersPage {
            regional: decide_global(&subject(&ui.actor), GlobalAction::ReadAudit),
            shell: ui.shell("利用者一覧", Nav::Admin),
            rows,
            inactive,
        },
    ))
}

// ------------------------------------------------------------------ break-glass

pub struct GrantRow {
    pub id: String,
    pub who: String,
    pub organization: String,
    pub plan_url: String,
    pub reason: String,
    pub granted: When,
    pub expires: When,
    pub reviewed: Option<When>,
}

#[derive(Template)]
#[template(path = "ui/admin_break_glass.html")]
pub struct BreakGlassPage {
    pub shell: Shell,
    pub pending: Vec<GrantRow>,
    pub reviewed: Vec<GrantRow>,
    pub notice: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

async fn names(
    state: &AppState,
) -> Result<(HashMap<Uuid, (String, String)>, HashMap<Uuid, String>), ServiceError> {
    let people = renkei_service::admin::practitioner_names(&state.services.db)
        .await?
        .into_iter()
        .map(|(id, login, name)| (id, (login, name)))
        .collect();
    let orgs = renkei_service::admin::list_organizations(&state.services.db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    Ok((people, orgs))
}

pub async fn break_glass_page(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<DoneQuery>,
) -> UiResult {
    let grants = state.services.list_break_glass(&ui.actor, &ui.meta).await?;
    let (people, orgs) = names(&state).await?;
    let mut pending = Vec::new();
    let mut reviewed = Vec::new();
    for g in grants {
        let row = GrantRow {
            id: g.id.to_string(),
            who: people
                .get(&g.practitioner_id)
                .map(|(l, n)| format!("{n}({l})"))
                .unwrap_or_else(|| g.practitioner_id.to_string()),
            organization: orgs.get(&g.organization_id).cloned().unwrap_or_default(),
            plan_url: format!("/care-plans/{}", g.care_plan_id),
            reason: g.reason,
            granted: seconds(g.granted_at),
            expires: seconds(g.expires_at),
            reviewed: g.reviewed_at.map(seconds),
        };
        if row.reviewed.is_some() {
            reviewed.push(row);
        } else {
            pending.push(row);
        }
    }
    Ok(page(
        StatusCode::OK,
        &BreakGlassPage {
            shell: ui.shell(
                format!("緊急アクセスの確認(未確認 {}件)", pending.len()),
                Nav::Admin,
            ),
            pending,
            reviewed,
            notice: q.done == "reviewed",
        },
    ))
}

/// `POST /admin/break-glass/{id}/review` — marks a grant reviewed, back to the list.
pub async fn review_break_glass(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    state
        .services
        .review_break_glass(&ui.actor, &ui.meta, id)
        .await?;
    Ok(see_other("/admin/break-glass?done=reviewed"))
}

// ------------------------------------------------------------------ audit search

/// The search of `/admin/audit` and `/admin/audit.csv`, all optional, kept in the URL.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    /// The patient's id.
    #[serde(default)]
    pub patient: String,
    /// The user's login.
    #[serde(default)]
    pub user: String,
    /// The organisation code.
    #[serde(default)]
    pub facility: String,
    /// A key of [`CATEGORIES`].
    #[serde(default)]
    pub action: String,
    /// `YYYY-MM-DD` (Japan), inclusive.
    #[serde(default)]
    pub from: String,
    /// `YYYY-MM-DD` (Japan), inclusive.
    #[serde(default)]
    pub to: String,
    /// Page backwards: events with seq below this.
    #[serde(default)]
    pub before: String,
}

pub struct AuditRow {
    pub seq: i64,
    pub at: When,
    pub user: String,
    pub facility: String,
    pub action: String,
    pub code: String,
    pub denied: bool,
    pub target: String,
    pub patient: String,
    pub ip: String,
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "ui/admin_audit.html")]
pub struct AuditPage {
    pub shell: Shell,
    pub q: AuditQuery,
    pub facilities: Vec<Opt>,
    pub actions: Vec<Opt>,
    pub errors: Vec<String>,
    pub searched: bool,
    pub rows: Vec<AuditRow>,
    pub next_url: Option<String>,
    pub first_url: Option<String>,
    pub csv_url: String,
}

fn jst_midnight(d: NaiveDate) -> DateTime<Utc> {
    fmt::jst()
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    let s = s.trim().replace('/', "-");
    NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()
}

/// The service filter of a search, or the Japanese reasons it cannot be run.
async fn filter_of(state: &AppState, q: &AuditQuery) -> Result<AuditFilter, Vec<String>> {
    let mut errors = Vec::new();
    let mut f = AuditFilter::default();
    if !q.patient.trim().is_empty() {
        match q.patient.trim().parse::<Uuid>() {
            Ok(id) => f.patient = Some(id),
            Err(_) => {
                errors.push("患者は患者ID(患者画面のURLにあるID)で指定してください。".to_owned())
            }
        }
    }
    if !q.user.trim().is_empty() {
        let login = q.user.trim();
        match renkei_service::admin::practitioner_names(&state.services.db).await {
            Ok(people) => match people.into_iter().find(|p| p.1 == login) {
                Some(p) => f.practitioner = Some(p.0),
                None => errors.push(format!("ログインID「{login}」の利用者はいません。")),
            },
            Err(_) => errors.push("利用者を確認できませんでした。".to_owned()),
        }
    }
    if !q.facility.trim().is_empty() {
        match renkei_service::admin::list_organizations(&state.services.db).await {
            Ok(orgs) => match orgs.into_iter().find(|o| o.code == q.facility.trim()) {
                Some(o) => f.organization = Some(o.id),
                None => errors.push("指定された施設はありません。".to_owned()),
            },
            Err(_) => errors.push("施設を確認できませんでした。".to_owned()),
        }
    }
    if !q.action.trim().is_empty() {
        match CATEGORIES.iter().find(|c| c.0 == q.action.trim()) {
            Some(c) => {
                f.actions = c.2.iter().map(|a| (*a).to_owned()).collect();
                f.outcome = c.3.map(str::to_owned);
            }
            None => errors.push("指定された操作の種類はありません。".to_owned()),
        }
    }
    if !q.from.trim().is_empty() {
        match parse_day(&q.from) {
            Some(d) => f.from = Some(jst_midnight(d)),
            None => errors.push("開始日は 2026-04-01 の形で入力してください。".to_owned()),
        }
    }
    if !q.to.trim().is_empty() {
        match parse_day(&q.to) {
            Some(d) => f.to = Some(jst_midnight(d) + Duration::days(1)),
            None => errors.push("終了日は 2026-04-01 の形で入力してください。".to_owned()),
        }
    }
    if let (Some(a), Some(b)) = (f.from, f.to)
        && a >= b
    {
        errors.push("開始日は終了日より前にしてください。".to_owned());
    }
    if !q.before.trim().is_empty() {
        match q.before.trim().parse::<i64>() {
            Ok(s) => f.before_seq = Some(s),
            Err(_) => errors.push("ページの指定が正しくありません。".to_owned()),
        }
    }
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(errors)
    }
}

async fn audit_rows(
    state: &AppState,
    ui: &Ui,
    events: Vec<AuditEvent>,
) -> Result<Vec<AuditRow>, ServiceError> {
    let (people, orgs) = names(state).await?;
    let patient_ids: Vec<Uuid> = events.iter().filter_map(|e| e.patient_id).collect();
    let patients = state
        .services
        .audit_patient_names(&ui.actor, &patient_ids)
        .await?;
    Ok(events
        .into_iter()
        .map(|e| {
            let patient = e.patient_id.map(|p| {
                patients
                    .get(&p)
                    .cloned()
                    .unwrap_or_else(|| format!("患者ID {p}"))
            });
            // The target in words: what was touched, and whose record it is.
            let what = resource_ja(&e.resource_type);
            let target = match (&patient, e.resource_type.as_str()) {
                (Some(p), "patient") => format!("患者 {p}"),
                (Some(p), _) => format!("{what} — {p}"),
                (None, _) => what.to_owned(),
            };
            AuditRow {
                seq: e.seq,
                at: seconds(e.at),
                user: match e.practitioner_id {
                    Some(id) if id == renkei_service::variances::SYSTEM_PRACTITIONER_ID => {
                        "システム".to_owned()
                    }
                    Some(id) => people
                        .get(&id)
                        .map(|(l, n)| format!("{n}({l})"))
                        .unwrap_or_else(|| "—".to_owned()),
                    None => "—".to_owned(),
                },
                facility: e
                    .organization_id
                    .and_then(|id| orgs.get(&id).cloned())
                    .unwrap_or_else(|| "—".to_owned()),
                action: action_ja(&e.action, &e.outcome),
                denied: e.outcome == "denied",
                code: e.action,
                target,
                patient: e.patient_id.map(|p| p.to_string()).unwrap_or_default(),
                ip: e.client_addr.unwrap_or_default(),
            }
        })
        .collect())
}

/// `key=value&…` of the search's non-empty fields (without paging).
fn query_string(q: &AuditQuery) -> String {
    [
        ("patient", &q.patient),
        ("user", &q.user),
        ("facility", &q.facility),
        ("action", &q.action),
        ("from", &q.from),
        ("to", &q.to),
    ]
    .into_iter()
    .filter(|(_, v)| !v.trim().is_empty())
    .map(|(k, v)| format!("{k}={}", super::percent_encode(v.trim())))
    .collect::<Vec<_>>()
    .join("&")
}

pub async fn audit_page(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<AuditQuery>,
) -> UiResult {
    // Only the regional administrator reads the audit log (the service decides and
    // audits a refusal); org admins and others get the 403 page before any lookup.
    if !decide_global(&subject(&ui.actor), GlobalAction::ReadAudit) {
        state
            .services
            .audit_log(&ui.actor, &ui.meta, AuditFilter::default(), 1)
            .await?;
        return Err(forbidden());
    }
    let orgs = renkei_service::admin::list_organizations(&state.services.db).await?;
    let facilities = orgs
        .iter()
        .map(|o| Opt {
            selected: q.facility.trim() == o.code,
            value: o.code.clone(),
            label: o.name.clone(),
        })
        .collect();
    let actions = CATEGORIES
        .iter()
        .map(|c| Opt {
            value: c.0.to_owned(),
            label: c.1.to_owned(),
            selected: q.action.trim() == c.0,
        })
        .collect();
    let base = query_string(&q);
    let (rows, errors, next_url) = match filter_of(&state, &q).await {
        Err(errors) => (Vec::new(), errors, None),
        Ok(f) => {
            let mut events = state
                .services
                .audit_log(&ui.actor, &ui.meta, f, PAGE + 1)
                .await?;
            let more = events.len() as u64 > PAGE;
            events.truncate(PAGE as usize);
            let next = match (more, events.last()) {
                (true, Some(last)) => Some(format!(
                    "/admin/audit?{base}{}before={}",
                    if base.is_empty() { "" } else { "&" },
                    last.seq
                )),
                _ => None,
            };
            (audit_rows(&state, &ui, events).await?, Vec::new(), next)
        }
    };
    let first_url = (!q.before.trim().is_empty()).then(|| format!("/admin/audit?{base}"));
    let csv_url = format!(
        "/admin/audit.csv?{base}{}",
        if q.before.trim().is_empty() {
            String::new()
        } else {
            format!(
                "{}before={}",
                if base.is_empty() { "" } else { "&" },
                super::percent_encode(q.before.trim())
            )
        }
    );
    Ok(page(
        StatusCode::OK,
        &AuditPage {
            shell: ui.shell("監査ログ", Nav::Admin),
            searched: !base.is_empty() || !q.before.trim().is_empty(),
            q,
            facilities,
            actions,
            errors,
            rows,
            next_url,
            first_url,
            csv_url,
        },
    ))
}

/// `GET /admin/audit.csv` — the same search as a CSV file (UTF-8 with a BOM so that
/// Excel reads it as UTF-8), newest first, at most [`CSV_LIMIT`] rows from the page.
pub async fn audit_csv(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<AuditQuery>,
) -> UiResult {
    let f = match filter_of(&state, &q).await {
        Ok(f) => f,
        Err(errors) => {
            return Err(UiError(ServiceError::field(
                "query",
                Rule::Format,
                errors.join(" "),
            )));
        }
    };
    let events = state
        .services
        .audit_log(&ui.actor, &ui.meta, f, CSV_LIMIT)
        .await?;
    let rows = audit_rows(&state, &ui, events).await?;
    let mut csv = CsvExport::new();
    csv.row([
        "通番",
        "日時",
        "利用者",
        "施設",
        "操作",
        "操作コード",
        "結果",
        "対象",
        "患者ID",
        "IPアドレス",
    ])?;
    for r in &rows {
        csv.row([
            r.seq.to_string().as_str(),
            r.at.text.as_str(),
            r.user.as_str(),
            r.facility.as_str(),
            r.action.as_str(),
            r.code.as_str(),
            if r.denied { "拒否" } else { "許可" },
            r.target.as_str(),
            r.patient.as_str(),
            r.ip.as_str(),
        ])?;
    }
    let bytes = csv.finish()?;
    let name = format!(
        "audit-{}.csv",
        fmt::to_jst(state.services.now()).format("%Y%m%d-%H%M%S")
    );
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

// ------------------------------------------------------------------ access history

#[derive(Template)]
#[template(path = "ui/access_history.html")]
pub struct AccessHistoryPage {
    pub shell: Shell,
    pub patient: String,
    pub patient_url: String,
    pub rows: Vec<AuditRow>,
    pub audit_url: Option<String>,
}

/// `GET /patients/{id}/access-history` — who opened this patient's record and when.
pub async fn access_history_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let events = state
        .services
        .access_report(&ui.actor, &ui.meta, id)
        .await?;
    // The name only where this organisation sees the patient anyway (an audited read);
    // the regional office sees the history by the patient's id, without a denied read
    // of its own cluttering the history.
    let visible = state
        .services
        .patient_visible(&state.services.db, &ui.actor, id)
        .await?;
    let by_id = format!("患者ID {id}");
    let patient = if visible {
        match renkei_service::patients::get_patient(&state.services, &ui.actor, &ui.meta, id).await
        {
            Ok(p) => {
                let (kana, kanji) = super::views::names(&p);
                format!("{kanji}({kana})")
            }
            Err(_) => by_id,
        }
    } else {
        by_id
    };
    let rows = audit_rows(&state, &ui, events).await?;
    Ok(page(
        StatusCode::OK,
        &AccessHistoryPage {
            shell: ui.shell(format!("閲覧履歴 — {patient}"), Nav::Patients),
            patient,
            patient_url: format!("/patients/{id}"),
            rows,
            audit_url: decide_global(&subject(&ui.actor), GlobalAction::ReadAudit)
                .then(|| format!("/admin/audit?patient={id}")),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_named_in_japanese_words() {
        for (_, word, actions, outcome) in CATEGORIES {
            for a in *actions {
                let named = action_ja(a, outcome.unwrap_or("allowed"));
                assert!(
                    named.starts_with(word) || *a == "handover.decline",
                    "{a}: {named} is not {word}"
                );
            }
        }
        assert_eq!(action_ja("login.password", "denied"), "ログイン失敗");
        assert_eq!(action_ja("login.password", "allowed"), "ログイン");
        assert_eq!(action_ja("care_plan.read", "denied"), "閲覧(拒否)");
        assert_eq!(action_ja("something.read", "allowed"), "閲覧");
        assert_eq!(action_ja("care_plan.print", "allowed"), "印刷");
    }
}
