//! The clinical screens of the web UI (ui.md §5): the worklist home, patient search and
//! enrolment, the care-plan page, entry forms, hand-overs and the printable plan.
//!
//! Server-rendered with askama (`templates/ui/`), Japanese, system fonts, every asset
//! served from `/static/`, and every flow a plain form: GET pages, POST → 303. The small
//! script (`/static/ui.js`) only adds comfort (IME-safe Enter, live FIM totals, one
//! submit per click). Pages call the same service functions as the JSON API, as the
//! logged-in practitioner ([`Ui`]); every POST passes the one CSRF guard of the HTML pages
//! (`web::csrf::guard`, layered in the router) and reads its form through [`Posted`].

mod admin;
mod admin_manage;
mod care_team;
pub mod charts;
mod corrections;
mod council;
pub mod csv_export;
mod cycle;
mod declarations;
mod directory;
mod entry;
mod fmt;
mod goal_row;
mod handover;
mod home;
mod letter;
mod notifications;
mod patient_merge;
mod patient_records;
mod patients;
mod plan;
mod plan_actions;
mod plan_data;
mod print;
mod sheets;
mod templates;
mod variances;
mod views;
pub mod wareki;

use askama::Template;
use axum::Router;
use axum::body::to_bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use renkei_service::audit::RequestMeta;
use renkei_service::auth::Session;
use renkei_service::{Actor, ErrorCode, ServiceError};
use tower_http::set_header::SetResponseHeaderLayer;
use uuid::Uuid;

use crate::edge::BODY_LIMIT;
use crate::state::AppState;
use crate::web::WebSession;
use crate::web::client::request_meta;
use crate::web::pages::{error_response, html};

pub use fmt::When;

