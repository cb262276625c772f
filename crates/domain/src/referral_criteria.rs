//! The 紹介基準 of a cyclical diabetes plan: when the family physician refers the patient to
//! the specialist centre, judged from the record.
//!
//! Sources (shared domain notes §9.3 "Unscheduled referral triggers", in line with
//! [S39] 国立循環器病研究センター 糖尿病連携パス, http://www.ncvc.go.jp/hospital/pro/passing/diabetes.html;
//! the periodic review every 6 or 12 months from [S38] 熊本県医師会 DM熊友パス,
//! http://www.kumamoto.med.or.jp/cts15_tounyou/dmyouyou/d_youyou_1.html), as the diabetes
//! template's `clinic` stage states them in its `exit_criteria`:
//! - HbA1c ≥ 8.0 % sustained for about 3 months: every HbA1c value of the last 3 calendar
//!   months is ≥ 8.0 % and there are at least two of them;
//! - the periodic specialist review is overdue (the template's `specialist_review` schedule).

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::Serialize;

use crate::calendar::tokyo_date;
use crate::facts::EntryFacts;
use crate::schedule::{ScheduleState, ScheduleStatus};

/// HbA1c (NGSP) at or above which poor control counts towards a referral (domain notes §9.3, [S39]).
pub const HBA1C_REFERRAL_PERCENT: f64 = 8.0;
/// "About 3 months" (domain notes §9.3): the window, in calendar months.
pub const HBA1C_WINDOW_MONTHS: u32 = 3;
/// At least this many values in the window make the elevation "sustained".
pub const HBA1C_MIN_VALUES: usize = 2;
/// The item holding HbA1c and the schedule rule of the periodic specialist review.
pub const HBA1C_ITEM: &str = "hba1c";
pub const SPECIALIST_REVIEW_RULE: &str = "specialist_review";

/// One criterion and whether the record meets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    pub code: &'static str,
    pub met: bool,
    /// What the judgement rests on (Japanese, for the screen).
    pub basis: String,
}

/// The HbA1c values of the window and the judgement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferralCriteria {
    pub hba1c_sustained: Criterion,
    pub review_overdue: Criterion,
}

impl ReferralCriteria {
    /// Any criterion is met: the patient should be referred.
    pub fn any_met(&self) -> bool {
        self.hba1c_sustained.met || self.review_overdue.met
    }
}

