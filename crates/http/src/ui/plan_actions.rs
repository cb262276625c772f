//! The plan's own actions on the web (issue 18 point 10): emergency access with a reason
//! (break-glass), completing or withdrawing a plan, moving it to a newer version of its
//! pathway after the migration preview, and setting a goal's individual target. Each
//! page calls the same service function as the JSON API (so the same access decision,
//! If-Match on the plan's version and audit event apply); a form with problems comes
//! back with every error at once and what was typed kept.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use renkei_domain::access::PlanAction;
use renkei_domain::entry::PlanStatus;
use renkei_domain::template::{GoalTarget, PathwayTemplate};
use renkei_service::ServiceError;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::fmt;
use super::plan_data::{self, PlanData};
use super::views::Banner;
use super::{Nav, Posted, Shell, Ui, UiError, UiResult, page, parse_uuid, see_other};
use crate::state::AppState;

// ------------------------------------------------------------------ the plan page's part

/// A link of the plan page to one of these actions.
pub struct PlanLink {
    pub id: &'static str,
    pub url: String,
    pub label: &'static str,
}

/// What the plan page shows of these actions: the links its read model allows, the
/// break-glass banner, and what was just done.
pub struct PlanActionsView {
    pub links: Vec<PlanLink>,
    pub break_glass: bool,
    pub notice: Option<&'static str>,
}

/// The plan page's part: links offered only when the read model lists the action.
pub fn view(state: &AppState, d: &PlanData, plan_url: &str, done: &str) -> PlanActionsView {
    let mut links = Vec::new();
    if d.active() && d.may(&PlanAction::Individualize) && !individual_goals(&d.template).is_empty()
    {
        links.push(PlanLink {
            id: "individualize-link",
            url: format!("{plan_url}/individualize"),
            label: "目標の個別設定",
        });
    }
    if d.active() && d.may(&PlanAction::Lifecycle) {
        if !newer_versions(state, d).is_empty() {
            links.push(PlanLink {
                id: "migrate-link",
                url: format!("{plan_url}/migrate"),
                label: "新しい版へ移行",
            });
        }
        links.push(PlanLink {
            id: "complete-link",
            url: format!("{plan_url}/complete"),
            label: "連携パスを完了",
        });
        links.push(PlanLink {
            id: "withdraw-link",
            url: format!("{plan_url}/withdraw"),
            label: "連携パスを中止",
        });
    }
    PlanActionsView {
        links,
        break_glass: d.break_glass,
        notice: match done {
            "completed" => Some("連携パスを完了しました。"),
            "withdrawn" => Some("連携パスを中止しました。"),
            "migrated" => Some("連携パスを新しい版へ移行しました。"),
            "individualized" => Some("目標を個別に設定しました。"),
            "break_glass" => Some(
                "緊急アクセスを記録しました。閲覧のみできます。理由と閲覧は監査され、地域管理者が確認します。",
            ),
            _ => None,
        },
    }
}

fn newer_versions(state: &AppState, d: &PlanData) -> Vec<u32> {
    let mut v: Vec<u32> = state
        .services
        .pathways
        .all()
        .filter(|p| {
            p.template.code == d.plan.pathway.code && p.template.version > d.plan.pathway.version
        })
        .map(|p| p.template.version)
        .collect();
    v.sort_unstable();
    v
}

// ------------------------------------------------------------------ shared bits

/// Every field error of a service answer as `(field, message)`, the field being the id
/// (`f-…`) of the input it belongs to; other errors pass through.
fn field_errors(
    e: ServiceError,
    t: Option<&PathwayTemplate>,
    field_of: impl Fn(&str) -> &'static str,
) -> Result<Vec<(String, String)>, ServiceError> {
    match e {
        ServiceError::Validation(errors) => Ok(errors
            .iter()
            .map(|e| (field_of(&e.field).to_owned(), fmt::error_ja(t, e)))
            .collect()),
        other => Err(other),
    }
}