/// The routes of the clinical screens.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/worklist", get(home::worklist_page))
        .route("/patients", get(patients::search_page))
        .route(
            "/patients/new",
            get(patients::new_patient_form).post(patients::new_patient_submit),
        )
        .route("/patients/{id}", get(patients::patient_page))
        .route(
            "/patients/{id}/enrol",
            get(patients::enrol_form).post(patients::enrol_submit),
        )
        .route(
            "/patients/{id}/enrol/confirm",
            post(patients::enrol_confirm),
        )
        .route("/care-plans/{id}", get(plan::plan_page))
        .route(
            "/care-plans/{id}/care-team",
            get(care_team::care_team).post(care_team::add_member),
        )
        .route(
            "/care-plans/{id}/care-team/{org}/end",
            get(care_team::end_form).post(care_team::end_submit),
        )
        .route(
            "/care-plans/{id}/care-team/{org}/end/confirm",
            post(care_team::end_confirm),
        )
        .route(
            "/care-plans/{id}/consents/{consent}/withdraw/confirm",
            post(care_team::withdraw_confirm),
        )
        .route(
            "/care-plans/{id}/consents/{consent}/withdraw",
            post(care_team::withdraw_submit),
        )
        .route("/care-plans/{id}/trend", get(plan::trend_page))
        .route("/care-plans/{id}/print", get(print::print_page))
        .route("/care-plans/{id}/print.css", get(print::print_css))
        .route("/care-plans/{id}/sheets", get(sheets::sheets_page))
        .route(
            "/care-plans/{id}/sheets/{entry}/print",
            get(sheets::sheet_print_page),
        )
        .route("/care-plans/{id}/handbook", get(sheets::handbook_page))
        .route(
            "/care-plans/{id}/entries/new",
            get(entry::new_entry_form).post(entry::edit_entry_form),
        )
        .route("/care-plans/{id}/entries/review", post(entry::review_entry))
        .route("/care-plans/{id}/entries", post(entry::submit_entry))
        .route(
            "/care-plans/{id}/entries/{entry}/void",
            post(corrections::void_submit),
        )
        .route(
            "/notices/{id}/acknowledge",
            post(corrections::acknowledge_submit),
        )
        .route(
            "/care-plans/{id}/variances/{entry}/review",
            post(variances::review_submit),
        )
        .route(
            "/care-plans/{id}/handovers/new",
            get(handover::propose_form).post(handover::propose_submit),
        )
        .route("/handovers", get(handover::inbox_page))
        .route("/directory", get(directory::directory_page))
        .route("/directory/{org}", get(directory::organization_page))
        .route("/pathways", get(templates::list_page))
        .route("/pathways/{code}/diff", get(templates::diff_page))
        .route("/pathways/{code}/{version}", get(templates::detail_page))
        .route("/admin", get(admin::admin_home))
        .route(
            "/admin/users",
            get(admin::users_page).post(admin_manage::create_user),
        )
        .route("/admin/users/new", get(admin_manage::new_user_page))
        .route(
            "/admin/users/{login}",
            get(admin_manage::user_edit_page).post(admin_manage::update_user),
        )
        .route(
            "/admin/users/{login}/{action}",
            post(admin_manage::user_action),
        )
        .route(
            "/patients/{id}/identifiers",
            get(patient_records::identifier_form).post(patient_records::identifier_submit),
        )
        .route(
            "/patients/{id}/demographics",
            get(admin_manage::demographics_form).post(admin_manage::demographics_submit),
        )
        .route(
            "/admin/organizations",
            get(admin_manage::organizations_page).post(admin_manage::create_organization),
        )
        .route(
            "/admin/organizations/{code}",
            get(admin_manage::organization_page).post(admin_manage::update_organization),
        )
        .route(
            "/admin/organizations/{code}/two-factor",
            post(admin_manage::organization_two_factor),
        )
        .route(
            "/admin/organizations/{code}/status",
            post(admin_manage::organization_status),
        )
        .route("/admin/break-glass", get(admin::break_glass_page))
        .route(
            "/admin/break-glass/{id}/review",
            post(admin::review_break_glass),
        )
        .route("/admin/audit", get(admin::audit_page))
        .route("/admin/audit.csv", get(admin::audit_csv))
        .route(
            "/patients/{id}/access-history",
            get(admin::access_history_page),
        )
        // Merging two records of one person (名寄せ).
        .route("/admin/patients/merge", get(patient_merge::start_page))
        .route(
            "/patients/{id}/merge",
            get(patient_merge::choose_page).post(patient_merge::submit),
        )
        .route("/patients/{id}/merge/preview", get(patient_merge::preview))
        .route("/admin/patient-links/{id}", get(patient_merge::link))
        .route(
            "/admin/patient-links/{id}/reverse",
            post(patient_merge::reverse),
        )
        .route("/handovers/{id}", get(handover::handover_page))
        .route("/handovers/{id}/letter", get(letter::letter_page))
        .route("/handovers/{id}/answer", post(handover::answer_submit))
        .route(
            "/reports/{id}",
            get(handover::report_page).post(handover::report_submit),
        )
        // Plan actions, declarations (手挙げ) and notification settings (issue 18).
        .route(
            "/care-plans/{id}/break-glass",
            get(plan_actions::break_glass_form).post(plan_actions::break_glass_submit),
        )
        .route(
            "/care-plans/{id}/complete",
            get(plan_actions::complete_form).post(plan_actions::complete_submit),
        )
        .route(
            "/care-plans/{id}/withdraw",
            get(plan_actions::withdraw_form).post(plan_actions::withdraw_submit),
        )
        .route(
            "/care-plans/{id}/migrate",
            get(plan_actions::migrate_form).post(plan_actions::migrate_submit),
        )
        .route(
            "/care-plans/{id}/individualize",
            get(plan_actions::individualize_form).post(plan_actions::individualize_submit),
        )
        .route(
            "/admin/declarations",
            get(declarations::declarations_page).post(declarations::declare_submit),
        )
        .route(
            "/admin/notifications",
            get(notifications::notifications_home),
        )
        .route(
            "/admin/organizations/{code}/notifications",
            get(notifications::notifications_page).post(notifications::notifications_submit),
        )
        // The regional council's dashboard, reports and meetings (issue 16).
        .merge(council::routes())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .route("/lang", get(switch_language))
        .route("/static/ui.css", get(stylesheet))
        .route("/static/ui.js", get(script))
        .route("/static/form.css", get(form_stylesheet))
        .route("/static/form.js", get(form_script))
        .route("/favicon.ico", get(favicon))
        .route("/favicon.svg", get(favicon))
}

