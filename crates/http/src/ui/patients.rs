//! S3 — patient search (one box: カナ / ひらがな / 半角カナ, birth date as `19480503`,
//! `1948-05-03` or 和暦 `S23.5.3`, or this facility's patient number), the patient page,
//! and enrolment on a pathway with consent capture and a confirmation step.

use renkei_domain::Rule;
use std::collections::HashSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::FieldError;
use renkei_domain::access::{GlobalAction, decide_global};
use renkei_service::access::{NewConsent, subject};
use renkei_service::kana::normalize_kana;
use renkei_service::patients::{self, Patient, PatientQuery};
use renkei_service::plans::Idempotency;
use renkei_service::{ServiceError, Services};
use serde::Deserialize;

use super::fmt::{self, When};
use super::views::{self, Banner, PlanChip};
use super::wareki;
use super::{Nav, Posted, Shell, Ui, UiResult, new_form_key, page, parse_uuid, see_other};
use crate::state::AppState;

// ------------------------------------------------------------------ search

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    /// Where the previous page of results ended (the service's opaque cursor).
    #[serde(default)]
    after: String,
}

/// What the one search box was understood as.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Understood {
    pub kana: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub identifier: Option<String>,
    /// 漢字 name words: the start of the family name, then of the given name.
    pub name: Vec<String>,
    /// Words that are none of these.
    pub unknown: Vec<String>,
}

/// A word of a 漢字 name: at least one ideograph, otherwise ideographs, 々〆ヶ or kana
/// (e.g. 佐々木, 渡邊, 山田).
fn is_kanji_word(word: &str) -> bool {
    let ideograph = |c: char| {
        matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
            || matches!(c, '々' | '〆' | 'ヶ' | 'ヵ')
    };
    let kana = |c: char| matches!(c as u32, 0x3041..=0x30FF);
    word.chars().any(ideograph) && word.chars().all(|c| ideograph(c) || kana(c))
}

/// Splits the box into kana, a birth date and a patient number.
pub fn understand(q: &str) -> Understood {
    let mut u = Understood::default();
    let mut kana = String::new();
    for word in q.split(|c: char| c.is_whitespace() || c == '　') {
        if word.is_empty() {
            continue;
        }
        let half = wareki::to_half_width(word);
        if is_kanji_word(word) {
            u.name.push(word.to_owned());
        } else if let Some(d) = wareki::parse_date(word) {
            u.birth_date = Some(d);
            // Eight digits may also be a patient number.
            if half.bytes().all(|b| b.is_ascii_digit()) {
                u.identifier = Some(half);
            }
        } else if let Some(k) = normalize_kana(word).filter(|k| !k.is_empty()) {
            kana.push_str(&k);
        } else if !half.is_empty()
            && half.len() <= 64
            && half
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            u.identifier = Some(half);
        } else {
            u.unknown.push(word.to_owned());
        }
    }
    if !kana.is_empty() {
        u.kana = Some(kana);
    }
    u
}

pub struct ResultRow {
    pub url: String,
    pub kana: String,
    pub kanji: String,
    pub sex: &'static str,
    pub birth: When,
    pub era: String,
    pub age: u32,
    pub own_id: String,
    pub same_name: bool,
    pub plans: Vec<PlanChip>,
}

#[derive(Template)]
#[template(path = "ui/search.html")]
pub struct SearchPage {
    pub shell: Shell,
    pub q: String,
    pub searched: bool,
    pub understood: Vec<String>,
    pub errors: Vec<String>,
    pub rows: Vec<ResultRow>,
    /// The next page of the same search, when there are more patients than one page.
    pub next_url: Option<String>,
}

/// The patients of one page of the search, and the cursor of the next page.
async fn run_search(
    services: &Services,
    ui: &Ui,
    u: &Understood,
    after: Option<String>,
) -> Result<(Vec<Patient>, Option<String>), ServiceError> {
    let mut out: Vec<Patient> = Vec::new();
    let mut seen = HashSet::new();
    let mut next = None;
    if u.kana.is_some() || !u.name.is_empty() || u.birth_date.is_some() {
        let page = patients::search_patients_page(
            services,
            &ui.actor,
            &ui.meta,
            PatientQuery {
                kana: u.kana.clone(),
                name: (!u.name.is_empty()).then(|| u.name.join(" ")),
                birth_date: u.birth_date.map(|d| d.format("%Y-%m-%d").to_string()),
                cursor: after,
                ..Default::default()
            },
        )
        .await?;
        next = page.next;
        for p in page.patients {
            if seen.insert(p.id) {
                out.push(p);
            }
        }
    }
    if let Some(id) = &u.identifier
        && u.kana.is_none()
        && u.name.is_empty()
    {
        let found = patients::search_patients(
            services,
            &ui.actor,
            &ui.meta,
            PatientQuery {
                organization: Some(ui.actor.organization_code.clone()),
                identifier: Some(id.clone()),
                ..Default::default()
            },
        )
        .await?;
        for p in found {
            if seen.insert(p.id) {
                out.push(p);
            }
        }
    }
    Ok((out, next))
}

