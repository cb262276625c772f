//! S2 — the home page: my facility's worklist (what needs us now), in tabs with counts,
//! a status badge in every row, and the filters in the URL (`?tab=&pathway=&due=`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::Duration;
use renkei_service::ServiceError;
use renkei_service::schedules::{WorkItem, Worklist};
use renkei_service::screens::WorklistScreen;
use serde::Deserialize;

use super::fmt::{self, When};
use super::views::{self, PlanChip};
use super::{Nav, Shell, Ui, UiResult, page};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct WorklistQuery {
    #[serde(default)]
    tab: String,
    #[serde(default)]
    pathway: String,
    #[serde(default)]
    due: String,
    /// Set after a password change (via `/`).
    #[serde(default)]
    password_changed: String,
}

/// The tabs: query key, label, and which list of the service's worklist.
const TABS: [(&str, &str); 10] = [
    ("all", "すべて"),
    ("incoming", "受入依頼"),
    ("outgoing", "紹介中"),
    ("reports_owed", "返書の送付"),
    ("reports_to_me", "返書待ち"),
    ("schedule", "予定・期限"),
    ("goals", "目標の期限超過"),
    ("consent", "同意未取得"),
    ("dropouts", "記録途絶"),
    ("arrived", "返書の到着"),
];

fn lists<'a>(
    w: &'a Worklist,
    arrived: &'a Vec<WorkItem>,
) -> [(&'static str, &'a Vec<WorkItem>); 9] {
    [
        ("incoming", &w.handovers_incoming.items),
        ("outgoing", &w.handovers_outgoing.items),
        ("reports_owed", &w.reports_owed.items),
        ("reports_to_me", &w.reports_owed_to_me.items),
        ("schedule", &w.schedule_due.items),
        ("goals", &w.goals_overdue.items),
        ("consent", &w.consent_missing.items),
        ("dropouts", &w.dropouts.items),
        ("arrived", arrived),
    ]
}

pub struct Tab {
    pub label: &'static str,
    pub url: String,
    pub count: usize,
    pub current: bool,
}

pub struct Row {
    pub patient_kana: String,
    pub patient_name: String,
    pub patient_url: Option<String>,
    pub age: Option<u32>,
    pub plan: Option<PlanChip>,
    pub pathway: String,
    pub category: &'static str,
    pub what: String,
    pub url: String,
    pub due: Option<When>,
    pub badge: &'static str,
    pub badge_class: &'static str,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    /// The fixed word of a choice that is not clinical content ("" otherwise).
    pub label_static: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "ui/worklist.html")]
pub struct WorklistPage {
    pub shell: Shell,
    pub tabs: Vec<Tab>,
    pub current_label: &'static str,
    pub rows: Vec<Row>,
    pub pathways: Vec<Choice>,
    pub dues: Vec<Choice>,
    pub tab: String,
    pub as_of: When,
    pub notice: Option<&'static str>,
    /// The second factor is not set up yet: the page offers it.
    pub totp_missing: bool,
    /// Reports back that arrived and nobody here has opened yet.
    pub unread_reports: usize,
    /// The tab of arrived reports.
    pub arrived_url: String,
    /// Open amendment notices (修正のお知らせ) of the organisation.
    pub amendment_notices: Vec<super::corrections::NoticeRow>,
    /// Stages this facility left for the next one without recording their end.
    pub unrecorded: Vec<UnrecordedRow>,
    /// This organisation's data completeness next to the region's median.
    pub completeness: CompletenessPanel,
}

/// The home page's data-completeness panel (issue 16, point 4).
pub struct CompletenessPanel {
    pub rows: Vec<CompletenessRow>,
    /// Plans counted (statistics consent, with a stay or an entry).
    pub plans: u64,
    /// Organisations the median is taken over.
    pub organizations: u64,
    /// The completeness report filtered to this organisation.
    pub report_url: String,
    /// The organisation has stays or entries among the counted plans.
    pub has_own: bool,
    /// The region's median is shown.
    pub has_median: bool,
}

