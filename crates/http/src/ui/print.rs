//! S9 — the printable 地域連携診療計画書, patient version (A4, plain Japanese): disease,
//! the stages with their facilities and expected periods, the total treatment period,
//! goals in words, discharge criteria, the "schedule may change" hedge, contacts, the
//! explanation date and a signature line. The patient's name is on every printed page
//! (a fixed running header) and `n / N` at the foot (CSS `@page` margin boxes).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Duration;

use super::fmt::{self, When};
use super::plan::load;
use super::views::Banner;
use super::{Ui, UiResult, page, parse_uuid};
use crate::state::AppState;

pub struct PrintStage {
    pub title: String,
    pub facilities: String,
    pub period: String,
    pub dates: String,
    pub criteria: String,
}

#[derive(Template)]
#[template(path = "ui/print.html")]
pub struct PrintPage {
    pub title: String,
    pub banner: Banner,
    pub disease: String,
    pub pathway: String,
    pub planner: String,
    pub stages: Vec<PrintStage>,
    pub total: String,
    pub goals: Vec<String>,
    pub contacts: Vec<String>,
    pub explained: Option<When>,
    pub printed: When,
    pub plan_url: String,
}

pub async fn print_page(State(state): State<AppState>, ui: Ui, Path(id): Path<String>) -> UiResult {
    let id = parse_uuid(&id)?;
    let d = load(&state, &ui, id).await?;
    let t = &d.template;
    let now = state.services.now();
    let cols = d.columns(now);
    let mut stages = Vec::new();
    let mut expected_total = 0u32;
    let mut max_total = 0u32;
    let mut open_ended = false;
    for (s, c) in t.stages.iter().zip(cols.iter()) {
        match (s.expected_days, s.max_days) {
            (Some(e), m) => {
                expected_total += e;
                max_total += m.unwrap_or(e);
            }
            (None, Some(m)) => max_total += m,
            (None, None) => open_ended = true,
        }
        let period = match (s.expected_days, s.max_days) {
            (Some(e), Some(m)) => format!("およそ{e}日(長くても{m}日まで)"),
            (Some(e), None) => format!("およそ{e}日"),
            (None, Some(m)) => format!("長くても{m}日まで"),
            (None, None) => "期間の定めはありません(通院・在宅で継続)".to_owned(),
        };
        let dates = match (&c.actual_start, &c.actual_end, &c.planned_start) {
            (Some(a), Some(b), _) => format!("{}〜{}", a.text, b.text),
            (Some(a), None, _) => format!("{}から", a.text),
            (None, _, Some(p)) => format!("{}ごろから(予定)", p.text),
            _ => "未定".to_owned(),
        };
        stages.push(PrintStage {
            title: s.title.ja.clone(),
            facilities: if c.facilities.is_empty() {
                "決まりしだいお知らせします".to_owned()
            } else {
                c.facilities.join("、")
            },
            period,
            dates,
            criteria: s
                .exit_criteria
                .clone()
                .unwrap_or_default()
                .replace("転院基準: ", "")
                .replace("退院基準: ", ""),
        });
    }
    let total = if expected_total + max_total == 0 {
        "長期にわたり、かかりつけ医と専門医療機関で継続して診療します。".to_owned()
    } else {
        let end = d.plan.started_at + Duration::days(max_total.into());
        format!(
            "入院からおよそ{expected_total}日〜{max_total}日(退院の目安 {}ごろまで){}",
            fmt::day_of(end).text,
            if open_ended {
                "。その後は、かかりつけ医のもとで療養を続けます"
            } else {
                ""
            }
        )
    };
    let contacts = d
        .team
        .iter()
        .map(|m| {
            format!(
                "{}({}) 地域連携室",
                m.organization_name,
                fmt::team_role(&m.role)
            )
        })
        .collect();
    let explained = d
        .consents
        .iter()
        .filter(|c| c.active)
        .max_by_key(|c| c.obtained_at)
        .map(|c| fmt::day_of(c.obtained_at));
    let disease = t
        .title
        .ja
        .trim_end_matches("地域連携パス")
        .trim_end_matches("連携パス")
        .to_owned();
    Ok(page(
        StatusCode::OK,
        &PrintPage {
            title: format!("地域連携診療計画書 — {}", d.banner.kanji),
            disease,
            pathway: format!("{}(第{}版)", t.title.ja, t.version),
            planner: d.org(&d.plan.planner_organization),
            stages,
            total,
            goals: d.goals.iter().map(|g| g.title.ja.clone()).collect(),
            contacts,
            explained,
            printed: fmt::day_of(now),
            plan_url: format!("/care-plans/{id}"),
            banner: d.banner,
        },
    ))
}