/// A file built into the binary, with its type and how long browsers may keep it.
fn static_asset(content_type: &'static str, max_age: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, max_age),
        ],
        body,
    )
        .into_response()
}

/// The entry and registration forms' stylesheet (sheet tabs, prefilled values).
async fn form_stylesheet() -> Response {
    static_asset(
        "text/css; charset=utf-8",
        "public, max-age=3600",
        include_str!("../../static/form.css"),
    )
}

/// The entry and registration forms' script (sheet tabs, unsaved-input warning).
async fn form_script() -> Response {
    static_asset(
        "text/javascript; charset=utf-8",
        "public, max-age=3600",
        include_str!("../../static/form.js"),
    )
}

/// The site icon (browsers ask for `/favicon.ico` by themselves; an SVG answers both).
async fn favicon() -> Response {
    static_asset(
        "image/svg+xml",
        "public, max-age=86400",
        include_str!("../../static/favicon.svg"),
    )
}

async fn stylesheet() -> Response {
    static_asset(
        "text/css; charset=utf-8",
        "public, max-age=3600",
        include_str!("../../static/ui.css"),
    )
}

async fn script() -> Response {
    static_asset(
        "text/javascript; charset=utf-8",
        "public, max-age=3600",
        include_str!("../../static/ui.js"),
    )
}

// ------------------------------------------------------------------ who is asking

/// The logged-in practitioner of a page request, with what every page needs.
pub struct Ui {
    pub actor: Actor,
    pub csrf: String,
    pub organization_name: String,
    pub meta: RequestMeta,
    pub session: Session,
    /// The shell (header and navigation) in English: the `renkei_lang=en` cookie set by
    /// `/lang`. Clinical content stays Japanese.
    pub english: bool,
    /// This page's path and query, for the language switch to come back to.
    pub here: String,
    /// Incoming hand-overs nobody of this facility has opened yet (the nav badge).
    pub unread: usize,
    /// Reports back (返書) sent here that nobody of this facility has opened yet.
    pub unread_reports: usize,
    /// Organisation names by code, so pages never show a code (`acute-1`).
    pub organization_names: std::collections::HashMap<String, String>,
}

impl Ui {
    /// The name of the organisation with `code` (the code when unknown).
    pub fn organization_name_of(&self, code: &str) -> String {
        self.organization_names
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_owned())
    }
}

/// The cookie of the shell language.
const LANG_COOKIE: &str = "renkei_lang";

impl FromRequestParts<AppState> for Ui {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ws = WebSession::from_request_parts(parts, state).await?;
        let unread = state
            .services
            .unread_handovers(&ws.actor)
            .await
            .map_err(|e| UiError(e).into_response())?
            .len();
        let unread_reports = state
            .services
            .unread_reports(&ws.actor)
            .await
            .map_err(|e| UiError(e).into_response())?;
        let organization_names = renkei_service::admin::list_organizations(&state.services.db)
            .await
            .map_err(|e| UiError(e).into_response())?
            .into_iter()
            .map(|o| (o.code, o.name))
            .collect();
        Ok(Ui {
            unread,
            unread_reports,
            organization_names,
            organization_name: ws.session.organization_name.clone(),
            actor: ws.actor,
            csrf: ws.csrf_token,
            meta: request_meta(parts, &state.services.security),
            session: ws.session,
            english: crate::web::session::read_cookie(&parts.headers, LANG_COOKIE)
                .is_some_and(|v| v == "en"),
            here: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/worklist".to_owned()),
        })
    }
}