/// One figure of the panel: its label (a wording key), the organisation's value and the
/// region's median, as text.
pub struct CompletenessRow {
    pub key: &'static str,
    pub label: &'static str,
    pub own: String,
    pub median: String,
}

/// One figure of the panel: key, label (a wording key), how to read it, decimals, unit.
type Figure = (
    &'static str,
    &'static str,
    fn(&renkei_service::council_home::CompletenessFigures) -> Option<f64>,
    usize,
    &'static str,
);

fn completeness_panel(
    p: &renkei_service::council_home::HomeCompletenessPanel,
) -> CompletenessPanel {
    let f = &p.figures;
    let text = |v: Option<f64>, decimals: usize, unit: &str| match v {
        Some(v) if v.is_finite() => format!("{v:.decimals$}{unit}"),
        _ => "—".to_owned(),
    };
    let figures: [Figure; 4] = [
        (
            "complete_rate",
            "病期終了時に必須項目がそろった割合",
            |x| x.complete_rate,
            1,
            "%",
        ),
        ("missing", "欠けた必須項目", |x| x.missing, 1, ""),
        (
            "late_rate",
            "遅れた記録の割合(事象から7日超)",
            |x| x.late_rate,
            1,
            "%",
        ),
        (
            "median_record_days",
            "事象から記録までの日数(中央値)",
            |x| x.median_record_days,
            1,
            "日",
        ),
    ];
    let rows = figures
        .iter()
        .map(|(key, label, get, decimals, unit)| CompletenessRow {
            key,
            label,
            // The organisation's own counts are whole numbers.
            own: text(
                f.own.as_ref().and_then(get),
                if *key == "missing" { 0 } else { *decimals },
                unit,
            ),
            median: text(f.region_median.as_ref().and_then(get), *decimals, unit),
        })
        .collect();
    let mut url = form_urlencoded::Serializer::new(String::new());
    url.append_pair("organization", &p.organization_code);
    CompletenessPanel {
        rows,
        plans: f.plans,
        organizations: f.organizations,
        report_url: format!("/council/reports/completeness?{}", url.finish()),
        has_own: f.own.is_some(),
        has_median: f.region_median.is_some(),
    }
}

/// A stage whose end this facility still owes (「終了未記録」).
pub struct UnrecordedRow {
    pub url: String,
    pub patient: String,
    pub what: String,
    pub closed: When,
}

/// NotFound/Forbidden as "not visible to us"; other errors stay errors.
pub fn visible<T>(r: Result<T, ServiceError>) -> Result<Option<T>, ServiceError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(ServiceError::NotFound(_) | ServiceError::Forbidden) => Ok(None),
        Err(e) => Err(e),
    }
}

fn category(tab: &str) -> &'static str {
    TABS.iter()
        .find(|(k, _)| *k == tab)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

fn tab_url(tab: &str, q: &WorklistQuery) -> String {
    let mut s = format!("/worklist?tab={tab}");
    if !q.pathway.is_empty() {
        s.push_str(&format!("&pathway={}", q.pathway));
    }
    if !q.due.is_empty() {
        s.push_str(&format!("&due={}", q.due));
    }
    s
}