pub async fn search_page(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<SearchQuery>,
) -> UiResult {
    let text = q.q.trim().to_owned();
    let mut errors = Vec::new();
    let mut understood = Vec::new();
    let mut rows = Vec::new();
    let mut next_url = None;
    let searched = !text.is_empty();
    if searched {
        let u = understand(&text);
        if let Some(k) = &u.kana {
            understood.push(format!("カナ「{k}」で始まる氏名"));
        }
        match u.name.as_slice() {
            [] => {}
            [one] => understood.push(format!("「{one}」で始まる姓または名(漢字)")),
            [f, g, ..] => understood.push(format!("姓「{f}」・名「{g}」(漢字)")),
        }
        if u.name.len() > 2 {
            errors.push("漢字の氏名は「姓 名」の2語までで検索してください。".to_owned());
        }
        if let Some(d) = u.birth_date {
            understood.push(format!(
                "生年月日 {}({})",
                fmt::date_text(d),
                wareki::era_date(d).unwrap_or_default()
            ));
        }
        if let Some(id) = &u.identifier
            && u.kana.is_none()
        {
            understood.push(format!("自施設の患者ID「{id}」"));
        }
        if !u.unknown.is_empty() {
            errors.push(format!(
                "「{}」では検索できません。氏名(漢字・カナ・ひらがな)・生年月日(例 19480503、S23.5.3)・患者IDで検索してください。",
                u.unknown.join(" ")
            ));
        }
        let after = Some(q.after.trim().to_owned()).filter(|a| !a.is_empty());
        let (found, next) = if u.name.len() > 2 {
            (Vec::new(), None)
        } else if u.kana.is_some()
            || !u.name.is_empty()
            || u.birth_date.is_some()
            || u.identifier.is_some()
        {
            run_search(&state.services, &ui, &u, after).await?
        } else {
            (Vec::new(), None)
        };
        next_url = next.map(|cursor| {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("q", &text)
                .append_pair("after", &cursor)
                .finish();
            format!("/patients?{query}")
        });
        let mut keys: Vec<String> = found
            .iter()
            .map(|p| format!("{}{}", p.name.family_kana, p.name.given_kana))
            .collect();
        keys.sort();
        for p in &found {
            let key = format!("{}{}", p.name.family_kana, p.name.given_kana);
            let plans = state
                .services
                .plans_of_patient(&ui.actor, &ui.meta, p.id)
                .await?;
            let b = views::banner_of(&state, &ui, p, &plans, false);
            rows.push(ResultRow {
                url: b.url,
                kana: b.kana,
                kanji: b.kanji,
                sex: b.sex,
                birth: b.birth,
                era: b.era,
                age: b.age,
                own_id: b.own_id.unwrap_or_else(|| "—".into()),
                same_name: keys.iter().filter(|k| **k == key).count() > 1,
                plans: b.plans,
            });
        }
    }
    Ok(page(
        StatusCode::OK,
        &SearchPage {
            shell: ui.shell(
                if searched {
                    format!("患者検索「{text}」")
                } else {
                    "患者検索".to_owned()
                },
                Nav::Patients,
            ),
            q: text,
            searched,
            understood,
            errors,
            rows,
            next_url,
        },
    ))
}

// ------------------------------------------------------------------ patient page

pub struct PlanRow {
    pub url: String,
    pub title: String,
    pub version: u32,
    pub status: &'static str,
    pub stage: String,
    pub started: When,
    pub planner: String,
}