impl Ui {
    /// A regional or organisation administrator (the S10 link is shown to them only).
    pub fn is_admin(&self) -> bool {
        renkei_domain::access::may_administer(&renkei_service::access::subject(&self.actor))
    }

    /// The header of every page.
    pub fn shell(&self, title: impl Into<String>, nav: Nav) -> Shell {
        Shell {
            title: title.into(),
            user_name: self.actor.name.clone(),
            profession: fmt::profession(&self.actor.profession).to_owned(),
            organization_name: self.organization_name.clone(),
            csrf: self.csrf.clone(),
            nav,
            admin: self.is_admin(),
            unread: self.unread,
            unread_reports: self.unread_reports,
            en: self.english,
            lang_url: format!(
                "/lang?set={}&back={}",
                if self.english { "ja" } else { "en" },
                percent_encode(&self.here)
            ),
        }
    }
}

/// Percent-encodes a path for a query value.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct LangQuery {
    #[serde(default)]
    set: String,
    #[serde(default)]
    back: String,
}

/// `GET /lang?set=en|ja&back=/path` — remembers the shell language and goes back. A
/// preference, not a change of data; `back` must be a path of this site.
async fn switch_language(axum::extract::Query(q): axum::extract::Query<LangQuery>) -> Response {
    let value = if q.set == "en" { "en" } else { "ja" };
    let back = same_site_path(&q.back).unwrap_or_else(|| "/worklist".to_owned());
    let cookie = format!("{LANG_COOKIE}={value}; Path=/; SameSite=Lax; Max-Age=31536000");
    let mut res = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// The path and query of `back` when a browser would read it as a page of this site,
/// else `None`. Parsed as a URL the way browsers do (tabs and line breaks dropped,
/// backslashes read as slashes, `//host` as another host) against a fixed origin, and
/// kept only if it stays on that origin; what comes back is the URL's own serialisation
/// (percent-encoded ASCII), so it is always a valid `Location`.
fn same_site_path(back: &str) -> Option<String> {
    let base = url::Url::parse("http://renkei.invalid/").ok()?;
    let target = base.join(back).ok()?;
    if target.origin() != base.origin() || !target.username().is_empty() {
        return None;
    }
    let mut path = target.path().to_owned();
    // `/.//evil.example` normalises to the path `//evil.example`, which a browser
    // would read as another host.
    if !path.starts_with('/') || path.starts_with("//") {
        return None;
    }
    if let Some(query) = target.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(path)
}

/// Which navigation item is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Worklist,
    Patients,
    Handovers,
    Directory,
    Pathways,
    Admin,
    Council,
    None,
}

/// What the layout shows around every page.
pub struct Shell {
    /// `画面名 — 患者名` (the layout appends `— Renkei`).
    pub title: String,
    pub user_name: String,
    pub profession: String,
    pub organization_name: String,
    pub csrf: String,
    pub nav: Nav,
    /// Whether the administration link is shown.
    pub admin: bool,
    /// Unread incoming hand-overs of this facility.
    pub unread: usize,
    /// Unread reports back sent to this facility.
    pub unread_reports: usize,
    /// Header and navigation in English.
    pub en: bool,
    /// The link that switches the shell language and comes back here.
    pub lang_url: String,
}