fn error_for<'a>(errors: &'a [(String, String)], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| f == field)
        .map(|(_, m)| m.as_str())
}

fn status_of(errors: &[(String, String)]) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// The confirmation box was not ticked.
fn unconfirmed(shell: &Shell) -> (String, String) {
    (
        "confirm".to_owned(),
        shell.t("確認欄にチェックしてください。").to_owned(),
    )
}

/// The plan's version the form was shown at (If-Match), when the form sent one.
fn version_of(posted: &Posted) -> Option<i32> {
    posted.get("plan_version").parse().ok()
}

// ------------------------------------------------------------------ break-glass

#[derive(Template)]
#[template(path = "ui/plan_break_glass.html")]
pub struct BreakGlassPage {
    pub shell: Shell,
    pub action: String,
    pub reason: String,
    pub confirmed: bool,
    pub hours: i64,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl BreakGlassPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

fn break_glass_page(
    state: &AppState,
    ui: &Ui,
    id: Uuid,
    reason: String,
    confirmed: bool,
    errors: Vec<(String, String)>,
) -> axum::response::Response {
    page(
        status_of(&errors),
        &BreakGlassPage {
            shell: ui.shell("緊急アクセス(ブレークグラス)", Nav::Patients),
            action: format!("/care-plans/{id}/break-glass"),
            reason,
            confirmed,
            hours: state.services.break_glass_duration.num_hours(),
            errors,
            notice: None,
        },
    )
}

/// `GET /care-plans/{id}/break-glass` — the reason form for reading a plan outside the
/// care team in an emergency.
pub async fn break_glass_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    Ok(break_glass_page(
        &state,
        &ui,
        id,
        String::new(),
        false,
        Vec::new(),
    ))
}

/// `POST /care-plans/{id}/break-glass` — records the grant (reason and confirmation
/// required), then opens the plan read-only.
pub async fn break_glass_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let reason = posted.get("reason").to_owned();
    let confirmed = posted.get("confirm") == "yes";
    let ui = &posted.ui;
    let shell = ui.shell("", Nav::None);
    let mut errors = Vec::new();
    // The reason's rule is the service's: checked first, alone, so nothing is written.
    if let Err(e) = renkei_service::access::check_break_glass_reason(&reason) {
        errors.extend(field_errors(e, None, |_| "reason")?);
    }
    if !confirmed {
        errors.push(unconfirmed(&shell));
    }
    if !errors.is_empty() {
        return Ok(break_glass_page(&state, ui, id, reason, confirmed, errors));
    }
    state
        .services
        .break_glass(&ui.actor, &ui.meta, id, &reason)
        .await?;
    Ok(see_other(&format!("/care-plans/{id}?done=break_glass")))
}

// ------------------------------------------------------------------ complete / withdraw