#[derive(Template)]
#[template(path = "ui/patient.html")]
pub struct PatientPage {
    pub shell: Shell,
    pub banner: Banner,
    pub plans: Vec<PlanRow>,
    pub may_enrol: bool,
    /// The regional administrator sees 「名寄せ」 (merging two records of one person).
    pub may_merge: bool,
    /// How many records are merged into this one (名寄せ).
    pub merged_records: usize,
    /// Every record's patient numbers, when records are merged into this one.
    pub all_identifiers: Vec<String>,
    pub enrol_url: String,
    pub registered: bool,
    /// The patient number was just added (`?identifier=added`).
    pub identifier_added: bool,
    /// The actor's organisation: the only namespace the identifier form offers.
    pub own_code: String,
}

pub fn may_enrol(ui: &Ui) -> bool {
    decide_global(&subject(&ui.actor), GlobalAction::Enrol)
}

#[derive(Debug, Default, Deserialize)]
pub struct PatientQueryString {
    #[serde(default)]
    registered: String,
    #[serde(default)]
    identifier: String,
}

pub async fn patient_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<PatientQueryString>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let (patient, plans, banner) = views::load_banner(&state, &ui, id).await?;
    let names: std::collections::HashMap<String, String> =
        renkei_service::admin::list_organizations(&state.services.db)
            .await?
            .into_iter()
            .map(|o| (o.code, o.name))
            .collect();
    let rows = plans
        .iter()
        .map(|p| {
            let t = state
                .services
                .pathways
                .find_for(
                    &p.pathway.code,
                    p.pathway.version,
                    p.variant.as_ref().map(|v| v.code.as_str()),
                )
                .map(|x| &x.template);
            PlanRow {
                url: format!("/care-plans/{}", p.id),
                title: p.pathway.title_ja.clone(),
                version: p.pathway.version,
                status: fmt::plan_status_of(&p.status),
                stage: fmt::stage_title(t, &p.current_stage),
                started: fmt::day_of(p.started_at),
                planner: names
                    .get(&p.planner_organization)
                    .cloned()
                    .unwrap_or_else(|| p.planner_organization.clone()),
            }
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &PatientPage {
            shell: ui.shell(format!("患者 — {}", banner.name()), Nav::Patients),
            enrol_url: format!("/patients/{id}/enrol"),
            banner,
            plans: rows,
            may_enrol: may_enrol(&ui),
            may_merge: ui.actor.has_role(renkei_service::patient_merge::ROLE),
            merged_records: patient.merged_ids.len(),
            all_identifiers: if patient.merged_ids.is_empty() {
                Vec::new()
            } else {
                patient
                    .identifiers
                    .iter()
                    .map(|i| format!("{}: {}", i.organization, i.value))
                    .collect()
            },
            registered: !q.registered.is_empty(),
            identifier_added: q.identifier == "added",
            own_code: ui.actor.organization_code.clone(),
        },
    ))
}

// ------------------------------------------------------------------ enrolment

/// The enrolment form's values, as posted (and carried through the confirmation page).
#[derive(Debug, Clone, Default)]
pub struct EnrolInput {
    pub pathway: String,
    /// The template variant's code (pathways with variants).
    pub variant: String,
    pub started_on: String,
    /// `stage=organization code` for the later stages.
    pub facilities: Vec<(String, String)>,
    /// `now` (record consent now) or `later`.
    pub consent: String,
    pub obtained_on: String,
    pub method: String,
    pub signer: String,
    pub proxy_relationship: String,
    pub statistics: bool,
}

impl EnrolInput {
    fn from_posted(p: &Posted) -> Self {
        let facilities = p
            .fields
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("facility.")
                    .map(|s| (s.to_owned(), v.trim().to_owned()))
            })
            .filter(|(_, v)| !v.is_empty())
            .collect();
        EnrolInput {
            pathway: p.get("pathway").to_owned(),
            variant: p.get("variant").to_owned(),
            started_on: p.get("started_on").to_owned(),
            facilities,
            consent: p.get("consent").to_owned(),
            obtained_on: p.get("obtained_on").to_owned(),
            method: p.get("method").to_owned(),
            signer: p.get("signer").to_owned(),
            proxy_relationship: p.get("proxy_relationship").to_owned(),
            statistics: p.get("statistics") == "yes",
        }
    }

    /// The hidden fields that carry these values through the confirmation page.
    fn hidden(&self) -> Vec<(String, String)> {
        let mut h = vec![
            ("pathway".to_owned(), self.pathway.clone()),
            ("variant".to_owned(), self.variant.clone()),
            ("started_on".to_owned(), self.started_on.clone()),
            ("consent".to_owned(), self.consent.clone()),
            ("obtained_on".to_owned(), self.obtained_on.clone()),
            ("method".to_owned(), self.method.clone()),
            ("signer".to_owned(), self.signer.clone()),
            (
                "proxy_relationship".to_owned(),
                self.proxy_relationship.clone(),
            ),
        ];
        if self.statistics {
            h.push(("statistics".to_owned(), "yes".to_owned()));
        }
        for (s, o) in &self.facilities {
            h.push((format!("facility.{s}"), o.clone()));
        }
        h
    }
}