impl Shell {
    /// A fixed screen word in the shell language (`renkei_domain::wording::ui_text`);
    /// clinical content never goes through here. In debug builds (the tests) a word
    /// without English fails loudly.
    pub fn t(&self, ja: &'static str) -> &'static str {
        debug_assert!(
            renkei_domain::wording::ui_text_known(ja),
            "no English for the screen word {ja:?}"
        );
        renkei_domain::wording::ui_text(ja, self.lang())
    }

    fn lang(&self) -> renkei_domain::wording::Lang {
        if self.en {
            renkei_domain::wording::Lang::En
        } else {
            renkei_domain::wording::Lang::Ja
        }
    }

    /// A fixed screen word as HTML: the Japanese as plain text, or the English in a
    /// `<span lang="en">` when the shell speaks English (so a Japanese page marks its
    /// English words). Use with `|safe`.
    pub fn w(&self, ja: &'static str) -> String {
        let text = self.t(ja);
        let escaped = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        if self.en {
            format!("<span lang=\"en\">{escaped}</span>")
        } else {
            escaped
        }
    }

    /// `en` or `ja`: the `lang` of an element holding fixed words.
    pub fn l(&self) -> &'static str {
        if self.en { "en" } else { "ja" }
    }

    pub fn current(&self, item: &str) -> bool {
        matches!(
            (self.nav, item),
            (Nav::Worklist, "worklist")
                | (Nav::Patients, "patients")
                | (Nav::Handovers, "handovers")
                | (Nav::Directory, "directory")
                | (Nav::Pathways, "pathways")
                | (Nav::Admin, "admin")
                | (Nav::Council, "council")
        )
    }
}

/// A form POST of a logged-in practitioner that passed the CSRF guard (same-site, with
/// the session's CSRF token).
/// The body's fields are kept in order (a field may repeat).
pub struct Posted {
    pub ui: Ui,
    pub fields: Vec<(String, String)>,
}

impl Posted {
    /// The first value of `name`, trimmed ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    /// The form's fields, after the CSRF guard (`web::csrf::guard`, layered on these
    /// routes) let the request through; without that guard it refuses to run.
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        if parts
            .extensions
            .get::<crate::web::csrf::Checked>()
            .is_none()
        {
            return Err(error_response(
                &parts.headers,
                ErrorCode::Forbidden,
                "このフォームは受け付けられません。",
            ));
        }
        let ui = Ui::from_request_parts(&mut parts, state).await?;
        let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
            return Err(error_response(
                &parts.headers,
                ErrorCode::PayloadTooLarge,
                "送信データが大きすぎます。",
            ));
        };
        let fields: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        Ok(Posted { ui, fields })
    }
}

// ------------------------------------------------------------------ answers

pub type UiResult = Result<Response, UiError>;

/// Renders a page.
pub fn page(status: StatusCode, t: &impl Template) -> Response {
    html(status, t)
}

/// POST → 303 See Other.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A failure of a page handler, as a page in Japanese.
#[derive(Debug)]
pub struct UiError(pub ServiceError);

impl From<ServiceError> for UiError {
    fn from(e: ServiceError) -> Self {
        UiError(e)
    }
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    status: u16,
}

/// The Japanese explanation of an error code, for pages (the wording table's).
pub fn explain(code: ErrorCode) -> &'static str {
    renkei_domain::wording::explanation(code, renkei_domain::wording::Lang::Ja)
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let code = self.0.code();
        let status = crate::error::status_of(code);
        let message = match &self.0 {
            ServiceError::Validation(errors) => errors
                .iter()
                .map(|e| fmt::error_ja(None, e))
                .collect::<Vec<_>>()
                .join(" "),
            _ => explain(code).to_owned(),
        };
        let mut res = html(
            status,
            &ErrorPage {
                title: code.title_ja(),
                message: &message,
                status: status.as_u16(),
            },
        );
        if status.is_server_error() {
            res.extensions_mut()
                .insert(crate::error::ErrorCause(format!("{:?}", self.0)));
        }
        res
    }
}

/// A path id, or a 404 page.
pub fn parse_uuid(s: &str) -> Result<Uuid, UiError> {
    s.parse()
        .map_err(|_| UiError(ServiceError::NotFound("resource")))
}

/// A fresh idempotency key for one form.
pub fn new_form_key() -> String {
    Uuid::now_v7().to_string()
}