#[derive(Template)]
#[template(path = "ui/plan_end.html")]
pub struct EndPage {
    pub shell: Shell,
    pub banner: Banner,
    pub plan_url: String,
    pub action: String,
    pub title: String,
    pub current_stage: String,
    pub plan_version: i32,
    /// Withdrawal (a reason is required) rather than completion.
    pub withdraw: bool,
    pub reason: String,
    pub confirmed: bool,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl EndPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

/// The plan of a lifecycle page, when the read model offers the actor the lifecycle.
async fn lifecycle_plan(state: &AppState, ui: &Ui, id: Uuid) -> Result<PlanData, UiError> {
    let d = plan_data::load(state, ui, id).await?;
    if !d.may(&PlanAction::Lifecycle) {
        return Err(ServiceError::Forbidden.into());
    }
    Ok(d)
}

fn end_page(
    ui: &Ui,
    d: PlanData,
    withdraw: bool,
    reason: String,
    confirmed: bool,
    errors: Vec<(String, String)>,
) -> axum::response::Response {
    let plan_url = format!("/care-plans/{}", d.plan.id);
    let title = if withdraw {
        "連携パスの中止"
    } else {
        "連携パスの完了"
    };
    page(
        status_of(&errors),
        &EndPage {
            shell: ui.shell(format!("{title} — {}", d.banner.name()), Nav::None),
            action: format!(
                "{plan_url}/{}",
                if withdraw { "withdraw" } else { "complete" }
            ),
            plan_url,
            title: d.plan.pathway.title_ja.clone(),
            current_stage: fmt::stage_title(Some(&d.template), &d.plan.current_stage),
            plan_version: d.plan.version,
            withdraw,
            reason,
            confirmed,
            errors,
            notice: None,
            banner: d.banner,
        },
    )
}

/// `GET /care-plans/{id}/complete` — the confirmation of completing the plan.
pub async fn complete_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> UiResult {
    let d = lifecycle_plan(&state, &ui, parse_uuid(&id)?).await?;
    Ok(end_page(&ui, d, false, String::new(), false, Vec::new()))
}

/// `GET /care-plans/{id}/withdraw` — the reason and confirmation of withdrawing it.
pub async fn withdraw_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> UiResult {
    let d = lifecycle_plan(&state, &ui, parse_uuid(&id)?).await?;
    Ok(end_page(&ui, d, true, String::new(), false, Vec::new()))
}

async fn end_submit(state: AppState, id: String, posted: Posted, withdraw: bool) -> UiResult {
    let id = parse_uuid(&id)?;
    let reason = posted.get("reason").to_owned();
    let confirmed = posted.get("confirm") == "yes";
    let version = version_of(&posted);
    let ui = &posted.ui;
    let shell = ui.shell("", Nav::None);
    let mut errors = Vec::new();
    if withdraw && reason.is_empty() {
        errors.push((
            "reason".to_owned(),
            shell.t("中止の理由を入力してください。").to_owned(),
        ));
    }
    if !confirmed {
        errors.push(unconfirmed(&shell));
    }
    if errors.is_empty() {
        let status = if withdraw {
            PlanStatus::Withdrawn
        } else {
            PlanStatus::Completed
        };
        let note = (!reason.is_empty()).then(|| reason.clone());
        match state
            .services
            .end_plan(&ui.actor, &ui.meta, id, status, note, version)
            .await
        {
            Ok(()) => {
                let done = if withdraw { "withdrawn" } else { "completed" };
                return Ok(see_other(&format!("/care-plans/{id}?done={done}")));
            }
            Err(e) => errors = field_errors(e, None, |_| "reason")?,
        }
    }
    let d = lifecycle_plan(&state, ui, id).await?;
    Ok(end_page(ui, d, withdraw, reason, confirmed, errors))
}

/// `POST /care-plans/{id}/complete` — completes the plan (confirmation required).
pub async fn complete_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    end_submit(state, id, posted, false).await
}

/// `POST /care-plans/{id}/withdraw` — withdraws the plan with its reason.
pub async fn withdraw_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    end_submit(state, id, posted, true).await
}

// ------------------------------------------------------------------ migrate

/// One row of the migration preview: what a newer version adds, removes or changes.
pub struct PreviewRow {
    pub symbol: &'static str,
    pub word: &'static str,
    pub class: &'static str,
    pub title: String,
    /// How many of its fields change (0 for an addition or a removal).
    pub fields: usize,
}

pub struct PreviewSection {
    pub title: &'static str,
    pub rows: Vec<PreviewRow>,
}

#[derive(Template)]
#[template(path = "ui/plan_migrate.html")]
pub struct MigratePage {
    pub shell: Shell,
    pub banner: Banner,
    pub plan_url: String,
    pub action: String,
    pub title: String,
    pub from: u32,
    pub versions: Vec<u32>,
    /// The version previewed (none chosen yet: no preview).
    pub to: Option<u32>,
    pub diff_url: String,
    pub sections: Vec<PreviewSection>,
    /// Items the new version reads that the plan has not recorded (titles).
    pub needs_recording: Vec<String>,
    /// Recorded items the new version no longer has (titles).
    pub removed_items: Vec<String>,
    pub plan_version: i32,
    pub reason: String,
    pub confirmed: bool,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
    /// The previewed version's variants `(code, title, selected)` (empty: it has none).
    pub variants: Vec<(String, String, bool)>,
}