/// A date typed in the form as a moment: today → now; an earlier day → 09:00 JST.
fn moment_of(day: NaiveDate, now: DateTime<Utc>) -> DateTime<Utc> {
    if day >= fmt::today_jst(now) {
        now
    } else {
        fmt::parse_datetime_local(&format!("{}T09:00", day.format("%Y-%m-%d"))).unwrap_or(now)
    }
}

pub struct PathwayOption {
    pub code: String,
    pub title: String,
    pub version: u32,
    pub stages: String,
    pub selected: bool,
}

/// A variant of the chosen pathway in the enrolment form's select.
pub struct VariantOption {
    pub code: String,
    pub title: String,
    pub description: String,
    pub selected: bool,
}

pub struct StageFacility {
    pub code: String,
    pub title: String,
    pub days: String,
    pub options: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "ui/enrol.html")]
pub struct EnrolPage {
    pub shell: Shell,
    pub banner: Banner,
    pub action: String,
    pub pathways: Vec<PathwayOption>,
    pub chosen: bool,
    pub input: EnrolInput,
    /// The chosen pathway's variants (empty: it has none).
    pub variants: Vec<VariantOption>,
    pub stages: Vec<StageFacility>,
    pub errors: Vec<(String, String)>,
}

impl EnrolPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EnrolQuery {
    #[serde(default)]
    pathway: String,
}

fn days_text(expected: Option<u32>, max: Option<u32>) -> String {
    match (expected, max) {
        (Some(e), Some(m)) => format!("標準{e}日・上限{m}日"),
        (Some(e), None) => format!("標準{e}日"),
        (None, Some(m)) => format!("上限{m}日"),
        (None, None) => "期間の定めなし".to_owned(),
    }
}