pub async fn worklist_page(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<WorklistQuery>,
) -> UiResult {
    let services = &state.services;
    let screen = services
        .worklist_screen(&ui.actor, &ui.meta, 100, 90)
        .await?;
    let w = &screen.worklist;
    let arrived: Vec<WorkItem> = screen
        .reports_arrived
        .iter()
        .map(|r| r.item.clone())
        .collect();
    let unread_reports = screen.reports_arrived.iter().filter(|r| r.unread).count();
    let tab = if TABS.iter().any(|(k, _)| *k == q.tab) {
        q.tab.clone()
    } else {
        "all".to_owned()
    };
    let today = fmt::today_jst(w.as_of);
    let limit = match q.due.as_str() {
        "today" => Some(today),
        "week" => Some(today + Duration::days(7)),
        _ => None,
    };
    let keep = |item: &WorkItem| {
        (q.pathway.is_empty() || item.pathway == q.pathway)
            && match (limit, item.due) {
                (Some(l), Some(d)) => fmt::today_jst(d) <= l,
                _ => true,
            }
    };
    let mut tabs = Vec::new();
    let mut total = 0;
    for (key, items) in lists(w, &arrived) {
        let n = items.iter().filter(|i| keep(i)).count();
        // "All" holds the arrived reports not yet opened, the tab every one.
        total += if key == "arrived" {
            items
                .iter()
                .filter(|i| keep(i) && i.state == "unread")
                .count()
        } else {
            n
        };
        tabs.push(Tab {
            label: category(key),
            url: tab_url(key, &q),
            count: n,
            current: key == tab,
        });
    }
    tabs.insert(
        0,
        Tab {
            label: "すべて",
            url: tab_url("all", &q),
            count: total,
            current: tab == "all",
        },
    );

    // The rows of the current tab, with the patient and plan each item is about.
    let mut rows = Vec::new();
    for (key, items) in lists(w, &arrived) {
        if tab != "all" && tab != key {
            continue;
        }
        for item in items
            .iter()
            .filter(|i| keep(i) && (tab != "all" || key != "arrived" || i.state == "unread"))
        {
            rows.push(row(&state, &screen, key, item));
        }
    }
    rows.sort_by(|a, b| {
        let ka = a.due.as_ref().map(|d| d.iso.clone()).unwrap_or_default();
        let kb = b.due.as_ref().map(|d| d.iso.clone()).unwrap_or_default();
        ka.cmp(&kb)
    });

    let mut pathways = vec![Choice {
        value: String::new(),
        label: "すべての連携パス".into(),
        label_static: "すべての連携パス",
        selected: q.pathway.is_empty(),
    }];
    let mut codes: Vec<(String, String)> = services
        .pathways
        .all()
        .map(|p| (p.template.code.clone(), p.template.title.ja.clone()))
        .collect();
    codes.sort();
    codes.dedup_by(|a, b| a.0 == b.0);
    for (code, title) in codes {
        pathways.push(Choice {
            selected: q.pathway == code,
            value: code,
            label: title,
            label_static: "",
        });
    }
    let dues = [
        ("", "期限: すべて"),
        ("today", "今日まで"),
        ("week", "今週(7日以内)"),
    ]
    .iter()
    .map(|(v, l)| Choice {
        value: (*v).to_owned(),
        label: (*l).to_owned(),
        label_static: l,
        selected: q.due == *v,
    })
    .collect();
    let unrecorded = services
        .unrecorded_stage_ends(&ui.actor)
        .await?
        .into_iter()
        .map(|u| {
            let (kana, kanji) = views::names(&u.patient);
            UnrecordedRow {
                url: format!("/care-plans/{}", u.care_plan_id),
                patient: format!("{kanji}({kana})"),
                what: format!("{} {}の終了が未記録です", u.pathway_title, u.stage_title),
                closed: fmt::datetime(u.end.closed_at),
            }
        })
        .collect();
    let completeness = completeness_panel(&services.home_completeness(&ui.actor).await?);
    let page_data = WorklistPage {
        completeness,
        unrecorded,
        shell: ui.shell(format!("作業一覧({})", category(&tab)), Nav::Worklist),
        current_label: category(&tab),
        tabs,
        rows,
        pathways,
        dues,
        tab,
        as_of: fmt::datetime(w.as_of),
        notice: (!q.password_changed.is_empty()).then_some("パスワードを変更しました。"),
        totp_missing: !ui.session.totp_enabled,
        unread_reports,
        arrived_url: tab_url("arrived", &q),
        amendment_notices: super::corrections::worklist_notices(&state, &screen),
    };
    Ok(page(StatusCode::OK, &page_data))
}

