//! S9 — the printable 地域連携診療計画書 (A4), in two versions.
//!
//! Patient version (`/care-plans/{id}/print`, plain Japanese): disease, the stages with
//! their facilities and expected periods (転院までの期間), the total treatment period,
//! goals in words, discharge criteria, the "schedule may change" hedge, contacts, the
//! explanation date and a signature line.
//!
//! Staff version (`?version=staff`): the full overview matrix with criteria, goals with
//! their latest values, the trend tables (FIM, Barthel, HbA1c … as numbers), variances,
//! and the entries per profession with author and 確定日時.
//!
//! Both carry the patient's name on every printed page and `n / N` at the foot: CSS
//! `@page` margin boxes, the name's from a small per-plan stylesheet
//! (`/care-plans/{id}/print.css`; the CSP allows no inline style). Table headers repeat
//! on each page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Duration;

use renkei_domain::template::ItemType;
use serde::Deserialize;

use super::fmt::{self, When};
use super::plan::{
    GoalRow, PlanData, StageCol, VarianceRow, card, goal_rows, load_print, variance_rows,
};
use super::views::Banner;
use super::{Nav, Shell, Ui, UiResult, page, parse_uuid};
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
    /// 標準的な転院までの期間: the first stage's expected length.
    pub to_transfer: String,
    pub goals: Vec<String>,
    pub contacts: Vec<String>,
    /// The clinical type in words, when the referral names one (脳出血, ラクナ梗塞 …).
    pub clinical_type: Option<String>,
    /// The patient has gone home: no projected discharge date is printed.
    pub gone_home: bool,
    pub explained: Option<When>,
    pub printed: When,
    pub plan_url: String,
    /// The screen words around the document (the skip link and the navigation bar, not
    /// printed) in the shell language; the document itself stays Japanese.
    pub shell: Shell,
}

#[derive(Debug, Default, Deserialize)]
pub struct PrintQuery {
    /// `staff` for the staff version; otherwise the patient version.
    #[serde(default)]
    version: String,
    /// A shared form or handbook code (`chiba_a`, `diabetes_handbook`): its title heads
    /// the printed pages instead of the plan's.
    #[serde(default)]
    doc: String,
}