async fn enrol_page(
    state: &AppState,
    ui: &Ui,
    banner: Banner,
    patient_id: uuid::Uuid,
    input: EnrolInput,
    errors: Vec<(String, String)>,
) -> Result<EnrolPage, ServiceError> {
    let services = &state.services;
    let mut pathways: Vec<PathwayOption> = Vec::new();
    let mut latest: Vec<_> = services.pathways.all().collect();
    latest.sort_by(|a, b| {
        (&a.template.code, b.template.version).cmp(&(&b.template.code, a.template.version))
    });
    for p in latest {
        if pathways.iter().any(|x| x.code == p.template.code) {
            continue;
        }
        pathways.push(PathwayOption {
            code: p.template.code.clone(),
            title: p.template.title.ja.clone(),
            version: p.template.version,
            stages: p
                .template
                .stages
                .iter()
                .map(|s| s.title.ja.clone())
                .collect::<Vec<_>>()
                .join(" → "),
            selected: p.template.code == input.pathway,
        });
    }
    let chosen = services.pathways.latest(&input.pathway).cloned();
    let mut stages = Vec::new();
    if let Some(p) = &chosen {
        for s in p.template.stages.iter().skip(1) {
            let mut options = Vec::new();
            for d in services
                .directory(Some(&p.template.code), Some(&s.code), None)
                .await?
            {
                if d.code == ui.actor.organization_code {
                    continue;
                }
                let label = format!("{}({}・{})", d.name, fmt::org_kind(&d.kind), d.area);
                let chosen_here = input
                    .facilities
                    .iter()
                    .any(|(st, o)| st == &s.code && o == &d.code);
                options.push((d.code, label, chosen_here));
            }
            stages.push(StageFacility {
                code: s.code.clone(),
                title: s.title.ja.clone(),
                days: days_text(s.expected_days, s.max_days),
                options,
            });
        }
    }
    let variants = chosen
        .as_ref()
        .map(|p| {
            p.template
                .variants
                .iter()
                .map(|v| VariantOption {
                    code: v.code.clone(),
                    title: v.title.ja.clone(),
                    description: v.description.clone(),
                    selected: v.code == input.variant,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(EnrolPage {
        shell: ui.shell(format!("連携パスの適用 — {}", banner.name()), Nav::Patients),
        variants,
        action: format!("/patients/{patient_id}/enrol/confirm"),
        banner,
        pathways,
        chosen: chosen.is_some(),
        input,
        stages,
        errors,
    })
}

pub async fn enrol_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<EnrolQuery>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let (_, _, banner) = views::load_banner(&state, &ui, id).await?;
    let today = fmt::today_jst(state.services.now())
        .format("%Y-%m-%d")
        .to_string();
    let input = EnrolInput {
        pathway: q.pathway,
        started_on: today.clone(),
        consent: "now".into(),
        obtained_on: today,
        method: "paper".into(),
        signer: "self".into(),
        ..Default::default()
    };
    let p = enrol_page(&state, &ui, banner, id, input, Vec::new()).await?;
    Ok(page(StatusCode::OK, &p))
}

/// Checks the form before the confirmation page (the service checks again on commit).
fn check_enrol(state: &AppState, input: &EnrolInput) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let now = state.services.now();
    let today = fmt::today_jst(now);
    match state.services.pathways.latest(&input.pathway) {
        None => errors.push(("pathway".into(), "連携パスを選んでください。".into())),
        Some(p) => {
            let variant = Some(input.variant.as_str()).filter(|v| !v.is_empty());
            if let Err(e) = renkei_domain::template::choose_variant(&p.template, variant) {
                errors.push(field_pair(&e));
            }
        }
    }
    match wareki::parse_date(&input.started_on) {
        None => errors.push((
            "started_on".into(),
            "パス開始日(入院日)を日付で入力してください。".into(),
        )),
        Some(d) if d > today => errors.push((
            "started_on".into(),
            "パス開始日に未来の日付は指定できません。".into(),
        )),
        _ => {}
    }
    match input.consent.as_str() {
        "later" => {}
        "now" => {
            match wareki::parse_date(&input.obtained_on) {
                None => errors.push((
                    "obtained_on".into(),
                    "同意取得日を日付で入力してください。".into(),
                )),
                Some(d) if d > today => errors.push((
                    "obtained_on".into(),
                    "同意取得日に未来の日付は指定できません。".into(),
                )),
                _ => {}
            }
            if !matches!(input.method.as_str(), "paper" | "electronic") {
                errors.push(("method".into(), "同意の方法を選んでください。".into()));
            }
            match input.signer.as_str() {
                "self" => {}
                "proxy" if input.proxy_relationship.trim().is_empty() => errors.push((
                    "proxy_relationship".into(),
                    "代諾者の続柄(例 長男、妻)を入力してください。".into(),
                )),
                "proxy" => {}
                _ => errors.push(("signer".into(), "署名者を選んでください。".into())),
            }
        }
        _ => errors.push((
            "consent".into(),
            "同意を今記録するか、後で記録するかを選んでください。".into(),
        )),
    }
    errors
}

pub struct Summary {
    pub label: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "ui/enrol_confirm.html")]
pub struct EnrolConfirmPage {
    pub shell: Shell,
    pub banner: Banner,
    pub action: String,
    pub back: String,
    pub rows: Vec<Summary>,
    pub stages: Vec<Summary>,
    pub consent: Vec<Summary>,
    pub hidden: Vec<(String, String)>,
}

pub async fn enrol_confirm(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    let input = EnrolInput::from_posted(&posted);
    let (_, _, banner) = views::load_banner(&state, ui, id).await?;
    let errors = check_enrol(&state, &input);
    if posted.get("edit") == "1" || !errors.is_empty() {
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let p = enrol_page(&state, ui, banner, id, input, errors).await?;
        return Ok(page(status, &p));
    }
    let Some(p) = state.services.pathways.latest(&input.pathway).cloned() else {
        return Err(ServiceError::NotFound("pathway").into());
    };
    let directory = state
        .services
        .directory(Some(&p.template.code), None, None)
        .await?;
    let org_name = |code: &str| {
        directory
            .iter()
            .find(|d| d.code == code)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| code.to_owned())
    };
    let started = wareki::parse_date(&input.started_on)
        .map(fmt::date_text)
        .unwrap_or_default();
    // The plan reads the template resolved for its variant: its stage lengths are shown.
    let variant = p.template.variant(&input.variant).cloned();
    let resolved = variant
        .as_ref()
        .and_then(|v| p.template.for_variant(&v.code));
    let template = resolved.as_ref().unwrap_or(&p.template);
    let mut rows = vec![
        Summary {
            label: "連携パス".into(),
            value: format!("{}(第{}版)", p.template.title.ja, p.template.version),
        },
        Summary {
            label: "版の識別(ハッシュ)".into(),
            value: p.hash.chars().take(19).collect(),
        },
        Summary {
            label: "パス開始日(入院日)".into(),
            value: started,
        },
        Summary {
            label: "計画管理病院".into(),
            value: ui.organization_name.clone(),
        },
    ];
    if let Some(v) = &variant {
        rows.insert(
            1,
            Summary {
                label: "パスの種類".into(),
                value: v.title.ja.clone(),
            },
        );
    }
    let own = state.services.enrolling_stages(&ui.actor, template).await?;
    let mut stages = Vec::new();
    for s in &template.stages {
        let who = if own.contains(&s.code) {
            format!("{}(自施設)", ui.organization_name)
        } else {
            input
                .facilities
                .iter()
                .find(|(st, _)| st == &s.code)
                .map(|(_, o)| org_name(o))
                .unwrap_or_else(|| "未定(後で紹介先を決めます)".to_owned())
        };
        stages.push(Summary {
            label: s.title.ja.clone(),
            value: format!("{who} — {}", days_text(s.expected_days, s.max_days)),
        });
    }
    let consent = if input.consent == "now" {
        vec![
            Summary {
                label: "同意".into(),
                value: "取得済み(この登録と同時に記録します)".into(),
            },
            Summary {
                label: "同意取得日".into(),
                value: wareki::parse_date(&input.obtained_on)
                    .map(fmt::date_text)
                    .unwrap_or_default(),
            },
            Summary {
                label: "方法".into(),
                value: if input.method == "paper" {
                    "書面".into()
                } else {
                    "電子署名".into()
                },
            },
            Summary {
                label: "署名者".into(),
                value: if input.signer == "self" {
                    "本人".into()
                } else {
                    format!("代諾者({})", input.proxy_relationship)
                },
            },
            Summary {
                label: "共有範囲".into(),
                value: "ケアチーム(連携パスに参加する施設)".into(),
            },
            Summary {
                label: "利用目的".into(),
                value: if input.statistics {
                    "診療のための共有、統計・パス改善".into()
                } else {
                    "診療のための共有".into()
                },
            },
        ]
    } else {
        vec![Summary {
            label: "同意".into(),
            value: "未取得(登録後7日以内に説明し、同意を記録してください)".into(),
        }]
    };
    Ok(page(
        StatusCode::OK,
        &EnrolConfirmPage {
            shell: ui.shell(
                format!("連携パスの適用(確認) — {}", banner.name()),
                Nav::Patients,
            ),
            action: format!("/patients/{id}/enrol"),
            back: format!("/patients/{id}/enrol/confirm"),
            banner,
            rows,
            stages,
            consent,
            hidden: {
                // One key per confirmation page: 登録 pressed twice enrols once.
                let mut h = input.hidden();
                h.push(("idem".to_owned(), new_form_key()));
                h
            },
        },
    ))
}