fn row(state: &AppState, screen: &WorklistScreen, key: &'static str, item: &WorkItem) -> Row {
    let services = &state.services;
    let patient = screen.patient(item);
    let plan = screen.plan(item);
    let template = plan
        .and_then(|p| {
            services.pathways.find_for(
                &p.pathway.code,
                p.pathway.version,
                p.variant.as_ref().map(|v| v.code.as_str()),
            )
        })
        .or_else(|| services.pathways.latest(&item.pathway))
        .map(|p| &p.template);
    let plan_url = format!("/care-plans/{}", item.care_plan_id);
    let (what, url) = match key {
        "incoming" | "outgoing" => {
            let url = format!("/handovers/{}", item.subject);
            match screen.handover(item) {
                Some(h) if key == "incoming" => (
                    format!(
                        "{}の受入依頼({}から)",
                        fmt::stage_title(template, &h.stage),
                        h.from_organization_name
                    ),
                    url,
                ),
                Some(h) => (
                    format!(
                        "{}への紹介({}の受入)",
                        h.to_organization_name,
                        fmt::stage_title(template, &h.stage)
                    ),
                    url,
                ),
                None => ("連携".to_owned(), url),
            }
        }
        "reports_owed" => (
            "返書(診療結果の報告)を計画管理病院へ送付".to_owned(),
            format!("/reports/{}", item.subject),
        ),
        "reports_to_me" => (
            "返書の到着待ち".to_owned(),
            format!("/reports/{}", item.subject),
        ),
        "arrived" => {
            let r = screen
                .reports_arrived
                .iter()
                .find(|r| r.item.subject == item.subject);
            let from = r
                .and_then(|r| screen.organization_names.get(&r.from_organization_id))
                .cloned()
                .unwrap_or_default();
            let stage = r
                .map(|r| fmt::stage_title(template, &r.stage))
                .unwrap_or_default();
            let sent = item.due.map(|t| fmt::datetime(t).text).unwrap_or_default();
            (
                format!("返書が到着({from}、{stage}) {sent}"),
                format!("/reports/{}", item.subject),
            )
        }
        "schedule" => (
            template
                .and_then(|t| t.schedule.iter().find(|s| s.code == item.subject))
                .map(|s| s.title.ja.clone())
                .unwrap_or_else(|| item.subject.clone()),
            format!("{plan_url}#goals"),
        ),
        "goals" => (
            template
                .and_then(|t| t.goals.iter().find(|g| g.code == item.subject))
                .map(|g| format!("達成目標: {}", g.title.ja))
                .unwrap_or_else(|| item.subject.clone()),
            format!("{plan_url}#goals"),
        ),
        "consent" => (
            "同意が未取得です(パス登録から7日以内に説明・同意)".to_owned(),
            format!("{plan_url}#team"),
        ),
        _ => (
            "記録が長期間ありません(治療中断の可能性)".to_owned(),
            format!("{plan_url}#entries"),
        ),
    };
    let (badge, badge_class) = fmt::work_state(&item.state);
    let (kana, name, purl, age) = match patient {
        Some(p) => {
            let (kana, kanji) = views::names(p);
            (
                kana,
                kanji,
                Some(format!("/patients/{}", p.id)),
                Some(fmt::birth_date(p.birth_date, services.now()).age),
            )
        }
        None => (
            String::new(),
            "(受入後に表示されます)".to_owned(),
            None,
            None,
        ),
    };
    Row {
        patient_kana: kana,
        patient_name: name,
        patient_url: purl,
        age,
        plan: plan.map(|p| views::plan_chip(state, p)),
        pathway: template
            .map(|t| t.title.ja.clone())
            .unwrap_or_else(|| item.pathway.clone()),
        category: category(key),
        what,
        url,
        // An arrived report's time is when it was sent, not a deadline.
        due: item.due.filter(|_| key != "arrived").map(fmt::day_of),
        badge,
        badge_class,
    }
}