/// Judges the 紹介基準 at `as_of` on `view` (the entries that count, from
/// `corrections::current_view`) and the evaluated schedule.
pub fn evaluate_referral_criteria(
    view: &[&EntryFacts],
    schedule: &[ScheduleStatus],
    as_of: DateTime<Utc>,
) -> ReferralCriteria {
    let today = tokyo_date(as_of);
    let from: NaiveDate = today
        .checked_sub_months(Months::new(HBA1C_WINDOW_MONTHS))
        .unwrap_or(today);
    let values: Vec<f64> = view
        .iter()
        .filter(|e| e.effective_at <= as_of && tokyo_date(e.effective_at) >= from)
        .filter_map(|e| e.values.get(HBA1C_ITEM).and_then(|v| v.as_f64()))
        .collect();
    let all_high = values.iter().all(|v| *v >= HBA1C_REFERRAL_PERCENT);
    let met = values.len() >= HBA1C_MIN_VALUES && all_high;
    let basis = if values.is_empty() {
        format!("{from}以降のHbA1cの記録なし")
    } else {
        let list: Vec<String> = values.iter().map(|v| format!("{v:.1}%")).collect();
        format!("{from}以降のHbA1c {}件: {}", values.len(), list.join("、"))
    };
    let hba1c_sustained = Criterion {
        code: "hba1c_sustained",
        met,
        basis,
    };
    let review = schedule.iter().find(|s| s.code == SPECIALIST_REVIEW_RULE);
    let review_overdue = Criterion {
        code: "review_overdue",
        met: review.is_some_and(|s| s.state == ScheduleState::Overdue),
        basis: match review {
            Some(s) => format!("専門医療機関定期評価の期日 {}", s.due_date),
            None => "専門医療機関定期評価の予定なし".to_owned(),
        },
    };
    ReferralCriteria {
        hba1c_sustained,
        review_overdue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EntryKind;
    use crate::schedule::IntervalSource;
    use crate::template::ProviderKind;
    use chrono::TimeZone;
    use serde_json::{Map, json};
    use uuid::Uuid;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 3, 0, 0).unwrap()
    }

    fn hba1c(when: DateTime<Utc>, v: f64) -> EntryFacts {
        let mut values = Map::new();
        values.insert("hba1c".into(), json!(v));
        EntryFacts {
            id: Uuid::nil(),
            seq: 0,
            stage: "clinic".into(),
            kind: EntryKind::Assessment,
            effective_at: when,
            recorded_at: when,
            values,
            amends: None,
        }
    }

    fn review(state: ScheduleState) -> ScheduleStatus {
        ScheduleStatus {
            code: SPECIALIST_REVIEW_RULE.into(),
            title_ja: "専門医療機関定期評価".into(),
            title_en: "Specialist review".into(),
            owner: ProviderKind::Specialist,
            interval_days: 180,
            individualised: false,
            interval_source: IntervalSource::Template,
            grace_days: 0,
            last_done: None,
            last_entry_id: None,
            due_date: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
            due: at(2026, 6, 1),
            state,
        }
    }

    fn judge(entries: &[EntryFacts], now: DateTime<Utc>) -> ReferralCriteria {
        let view: Vec<&EntryFacts> = entries.iter().collect();
        evaluate_referral_criteria(&view, &[review(ScheduleState::Scheduled)], now)
    }

    #[test]
    fn two_values_at_or_above_8_within_three_months_meet_the_hba1c_criterion() {
        let e = [hba1c(at(2026, 4, 10), 8.0), hba1c(at(2026, 6, 10), 8.4)];
        assert!(judge(&e, at(2026, 6, 20)).hba1c_sustained.met);
    }

    #[test]
    fn a_single_high_value_does_not_meet_the_hba1c_criterion() {
        let e = [hba1c(at(2026, 6, 10), 9.1)];
        assert!(!judge(&e, at(2026, 6, 20)).hba1c_sustained.met);
    }

    #[test]
    fn one_value_below_8_in_the_window_breaks_the_hba1c_criterion() {
        let e = [
            hba1c(at(2026, 4, 10), 8.5),
            hba1c(at(2026, 5, 10), 7.9),
            hba1c(at(2026, 6, 10), 8.6),
        ];
        assert!(!judge(&e, at(2026, 6, 20)).hba1c_sustained.met);
    }

    #[test]
    fn values_older_than_three_months_do_not_count() {
        let e = [
            hba1c(at(2026, 2, 10), 7.0),
            hba1c(at(2026, 3, 25), 8.2),
            hba1c(at(2026, 6, 10), 8.6),
        ];
        let c = judge(&e, at(2026, 6, 20));
        assert!(c.hba1c_sustained.met, "{:?}", c.hba1c_sustained);
        let c = judge(&e[..2], at(2026, 6, 20));
        assert!(!c.hba1c_sustained.met, "only one value in the window");
    }

    #[test]
    fn an_overdue_specialist_review_is_a_criterion_and_a_scheduled_one_is_not() {
        let none: Vec<&EntryFacts> = Vec::new();
        let overdue =
            evaluate_referral_criteria(&none, &[review(ScheduleState::Overdue)], at(2026, 7, 1));
        assert!(overdue.review_overdue.met && overdue.any_met());
        let due = evaluate_referral_criteria(&none, &[review(ScheduleState::Due)], at(2026, 7, 1));
        assert!(!due.review_overdue.met && !due.any_met());
        let no_rule = evaluate_referral_criteria(&none, &[], at(2026, 7, 1));
        assert!(!no_rule.review_overdue.met);
    }
}
