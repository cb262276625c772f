//! The plan page's view of a cyclical (diabetes) plan: the next visits and tests, the cycle
//! かかりつけ医 ⇄ 専門医療機関 with the organisations and dates, goals under the stage that owns
//! them and the 紹介基準 judged from the record.

use renkei_domain::referral_criteria::ReferralCriteria;
use renkei_domain::schedule::{ScheduleState, ScheduleStatus};
use renkei_domain::template::{PathwayTemplate, ProviderKind};

use super::fmt::{self, When};
use renkei_service::screens::TeamRow;

use super::goal_row::GoalRow;

/// One scheduled visit or test.
pub struct VisitRow {
    pub title: String,
    pub owner: &'static str,
    pub due: When,
    pub last: Option<When>,
    pub state: &'static str,
    pub symbol: &'static str,
    pub class: &'static str,
}

/// One side of the cycle.
pub struct CycleSide {
    pub role: &'static str,
    pub name: String,
    pub last: Option<When>,
    pub next: Option<When>,
    pub overdue: bool,
}

/// The goals owned by one stage (or the whole plan).
pub struct GoalGroup {
    pub title: String,
    pub rows: Vec<GoalRow>,
}

/// One 紹介基準 and its judgement.
pub struct CriterionRow {
    pub label: &'static str,
    pub met: bool,
    pub basis: String,
}

pub struct CycleView {
    pub visits: Vec<VisitRow>,
    pub clinic: CycleSide,
    pub specialist: CycleSide,
    pub goal_groups: Vec<GoalGroup>,
    pub criteria: Vec<CriterionRow>,
    pub referral_met: bool,
}

/// The Japanese name of a provider kind.
pub fn provider_kind_ja(k: ProviderKind) -> &'static str {
    match k {
        ProviderKind::AcuteHosp => "急性期病院",
        ProviderKind::RecoveryHosp => "回復期リハビリテーション病院",
        ProviderKind::Clinic => "かかりつけ医",
        ProviderKind::Specialist => "専門医療機関",
        ProviderKind::VisitNurse => "訪問看護",
        ProviderKind::CareManager => "ケアマネジャー",
        ProviderKind::CareFacility => "介護施設",
        ProviderKind::Dentist => "歯科",
        ProviderKind::Ophthal => "眼科",
        ProviderKind::Pharmacy => "薬局",
    }
}

pub(crate) fn state_words(s: ScheduleState) -> (&'static str, &'static str, &'static str) {
    match s {
        ScheduleState::Overdue => ("期限超過", "!", "bad"),
        ScheduleState::Due => ("受診・検査の時期", "●", "wait"),
        ScheduleState::Scheduled => ("予定", "○", "muted"),
        ScheduleState::NotApplicable => ("対象外", "–", "muted"),
    }
}

fn side(
    t: &PathwayTemplate,
    team: &[TeamRow],
    kind: ProviderKind,
    role: &'static str,
    schedule: &[ScheduleStatus],
) -> CycleSide {
    let stages: Vec<&str> = t
        .stages
        .iter()
        .filter(|s| s.provider_kinds.first() == Some(&kind))
        .map(|s| s.code.as_str())
        .collect();
    let mut names: Vec<String> = team
        .iter()
        .filter(|m| m.stages.iter().any(|s| stages.contains(&s.as_str())))
        .map(|m| m.organization_name.clone())
        .collect();
    names.dedup();
    // The side's routine visit: its most frequent rule (the monthly clinic visit, not the
    // 6-monthly lab panel).
    let rule = schedule
        .iter()
        .filter(|s| s.owner == kind)
        .min_by_key(|s| s.interval_days);
    CycleSide {
        role,
        name: if names.is_empty() {
            "未定".to_owned()
        } else {
            names.join("・")
        },
        last: rule.and_then(|r| r.last_done).map(fmt::day_of),
        next: rule.map(|r| fmt::date(r.due_date)),
        overdue: rule.is_some_and(|r| r.state == ScheduleState::Overdue),
    }
}

/// The scheduled visits and tests that apply, in words (a cyclical plan's, or the
/// follow-up schedule of a plan whose pathway is not cyclical).
pub fn visit_rows(schedule: &[ScheduleStatus]) -> Vec<VisitRow> {
    schedule
        .iter()
        .filter(|s| s.state != ScheduleState::NotApplicable)
        .map(|s| {
            let (state, symbol, class) = state_words(s.state);
            VisitRow {
                title: s.title_ja.clone(),
                owner: provider_kind_ja(s.owner),
                due: fmt::date(s.due_date),
                last: s.last_done.map(fmt::day_of),
                state,
                symbol,
                class,
            }
        })
        .collect()
}

/// The cyclical view of a plan; `None` for a plan whose pathway is not cyclical.
pub fn cycle_view(
    t: &PathwayTemplate,
    team: &[TeamRow],
    schedule: &[ScheduleStatus],
    referral: Option<&ReferralCriteria>,
    goals: Vec<GoalRow>,
) -> Option<CycleView> {
    if !t.cyclical {
        return None;
    }
    let visits = visit_rows(schedule);
    let mut goal_groups: Vec<GoalGroup> = t
        .stages
        .iter()
        .map(|s| GoalGroup {
            title: s.title.ja.clone(),
            rows: Vec::new(),
        })
        .collect();
    let mut whole = GoalGroup {
        title: "全体".to_owned(),
        rows: Vec::new(),
    };
    for row in goals {
        let owner = t
            .goals
            .iter()
            .find(|g| g.code == row.code)
            .and_then(|g| g.owner_stage());
        match owner.and_then(|o| t.stages.iter().position(|s| s.code == o)) {
            Some(i) => goal_groups[i].rows.push(row),
            None => whole.rows.push(row),
        }
    }
    goal_groups.push(whole);
    goal_groups.retain(|g| !g.rows.is_empty());
    let (criteria, referral_met) = match referral {
        Some(r) => (
            vec![
                CriterionRow {
                    label: "HbA1c 8.0%以上が約3か月持続",
                    met: r.hba1c_sustained.met,
                    basis: r.hba1c_sustained.basis.clone(),
                },
                CriterionRow {
                    label: "専門医療機関の定期評価の期限超過",
                    met: r.review_overdue.met,
                    basis: r.review_overdue.basis.clone(),
                },
            ],
            r.any_met(),
        ),
        None => (Vec::new(), false),
    };
    Some(CycleView {
        visits,
        clinic: side(t, team, ProviderKind::Clinic, "かかりつけ医", schedule),
        specialist: side(t, team, ProviderKind::Specialist, "専門医療機関", schedule),
        goal_groups,
        criteria,
        referral_met,
    })
}