pub async fn enrol_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let ui = &posted.ui;
    let input = EnrolInput::from_posted(&posted);
    let errors = check_enrol(&state, &input);
    if !errors.is_empty() {
        let (_, _, banner) = views::load_banner(&state, ui, id).await?;
        let p = enrol_page(&state, ui, banner, id, input, errors).await?;
        return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, &p));
    }
    let services = &state.services;
    let now = services.now();
    let started = wareki::parse_date(&input.started_on).map(|d| moment_of(d, now));
    let idem = match posted.get("idem").trim() {
        "" => None,
        key => Some(Idempotency::new(key, &serde_json::json!(input.hidden()))?),
    };
    let plan = match services
        .enrol_once(
            &ui.actor,
            &ui.meta,
            id,
            &input.pathway,
            None,
            Some(input.variant.as_str()).filter(|v| !v.is_empty()),
            started,
            idem,
        )
        .await
    {
        Ok((p, true)) => p,
        // The same confirmation sent again: the plan exists, show it.
        Ok((p, false)) => return Ok(see_other(&format!("/care-plans/{}", p.id))),
        Err(ServiceError::Validation(errs)) => {
            let (_, _, banner) = views::load_banner(&state, ui, id).await?;
            let errors = errs.iter().map(field_pair).collect();
            let p = enrol_page(&state, ui, banner, id, input, errors).await?;
            return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, &p));
        }
        Err(e) => return Err(e.into()),
    };
    for (stage, org) in &input.facilities {
        services
            .add_team_member(
                &ui.actor,
                &ui.meta,
                plan.id,
                org,
                vec![stage.clone()],
                "stage_owner",
            )
            .await?;
    }
    if input.consent == "now" {
        let obtained = wareki::parse_date(&input.obtained_on)
            .map(|d| moment_of(d, now))
            .unwrap_or(now);
        let mut purposes = vec!["care".to_owned()];
        if input.statistics {
            purposes.push("statistics".to_owned());
        }
        services
            .record_consent(
                &ui.actor,
                &ui.meta,
                plan.id,
                NewConsent {
                    scope: "care_team".into(),
                    organizations: Vec::new(),
                    purposes,
                    method: input.method.clone(),
                    signer: input.signer.clone(),
                    proxy_relationship: (input.signer == "proxy")
                        .then(|| input.proxy_relationship.trim().to_owned()),
                    obtained_at: obtained,
                },
            )
            .await?;
    }
    Ok(see_other(&format!("/care-plans/{}?enrolled=1", plan.id)))
}