pub async fn print_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<PrintQuery>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let d = load_print(&state, &ui, id).await?;
    if q.version == "staff" {
        let shell = ui.shell(String::new(), Nav::None);
        return Ok(staff_page(&state, d, id, shell));
    }
    // The diagnosis: the latest referral's, else what the plan says (the pathway's).
    let referral = d
        .handovers
        .iter()
        .rev()
        .map(|h| h.summary["referral"].clone())
        .find(|r| r.get("diagnosis").is_some());
    let referral = match referral {
        Some(r) => r,
        None => serde_json::to_value(
            state
                .services
                .referral_prefill(&ui.actor, &ui.meta, id)
                .await?,
        )
        .unwrap_or_default(),
    };
    let gone_home = gone_home(&d);
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
    let total = if gone_home {
        "退院されました。今後は、かかりつけ医のもとで療養を続けます。".to_owned()
    } else if expected_total + max_total == 0 {
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
    let to_transfer = match (t.stages.first(), t.stages.get(1)) {
        (Some(first), Some(next)) => {
            let days = match (first.expected_days, first.max_days) {
                (Some(e), Some(m)) => format!("およそ{e}日(長くても{m}日まで)"),
                (Some(e), None) => format!("およそ{e}日"),
                (None, Some(m)) => format!("長くても{m}日まで"),
                (None, None) => "状態により決めます".to_owned(),
            };
            format!(
                "{}の期間は{days}です。その後、{}の医療機関へ移ります。",
                first.title.ja, next.title.ja
            )
        }
        _ => "転院の予定はありません。".to_owned(),
    };
    let contacts = d
        .team
        .iter()
        .map(|m| {
            format!(
                "{}({}) 地域連携室{}",
                m.organization_name,
                fmt::team_role(m.role),
                m.phone
                    .as_deref()
                    .map(|p| format!(" 電話 {p}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let explained = d
        .consents
        .iter()
        .filter(|c| c.active)
        .max_by_key(|c| c.obtained_at)
        .map(|c| fmt::day_of(c.obtained_at));
    let words =
        renkei_domain::handover::referral_lines(&referral, renkei_domain::wording::Lang::Ja);
    let word = |label: &str| {
        words
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, v)| v.clone())
    };
    let disease = word("診断名").unwrap_or_else(|| {
        t.title
            .ja
            .trim_end_matches("(循環型)")
            .trim_end_matches("地域連携パス")
            .trim_end_matches("連携パス")
            .to_owned()
    });
    let clinical_type = word("病型").filter(|c| *c != disease);
    // Each goal in the patient's words (the template's), else its title.
    let goals = d
        .goals
        .iter()
        .map(|g| {
            t.goals
                .iter()
                .find(|x| x.code == g.code)
                .and_then(|x| x.patient_title.as_ref())
                .map(|p| p.ja.clone())
                .unwrap_or_else(|| g.title.ja.clone())
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &PrintPage {
            shell: ui.shell(String::new(), Nav::None),
            title: format!("地域連携診療計画書 — {}", d.banner.kanji),
            disease,
            pathway: fmt::pathway_label(&d.plan),
            planner: d.org(&d.plan.planner_organization),
            stages,
            total,
            to_transfer,
            goals,
            contacts,
            clinical_type,
            gone_home,
            explained,
            printed: fmt::day_of(now),
            plan_url: format!("/care-plans/{id}"),
            banner: d.banner,
        },
    ))
}

/// Whether the patient has gone home: discharged home at a stage end (`destination` =
/// `home`), or the plan has reached a last, open-ended stage (生活期 / かかりつけ) or is
/// completed.
fn gone_home(d: &PlanData) -> bool {
    let t = &d.template;
    let discharged_home = d.effective().any(|e| {
        e.kind == "stage_end"
            && e.values.get("destination").and_then(|v| v.as_str()) == Some("home")
    });
    let in_open_last_stage = !t.cyclical
        && t.stages.len() > 1
        && t.stages.last().is_some_and(|s| {
            s.code == d.plan.current_stage
                && s.expected_days.is_none()
                && s.max_days.is_none()
                && d.stage_dates(&s.code).0.is_some()
        });
    discharged_home || in_open_last_stage || d.status == renkei_domain::entry::PlanStatus::Completed
}

/// Longest note printed whole on the staff copy (about a page of A4 at 9.5 pt in the
/// summary table's content column); a longer one is cut and says where the rest is.
pub const PRINT_NOTE_MAX_CHARS: usize = 1200;

/// A note as the staff copy prints it: whole, or cut at [`PRINT_NOTE_MAX_CHARS`] with
/// 「…(続きは画面で・全N文字)」.
pub fn print_note(note: &str) -> String {
    let n = note.chars().count();
    if n <= PRINT_NOTE_MAX_CHARS {
        return note.to_owned();
    }
    let head: String = note.chars().take(PRINT_NOTE_MAX_CHARS).collect();
    format!("{head}…(続きは画面で・全{n}文字)")
}

// ------------------------------------------------------------------ staff version

/// One row of a trend table: date, stage, value, facility.
pub struct TrendRow {
    pub when: When,
    pub stage: String,
    pub value: String,
    pub facility: String,
}

/// The numbers behind a trend (FIM, Barthel, HbA1c …).
pub struct TrendTable {
    pub title: String,
    pub rows: Vec<TrendRow>,
}

/// One entry in the per-profession summary.
pub struct SummaryRow {
    pub seq: i64,
    pub effective: When,
    pub stage: String,
    pub kind: &'static str,
    pub content: String,
    pub author: String,
    pub confirmed: When,
}

/// The entries of one profession.
pub struct ProfessionBlock {
    pub profession: &'static str,
    pub rows: Vec<SummaryRow>,
}

#[derive(Template)]
#[template(path = "ui/print_staff.html")]
pub struct StaffPrintPage {
    pub title: String,
    pub banner: Banner,
    pub pathway: String,
    pub planner: String,
    pub status: &'static str,
    pub stages: Vec<StageCol>,
    pub goals: Vec<GoalRow>,
    pub trends: Vec<TrendTable>,
    pub variances: Vec<VarianceRow>,
    pub professions: Vec<ProfessionBlock>,
    pub printed: When,
    pub plan_url: String,
    /// The screen words around the document (the skip link and the navigation bar, not
    /// printed) in the shell language; the document itself stays Japanese.
    pub shell: Shell,
}

fn staff_page(
    state: &AppState,
    d: PlanData,
    id: uuid::Uuid,
    shell: Shell,
) -> axum::response::Response {
    let t = &d.template;
    let now = state.services.now();
    let plan_url = format!("/care-plans/{id}");
    // Trend tables: the composite scores (FIM, Barthel …) and every numeric item a goal
    // is judged on (HbA1c, blood pressure …), in template order, when recorded.
    let goal_items: Vec<&str> = d.goals.iter().filter_map(|g| g.item.as_deref()).collect();
    let mut trends = Vec::new();
    for item in &t.items {
        let numeric = matches!(
            item.item_type,
            ItemType::Integer | ItemType::Decimal | ItemType::Composite
        );
        if !numeric
            || !(item.item_type == ItemType::Composite || goal_items.contains(&item.code.as_str()))
        {
            continue;
        }
        let mut rows: Vec<(chrono::DateTime<chrono::Utc>, TrendRow)> = d
            .effective()
            .filter_map(|e| {
                let v = e.values.get(&item.code)?;
                Some((
                    e.effective_at,
                    TrendRow {
                        when: fmt::day_of(e.effective_at),
                        stage: fmt::stage_title(Some(t), &e.stage),
                        value: fmt::value_text(Some(t), &item.code, v),
                        facility: e.organization.name.clone(),
                    },
                ))
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        rows.sort_by_key(|r| r.0);
        trends.push(TrendTable {
            title: item.title.ja.clone(),
            rows: rows.into_iter().map(|r| r.1).collect(),
        });
    }
    // Entries per profession, oldest first.
    let mut profs: Vec<String> = d.effective().map(|e| e.author.profession.clone()).collect();
    profs.sort();
    profs.dedup();
    let professions = profs
        .iter()
        .map(|p| ProfessionBlock {
            profession: fmt::profession(p),
            rows: d
                .effective()
                .filter(|e| &e.author.profession == p)
                .map(|e| {
                    let c = card(&d, e, "", &plan_url);
                    let mut content: Vec<String> = c
                        .main
                        .iter()
                        .map(|l| format!("{}: {}", l.label, l.value))
                        .collect();
                    if let Some(n) = &c.note {
                        content.push(print_note(n));
                    }
                    if let Some(v) = &c.variance {
                        content.push(format!("バリアンス: {v}"));
                    }
                    SummaryRow {
                        seq: c.seq,
                        effective: fmt::day_of(e.effective_at),
                        stage: c.stage,
                        kind: c.kind,
                        content: content.join(" / "),
                        author: format!("{}({})・{}", c.author, c.profession, c.facility),
                        confirmed: c.recorded,
                    }
                })
                .collect(),
        })
        .collect();
    page(
        StatusCode::OK,
        &StaffPrintPage {
            shell,
            title: format!("地域連携診療計画書(医療者用) — {}", d.banner.kanji),
            pathway: fmt::pathway_label(&d.plan),
            planner: d.org(&d.plan.planner_organization),
            status: fmt::plan_status(d.status),
            stages: d.columns(now),
            goals: goal_rows(&d, &plan_url),
            trends,
            variances: variance_rows(&d),
            professions,
            printed: fmt::datetime(now),
            plan_url,
            banner: d.banner,
        },
    )
}

// ------------------------------------------------------------------ running header

/// A CSS string literal.
fn css_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `GET /care-plans/{id}/print.css?version=…` — the running header of the printed plan
/// (patient name, birth date and ID, document title) in the top margin of every page.
pub async fn print_css(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<PrintQuery>,
) -> Result<axum::response::Response, super::UiError> {
    use axum::response::IntoResponse;
    let id = parse_uuid(&id)?;
    let plan = state.services.get_plan(&ui.actor, &ui.meta, id).await?;
    let (_, _, b) = super::views::load_banner(&state, &ui, plan.patient_id).await?;
    let forms = renkei_domain::care_forms::shipped();
    let shared = forms.form(&q.doc).map(|f| f.title.as_str()).or_else(|| {
        forms
            .handbooks
            .iter()
            .find(|h| h.code == q.doc)
            .map(|h| h.title.as_str())
    });
    let title = match shared {
        Some(t) => t,
        None if q.version == "staff" => "地域連携診療計画書(医療者用)",
        None => "地域連携診療計画書",
    };
    let header = format!(
        "{}({})様 ・ 生年月日 {} ・ ID {} ・ {title}",
        b.kanji,
        b.kana,
        b.birth.text,
        b.own_id.clone().unwrap_or_else(|| b.regional_id.clone())
    );
    let css = format!(
        "@page {{ @top-left {{ content: {}; font-size: 9pt; vertical-align: bottom; }} }}\n",
        css_string(&header)
    );
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8")],
        css,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::css_string;

    #[test]
    fn a_note_over_a_page_is_cut_and_says_its_length() {
        use super::{PRINT_NOTE_MAX_CHARS, print_note};
        assert_eq!(print_note("短い記録"), "短い記録");
        let whole = "あ".repeat(PRINT_NOTE_MAX_CHARS);
        assert_eq!(print_note(&whole), whole);
        let long = "い".repeat(PRINT_NOTE_MAX_CHARS + 1);
        let cut = print_note(&long);
        assert!(cut.ends_with(&format!(
            "…(続きは画面で・全{}文字)",
            PRINT_NOTE_MAX_CHARS + 1
        )));
        assert_eq!(
            cut.chars().filter(|c| *c == 'い').count(),
            PRINT_NOTE_MAX_CHARS
        );
    }

    #[test]
    fn header_text_is_a_safe_css_string() {
        assert_eq!(css_string("山田 太郎"), "\"山田 太郎\"");
        assert_eq!(css_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(css_string("a\nb"), "\"a b\"");
    }
}