impl MigratePage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct MigrateQuery {
    #[serde(default)]
    version: String,
}

fn title_ja(v: &Value) -> String {
    v["ja"]
        .as_str()
        .or_else(|| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn preview_section(title: &'static str, c: &renkei_domain::diff::Changes) -> PreviewSection {
    let rows = c
        .details
        .iter()
        .map(|d| {
            let (symbol, word, class) = match d.change {
                renkei_domain::diff::ChangeKind::Added => ("+", "追加", "ok"),
                renkei_domain::diff::ChangeKind::Removed => ("−", "削除", "bad"),
                _ => ("~", "変更", "warn"),
            };
            PreviewRow {
                symbol,
                word,
                class,
                title: title_ja(&d.title),
                fields: d.fields.len(),
            }
        })
        .collect();
    PreviewSection { title, rows }
}

#[allow(clippy::too_many_arguments)]
async fn migrate_page(
    state: &AppState,
    ui: &Ui,
    d: PlanData,
    to: Option<u32>,
    reason: String,
    confirmed: bool,
    mut errors: Vec<(String, String)>,
) -> UiResult {
    let versions = newer_versions(state, &d);
    let plan_url = format!("/care-plans/{}", d.plan.id);
    let mut sections = Vec::new();
    let mut needs_recording = Vec::new();
    let mut removed_items = Vec::new();
    let mut shown = None;
    if let Some(v) = to {
        match state
            .services
            .migration_preview(&ui.actor, &ui.meta, d.plan.id, v)
            .await
        {
            Ok(p) => {
                sections = vec![
                    preview_section("病期", &p.diff.stages),
                    preview_section("記録項目", &p.diff.items),
                    preview_section("達成目標", &p.diff.goals),
                    preview_section("バリアンス", &p.diff.variances),
                    preview_section("受診・検査の予定", &p.diff.schedule),
                ];
                needs_recording = p
                    .needs_recording
                    .iter()
                    .map(|n| title_ja(&n.title))
                    .collect();
                removed_items = p
                    .recorded_items_removed
                    .iter()
                    .map(|c| fmt::item_title(Some(&d.template), c))
                    .collect();
                shown = Some(v);
            }
            Err(e) => errors.extend(field_errors(e, None, |_| "version")?),
        }
    }
    Ok(page(
        status_of(&errors),
        &MigratePage {
            shell: ui.shell(format!("新しい版への移行 — {}", d.banner.name()), Nav::None),
            action: format!("{plan_url}/migrate"),
            diff_url: format!(
                "/pathways/{}/diff?from={}&to={}",
                d.plan.pathway.code,
                d.plan.pathway.version,
                shown.unwrap_or(d.plan.pathway.version)
            ),
            plan_url,
            title: d.plan.pathway.title_ja.clone(),
            from: d.plan.pathway.version,
            versions,
            to: shown,
            sections,
            needs_recording,
            removed_items,
            plan_version: d.plan.version,
            variants: shown
                .and_then(|v| state.services.pathways.find(&d.plan.pathway.code, v))
                .map(|p| {
                    let own = d.plan.variant.as_ref().map(|v| v.code.as_str());
                    p.template
                        .variants
                        .iter()
                        .map(|v| {
                            (
                                v.code.clone(),
                                v.title.ja.clone(),
                                Some(v.code.as_str()) == own,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            reason,
            confirmed,
            errors,
            notice: None,
            banner: d.banner,
        },
    ))
}

/// `GET /care-plans/{id}/migrate[?version=N]` — the newer versions, and the chosen
/// one's migration preview (the API's `GET …/migration`) with the confirmation form.
pub async fn migrate_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<MigrateQuery>,
) -> UiResult {
    let d = lifecycle_plan(&state, &ui, parse_uuid(&id)?).await?;
    let mut errors = Vec::new();
    let to = match q.version.trim() {
        "" => None,
        v => match v.parse::<u32>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push((
                    "version".to_owned(),
                    ui.shell("", Nav::None)
                        .t("移行先の版を選んでください。")
                        .to_owned(),
                ));
                None
            }
        },
    };
    migrate_page(&state, &ui, d, to, String::new(), false, errors).await
}

/// `POST /care-plans/{id}/migrate` — moves the plan (reason and confirmation required).
pub async fn migrate_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let reason = posted.get("reason").to_owned();
    let confirmed = posted.get("confirm") == "yes";
    let version = version_of(&posted);
    let to: Option<u32> = posted.get("version").parse().ok();
    let ui = &posted.ui;
    let shell = ui.shell("", Nav::None);
    let mut errors = Vec::new();
    if to.is_none() {
        errors.push((
            "version".to_owned(),
            shell.t("移行先の版を選んでください。").to_owned(),
        ));
    }
    if !confirmed {
        errors.push(unconfirmed(&shell));
    }
    if let (Some(to), true) = (to, errors.is_empty()) {
        match state
            .services
            .migrate_plan(
                &ui.actor,
                &ui.meta,
                id,
                to,
                Some(posted.get("variant")).filter(|v| !v.is_empty()),
                &reason,
                version,
            )
            .await
        {
            Ok(()) => return Ok(see_other(&format!("/care-plans/{id}?done=migrated"))),
            Err(e) => {
                errors = field_errors(e, None, |f| match f {
                    "version" => "version",
                    "variant" => "variant",
                    _ => "reason",
                })?
            }
        }
    }
    let d = lifecycle_plan(&state, ui, id).await?;
    migrate_page(&state, ui, d, to, reason, confirmed, errors).await
}

// ------------------------------------------------------------------ individualise

/// A goal whose target the form can set: its numbers (and comparison) are the inputs.
pub struct GoalChoice {
    pub code: String,
    pub title: String,
    pub target: String,
    pub url: String,
    pub selected: bool,
}

/// The inputs of the chosen goal's target, as typed or as the current target has them.
#[derive(Default, Clone)]
pub struct TargetInput {
    /// `threshold` or `range` for a value target; empty for the other kinds.
    pub shape: String,
    pub op: String,
    pub value: String,
    pub min: String,
    pub max: String,
    pub days: String,
    pub months: String,
    pub max_hours: String,
    pub reason: String,
}

/// Which inputs the chosen goal's kind has.
#[derive(Default)]
pub struct TargetFields {
    /// Threshold or range (a value target may become a band and back).
    pub value_target: bool,
    pub op: bool,
    pub value: bool,
    pub days: bool,
    pub months: bool,
    pub max_hours: bool,
    pub unit: String,
}

pub struct OpChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "ui/plan_individualize.html")]
pub struct IndividualizePage {
    pub shell: Shell,
    pub banner: Banner,
    pub plan_url: String,
    pub action: String,
    pub goals: Vec<GoalChoice>,
    /// The chosen goal: code and title.
    pub goal: Option<(String, String)>,
    pub fields: TargetFields,
    pub ops: Vec<OpChoice>,
    pub input: TargetInput,
    pub errors: Vec<(String, String)>,
    pub notice: Option<&'static str>,
}

impl IndividualizePage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct GoalQuery {
    #[serde(default)]
    goal: String,
}

/// The goals whose target has numbers to set (a choice list keeps its values).
fn individual_goals(t: &PathwayTemplate) -> Vec<&renkei_domain::template::Goal> {
    t.goals
        .iter()
        .filter(|g| !matches!(g.target, GoalTarget::Membership { .. }))
        .collect()
}

fn num(v: &Value) -> String {
    v.as_f64().map(fmt::num).unwrap_or_default()
}

fn input_of(target: &GoalTarget) -> TargetInput {
    let v = serde_json::to_value(target).unwrap_or(Value::Null);
    let s = |k: &str| match &v[k] {
        Value::String(x) => x.clone(),
        Value::Null => String::new(),
        other => num(other),
    };
    TargetInput {
        shape: match target {
            GoalTarget::Range { .. } => "range".into(),
            GoalTarget::Threshold { .. } => "threshold".into(),
            _ => String::new(),
        },
        op: s("op"),
        value: s("value"),
        min: s("min"),
        max: s("max"),
        days: s("days"),
        months: s("months"),
        max_hours: s("max_hours"),
        reason: String::new(),
    }
}

fn fields_of(t: &PathwayTemplate, target: &GoalTarget) -> TargetFields {
    let unit_of = |item: &str| {
        t.item(item)
            .and_then(|x| x.unit.as_deref())
            .map(fmt::unit)
            .unwrap_or_default()
            .to_string()
    };
    match target {
        GoalTarget::Threshold { item, .. } | GoalTarget::Range { item, .. } => TargetFields {
            value_target: true,
            op: true,
            value: true,
            unit: unit_of(item),
            ..Default::default()
        },
        GoalTarget::Change { .. } => TargetFields {
            op: true,
            value: true,
            ..Default::default()
        },
        GoalTarget::StageLength { .. } | GoalTarget::DaysBetween { .. } => TargetFields {
            op: true,
            days: true,
            ..Default::default()
        },
        GoalTarget::TimeBetween { .. } => TargetFields {
            max_hours: true,
            ..Default::default()
        },
        GoalTarget::DoneWithin { .. } => TargetFields {
            months: true,
            ..Default::default()
        },
        GoalTarget::Membership { .. } => TargetFields::default(),
    }
}

fn ops(selected: &str) -> Vec<OpChoice> {
    [
        ("<", "未満"),
        ("<=", "以下"),
        (">", "を超える"),
        (">=", "以上"),
    ]
    .into_iter()
    .map(|(value, label)| OpChoice {
        value,
        label,
        selected: value == selected,
    })
    .collect()
}

/// The target the API takes, from the goal's current target and what was typed; a
/// number that does not parse is an error of its input.
fn target_of(
    shell: &Shell,
    current: &GoalTarget,
    input: &TargetInput,
) -> Result<Value, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut number = |field: &str, raw: &str| -> Value {
        match raw.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => json!(n),
            _ => {
                errors.push((
                    field.to_owned(),
                    shell.t("数値で入力してください。").to_owned(),
                ));
                Value::Null
            }
        }
    };
    let whole = |n: Value| -> Value {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .map(|f| json!(f as u64))
            .unwrap_or(n)
    };
    let mut v = serde_json::to_value(current).unwrap_or(Value::Null);
    match current {
        GoalTarget::Threshold { item, .. } | GoalTarget::Range { item, .. } => {
            v = if input.shape == "range" {
                json!({"kind": "range", "item": item,
                       "min": number("min", &input.min), "max": number("max", &input.max)})
            } else {
                json!({"kind": "threshold", "item": item, "op": input.op,
                       "value": number("value", &input.value)})
            };
        }
        _ => {
            let obj = v.as_object_mut();
            if let Some(obj) = obj {
                if obj.contains_key("op") {
                    obj.insert("op".into(), json!(input.op));
                }
                if obj.contains_key("value") {
                    obj.insert("value".into(), number("value", &input.value));
                }
                for (k, raw) in [
                    ("days", &input.days),
                    ("months", &input.months),
                    ("max_hours", &input.max_hours),
                ] {
                    if obj.contains_key(k) {
                        let n = number(k, raw);
                        obj.insert(k.into(), whole(n));
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(v)
    } else {
        Err(errors)
    }
}

/// The plan of an individualise page, when the read model offers the action.
async fn individualize_plan(state: &AppState, ui: &Ui, id: Uuid) -> Result<PlanData, UiError> {
    let d = plan_data::load(state, ui, id).await?;
    if !d.may(&PlanAction::Individualize) {
        return Err(ServiceError::Forbidden.into());
    }
    Ok(d)
}

fn individualize_page(
    ui: &Ui,
    d: PlanData,
    goal: &str,
    input: Option<TargetInput>,
    errors: Vec<(String, String)>,
) -> UiResult {
    let plan_url = format!("/care-plans/{}", d.plan.id);
    let t = &d.template;
    let chosen = individual_goals(t).into_iter().find(|g| g.code == goal);
    if !goal.is_empty() && chosen.is_none() {
        return Err(ServiceError::NotFound("goal").into());
    }
    let goals = individual_goals(t)
        .into_iter()
        .map(|g| GoalChoice {
            url: format!("{plan_url}/individualize?goal={}", g.code),
            selected: g.code == goal,
            code: g.code.clone(),
            title: g.title.ja.clone(),
            target: super::templates::target_words(t, &g.target),
        })
        .collect();
    let input = input.unwrap_or_else(|| chosen.map(|g| input_of(&g.target)).unwrap_or_default());
    let fields = chosen.map(|g| fields_of(t, &g.target)).unwrap_or_default();
    Ok(page(
        status_of(&errors),
        &IndividualizePage {
            shell: ui.shell(format!("目標の個別設定 — {}", d.banner.name()), Nav::None),
            action: format!("{plan_url}/individualize"),
            plan_url,
            goals,
            goal: chosen.map(|g| (g.code.clone(), g.title.ja.clone())),
            fields,
            ops: ops(&input.op),
            input,
            errors,
            notice: None,
            banner: d.banner,
        },
    ))
}

/// `GET /care-plans/{id}/individualize[?goal=CODE]` — the goals with their targets, and
/// the chosen goal's form (new target and reason).
pub async fn individualize_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<GoalQuery>,
) -> UiResult {
    let d = individualize_plan(&state, &ui, parse_uuid(&id)?).await?;
    individualize_page(&ui, d, q.goal.trim(), None, Vec::new())
}

/// `POST /care-plans/{id}/individualize` — sets the goal's individual target.
pub async fn individualize_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let goal = posted.get("goal").to_owned();
    let input = TargetInput {
        shape: posted.get("shape").to_owned(),
        op: posted.get("op").to_owned(),
        value: posted.get("value").to_owned(),
        min: posted.get("min").to_owned(),
        max: posted.get("max").to_owned(),
        days: posted.get("days").to_owned(),
        months: posted.get("months").to_owned(),
        max_hours: posted.get("max_hours").to_owned(),
        reason: posted.get("reason").to_owned(),
    };
    let ui = &posted.ui;
    let d = individualize_plan(&state, ui, id).await?;
    let Some(current) = individual_goals(&d.template)
        .into_iter()
        .find(|g| g.code == goal)
        .map(|g| g.target.clone())
    else {
        return Err(ServiceError::NotFound("goal").into());
    };
    let shell = ui.shell("", Nav::None);
    let mut errors = Vec::new();
    if input.reason.is_empty() {
        errors.push((
            "reason".to_owned(),
            shell.t("個別に設定する理由を入力してください。").to_owned(),
        ));
    }
    let target = match target_of(&shell, &current, &input) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    if let (Some(target), true) = (target, errors.is_empty()) {
        let result = state
            .services
            .individualize(
                &ui.actor,
                &ui.meta,
                id,
                Some((goal.clone(), target)),
                None,
                None,
                &input.reason,
            )
            .await;
        match result {
            Ok(()) => {
                return Ok(see_other(&format!(
                    "/care-plans/{id}?done=individualized#goal-{goal}"
                )));
            }
            Err(e) => {
                let shape = input.shape.clone();
                errors = field_errors(e, Some(&d.template), move |f| match f {
                    "reason" => "reason",
                    "target.min" => "min",
                    "target.max" => "max",
                    "target.days" => "days",
                    "target.months" => "months",
                    "target.max_hours" => "max_hours",
                    _ if shape == "range" => "min",
                    _ => "value",
                })?;
            }
        }
    }
    individualize_page(ui, d, &goal, Some(input), errors)
}