fn field_pair(e: &FieldError) -> (String, String) {
    let field = match e.field.as_str() {
        "started_at" => "started_on",
        f => f,
    };
    (field.to_owned(), fmt::error_ja(None, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_box_understands_kana_dates_and_ids() {
        let u = understand("やまだ");
        assert_eq!(u.kana.as_deref(), Some("ヤマダ"));
        let u = understand("ﾔﾏﾀﾞ");
        assert_eq!(u.kana.as_deref(), Some("ヤマダ"));
        let u = understand("S23.5.3");
        assert_eq!(u.birth_date, NaiveDate::from_ymd_opt(1948, 5, 3));
        assert_eq!(u.identifier, None);
        let u = understand("19480503");
        assert_eq!(u.birth_date, NaiveDate::from_ymd_opt(1948, 5, 3));
        assert_eq!(u.identifier.as_deref(), Some("19480503"));
        let u = understand("0012345");
        assert_eq!(u.identifier.as_deref(), Some("0012345"));
        assert_eq!(u.birth_date, None);
        let u = understand("やまだ　たろう S23.4.1");
        assert_eq!(u.kana.as_deref(), Some("ヤマダタロウ"));
        assert_eq!(u.birth_date, NaiveDate::from_ymd_opt(1948, 4, 1));
        let u = understand("山田");
        assert_eq!(u.name, vec!["山田".to_owned()]);
        assert!(u.unknown.is_empty());
        let u = understand("佐々木　花子");
        assert_eq!(u.name, vec!["佐々木".to_owned(), "花子".to_owned()]);
        assert_eq!(u.kana, None);
        let u = understand("渡邊 S22.5.3");
        assert_eq!(u.name, vec!["渡邊".to_owned()]);
        assert_eq!(u.birth_date, NaiveDate::from_ymd_opt(1947, 5, 3));
        let u = understand("@@");
        assert_eq!(u.unknown, vec!["@@".to_owned()]);
    }
}

// ------------------------------------------------------------------ registration

/// The registration form's values (kana may be typed in ひらがな; stored as カタカナ).
#[derive(Debug, Clone, Default)]
pub struct NewPatientInput {
    pub family: String,
    pub given: String,
    pub family_kana: String,
    pub given_kana: String,
    pub birth_date: String,
    pub sex: String,
    pub identifier: String,
}

pub struct Similar {
    pub url: String,
    pub name: String,
    pub birth: String,
}

#[derive(Template)]
#[template(path = "ui/patient_new.html")]
pub struct NewPatientPage {
    pub shell: Shell,
    pub input: NewPatientInput,
    pub birth_hint: String,
    pub errors: Vec<(String, String)>,
    pub similar: Vec<Similar>,
    /// An unusual value was found: the form offers 「この内容で登録する」.
    pub ask_confirm: bool,
    pub confirmed: bool,
}

impl NewPatientPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

pub async fn new_patient_form(ui: Ui) -> UiResult {
    Ok(page(
        StatusCode::OK,
        &NewPatientPage {
            shell: ui.shell("新規患者の登録", Nav::Patients),
            input: NewPatientInput {
                sex: String::new(),
                ..Default::default()
            },
            birth_hint: String::new(),
            errors: Vec::new(),
            similar: Vec::new(),
            ask_confirm: false,
            confirmed: false,
        },
    ))
}

/// The form field of a service field (`name.family_kana` → `family_kana`).
fn patient_field(field: &str) -> String {
    match field {
        f if f.starts_with("identifiers") => "identifier".to_owned(),
        f => f.trim_start_matches("name.").to_owned(),
    }
}

pub async fn new_patient_submit(State(state): State<AppState>, posted: Posted) -> UiResult {
    let ui = &posted.ui;
    let input = NewPatientInput {
        family: posted.get("family").to_owned(),
        given: posted.get("given").to_owned(),
        family_kana: posted.get("family_kana").to_owned(),
        given_kana: posted.get("given_kana").to_owned(),
        birth_date: posted.get("birth_date").to_owned(),
        sex: posted.get("sex").to_owned(),
        identifier: wareki::to_half_width(posted.get("identifier")),
    };
    let birth = wareki::parse_date(&input.birth_date);
    let birth_hint = birth
        .map(|d| {
            format!(
                "{}({})",
                fmt::date_text(d),
                wareki::era_date(d).unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let confirmed = posted.get("confirm") == "yes";
    let render = |status, errors: Vec<(String, String)>, similar: Vec<Similar>| {
        page(
            status,
            &NewPatientPage {
                shell: ui.shell("新規患者の登録", Nav::Patients),
                input: input.clone(),
                birth_hint: birth_hint.clone(),
                errors,
                similar,
                ask_confirm: false,
                confirmed,
            },
        )
    };
    // The same kana name and birth date already registered (and visible): say so first.
    let kana = format!("{}{}", input.family_kana, input.given_kana);
    if posted.get("not_duplicate") != "yes"
        && let Some(k) = normalize_kana(&kana).filter(|k| !k.is_empty())
    {
        let found = patients::search_patients(
            &state.services,
            &ui.actor,
            &ui.meta,
            PatientQuery {
                kana: Some(k.clone()),
                birth_date: birth.map(|d| d.format("%Y-%m-%d").to_string()),
                ..Default::default()
            },
        )
        .await?;
        let similar: Vec<Similar> = found
            .iter()
            .filter(|p| format!("{}{}", p.name.family_kana, p.name.given_kana) == k)
            .map(|p| {
                let (kana, kanji) = views::names(p);
                Similar {
                    url: format!("/patients/{}", p.id),
                    name: format!("{kanji}({kana})"),
                    birth: fmt::date_text(p.birth_date),
                }
            })
            .collect();
        if !similar.is_empty() {
            return Ok(render(StatusCode::OK, Vec::new(), similar));
        }
    }
    let new = patients::NewPatient {
        family: input.family.clone(),
        given: input.given.clone(),
        family_kana: input.family_kana.clone(),
        given_kana: input.given_kana.clone(),
        // An unreadable date goes as typed: the service reports it with every other error.
        birth_date: birth
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| input.birth_date.trim().to_owned()),
        sex: input.sex.clone(),
        identifiers: vec![(ui.actor.organization_code.clone(), input.identifier.clone())],
    };
    match patients::create_patient_confirmed(&state.services, &ui.actor, &ui.meta, new, confirmed)
        .await
    {
        Ok(p) => Ok(see_other(&format!("/patients/{}?registered=1", p.id))),
        Err(ServiceError::Validation(errs)) => {
            let errors = errs
                .iter()
                .map(|e| {
                    let field = patient_field(&e.field);
                    // The form's one patient number field, named as the form names it.
                    let named = FieldError {
                        field: if field == "identifier" {
                            "identifier".to_owned()
                        } else {
                            e.field.clone()
                        },
                        ..e.clone()
                    };
                    (field, fmt::error_ja(None, &named))
                })
                .collect();
            let ask_confirm = errs.iter().any(|e| e.code == Rule::Implausible);
            Ok(page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &NewPatientPage {
                    shell: ui.shell("新規患者の登録", Nav::Patients),
                    input: input.clone(),
                    birth_hint: birth_hint.clone(),
                    errors,
                    similar: Vec::new(),
                    ask_confirm,
                    confirmed,
                },
            ))
        }
        Err(ServiceError::Conflict { .. }) => Ok(render(
            StatusCode::CONFLICT,
            vec![(
                "identifier".into(),
                "この患者IDはすでに別の患者に使われています。患者検索で確認してください。".into(),
            )],
            Vec::new(),
        )),
        Err(e) => Err(e.into()),
    }
}
