//! Japan calendar arithmetic (Asia/Tokyo, a fixed +09:00 without daylight saving).
//!
//! The reimbursement rules and the pathways count calendar days in Japan, not elapsed
//! hours: a stay counts the admission day as day 1 (入院日を1日目), post-operative days
//! count the day of surgery as day 0 (術後日数), and an interval of months is added to the
//! Tokyo date. A due date is a Tokyo date; something is overdue once the Tokyo date of the
//! moment judged is after its due date (plus any grace days).

use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveTime, Utc};

/// Seconds east of UTC of Japan Standard Time.
const JST_SECONDS: i32 = 9 * 3600;

/// The Asia/Tokyo offset (+09:00).
pub const TOKYO: FixedOffset = match FixedOffset::east_opt(JST_SECONDS) {
    Some(offset) => offset,
    None => panic!("+09:00 is a valid offset"),
};

/// The calendar date in Tokyo of a moment.
pub fn tokyo_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&TOKYO).date_naive()
}

/// 00:00 Asia/Tokyo of `date`, as a moment.
pub fn tokyo_midnight(date: NaiveDate) -> DateTime<Utc> {
    let local = date.and_time(NaiveTime::MIN);
    local.and_utc() - chrono::Duration::seconds(JST_SECONDS.into())
}

/// The last instant of the Tokyo day `date` (23:59:59.999999999 JST).
pub fn tokyo_end_of_day(date: NaiveDate) -> DateTime<Utc> {
    match date.succ_opt() {
        Some(next) => tokyo_midnight(next) - chrono::Duration::nanoseconds(1),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

/// `date` plus `months` calendar months, clamped to the end of a shorter month
/// (01-31 + 1 month = 02-28 or 02-29). `None` beyond the calendar's range.
pub fn add_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// `date` minus `months` calendar months, clamped to the end of a shorter month.
pub fn sub_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_sub_months(Months::new(months))
}

/// `date` plus `months` months and then `days` days.
pub fn add_months_days(date: NaiveDate, months: u32, days: u32) -> Option<NaiveDate> {
    add_months(date, months)?.checked_add_days(Days::new(days.into()))
}

/// `date` minus `days` days and then `months` months (the inverse of `add_months_days`
/// where no month end was clamped).
pub fn sub_months_days(date: NaiveDate, months: u32, days: u32) -> Option<NaiveDate> {
    sub_months(date.checked_sub_days(Days::new(days.into()))?, months)
}

/// The due date `months` months and `days` days after the Tokyo date of `from`.
pub fn due_date(from: DateTime<Utc>, months: u32, days: u32) -> Option<NaiveDate> {
    add_months_days(tokyo_date(from), months, days)
}

/// Length of a stay in days, the day of admission being day 1 (入院日を1日目):
/// Tokyo date of `end` − Tokyo date of `start` + 1.
pub fn stay_days(start: DateTime<Utc>, end: DateTime<Utc>) -> i64 {
    (tokyo_date(end) - tokyo_date(start)).num_days() + 1
}

/// Calendar days from `from` to `to` in Tokyo, the day of `from` being day 0 (術後日数:
/// the day of surgery is post-operative day 0).
pub fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (tokyo_date(to) - tokyo_date(from)).num_days()
}

/// Whether something due on `due` (plus `grace_days`) is overdue at the moment `judged`:
/// the Tokyo date of `judged` is after the last allowed date.
pub fn is_overdue(judged: DateTime<Utc>, due: NaiveDate, grace_days: u32) -> bool {
    let last = due
        .checked_add_days(Days::new(grace_days.into()))
        .unwrap_or(NaiveDate::MAX);
    tokyo_date(judged) > last
}

/// Age in whole years on `on` of a person born on `birth` (the birthday counts; a person
/// born on 29 February turns a year older on 1 March in common years). `None` before birth.
pub fn age_years(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    if on < birth {
        return None;
    }
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn jst(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_uacr_measured_in_the_tokyo_morning_is_due_on_the_same_day_six_months_later() {
        // 2026-12-01 08:00 JST is 2026-11-30 23:00 UTC.
        let measured = jst("2026-12-01T08:00:00+09:00");
        assert_eq!(due_date(measured, 6, 0), Some(date(2027, 6, 1)));
    }

    #[test]
    fn a_recovery_stay_counts_the_admission_day_as_day_one() {
        let start = jst("2027-01-01T15:00:00+09:00");
        let end = jst("2027-05-31T10:00:00+09:00");
        assert_eq!(stay_days(start, end), 151);
        assert_eq!(stay_days(start, start), 1);
    }

    #[test]
    fn the_day_of_surgery_is_post_operative_day_zero() {
        let surgery = jst("2027-03-01T23:30:00+09:00");
        assert_eq!(days_between(surgery, jst("2027-03-02T00:10:00+09:00")), 1);
        assert_eq!(days_between(surgery, jst("2027-03-01T23:59:00+09:00")), 0);
        assert_eq!(days_between(surgery, jst("2027-03-04T08:00:00+09:00")), 3);
    }

    #[test]
    fn months_are_clamped_to_the_end_of_a_shorter_month() {
        assert_eq!(add_months(date(2027, 1, 31), 1), Some(date(2027, 2, 28)));
        assert_eq!(add_months(date(2028, 1, 31), 1), Some(date(2028, 2, 29)));
        assert_eq!(sub_months(date(2027, 3, 31), 1), Some(date(2027, 2, 28)));
    }

    #[test]
    fn overdue_is_decided_by_the_tokyo_date() {
        let due = date(2027, 6, 1);
        assert!(!is_overdue(jst("2027-06-01T23:59:00+09:00"), due, 0));
        assert!(is_overdue(jst("2027-06-02T00:00:00+09:00"), due, 0));
        assert!(!is_overdue(jst("2027-06-08T12:00:00+09:00"), due, 7));
        assert!(is_overdue(jst("2027-06-09T00:00:00+09:00"), due, 7));
    }

    #[test]
    fn age_counts_whole_years_from_the_birthday() {
        assert_eq!(age_years(date(1950, 4, 2), date(2025, 4, 1)), Some(74));
        assert_eq!(age_years(date(1950, 4, 2), date(2025, 4, 2)), Some(75));
        assert_eq!(age_years(date(1952, 2, 29), date(2027, 2, 28)), Some(74));
        assert_eq!(age_years(date(1952, 2, 29), date(2027, 3, 1)), Some(75));
        assert_eq!(age_years(date(2030, 1, 1), date(2027, 3, 1)), None);
    }

    #[test]
    fn tokyo_midnight_and_end_of_day_bound_the_tokyo_date() {
        let d = date(2027, 6, 1);
        assert_eq!(tokyo_midnight(d), jst("2027-06-01T00:00:00+09:00"));
        assert_eq!(tokyo_date(tokyo_midnight(d)), d);
        assert_eq!(tokyo_date(tokyo_end_of_day(d)), d);
        assert_eq!(
            tokyo_date(tokyo_end_of_day(d) + Duration::nanoseconds(1)),
            date(2027, 6, 2)
        );
    }

    fn moment() -> impl Strategy<Value = DateTime<Utc>> {
        // 2000-01-01 .. 2060-01-01, minute resolution.
        (0i64..31_557_600)
            .prop_map(|m| Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(m))
    }

    proptest! {
        #[test]
        fn the_tokyo_date_is_the_utc_date_nine_hours_later(t in moment()) {
            prop_assert_eq!(tokyo_date(t), (t + Duration::hours(9)).date_naive());
            prop_assert!(tokyo_midnight(tokyo_date(t)) <= t);
            prop_assert!(t <= tokyo_end_of_day(tokyo_date(t)));
        }

        #[test]
        fn stay_days_and_post_operative_days_differ_by_the_admission_day(a in moment(), b in moment()) {
            let (start, end) = if a <= b { (a, b) } else { (b, a) };
            let stay = stay_days(start, end);
            prop_assert_eq!(stay, days_between(start, end) + 1);
            prop_assert!(stay >= 1);
            // Never fewer days than elapsed whole days, never more than one extra.
            let elapsed = (end - start).num_days();
            prop_assert!(days_between(start, end) >= elapsed);
            prop_assert!(days_between(start, end) <= elapsed + 1);
            // Moving both moments within their Tokyo days does not change the count.
            let s0 = tokyo_midnight(tokyo_date(start));
            let e1 = tokyo_end_of_day(tokyo_date(end));
            prop_assert_eq!(stay_days(s0, e1), stay);
        }

        #[test]
        fn adding_months_keeps_the_day_or_clamps_to_the_month_end(t in moment(), months in 0u32..240) {
            let from = tokyo_date(t);
            let to = add_months(from, months).unwrap();
            let month_index = |d: NaiveDate| d.year() * 12 + d.month0() as i32;
            prop_assert_eq!(month_index(to) - month_index(from), months as i32);
            if to.day() != from.day() {
                prop_assert!(to.day() < from.day());
                prop_assert_eq!(to.succ_opt().unwrap().day(), 1);
            }
            prop_assert_eq!(due_date(t, months, 0), Some(to));
        }

        #[test]
        fn months_then_days_undo_each_other_unless_clamped(t in moment(), months in 0u32..120, days in 0u32..400) {
            let d = tokyo_date(t);
            let later = add_months_days(d, months, days).unwrap();
            prop_assert!(later >= d);
            prop_assert_eq!(later - add_months(d, months).unwrap(), chrono::TimeDelta::days(days.into()));
            if d.day() <= 28 {
                prop_assert_eq!(sub_months_days(later, months, days), Some(d));
            }
        }

        #[test]
        fn overdue_starts_exactly_the_day_after_the_due_date_and_grace(t in moment(), grace in 0u32..60) {
            let due = tokyo_date(t);
            let last = due + Days::new(grace.into());
            prop_assert!(!is_overdue(tokyo_end_of_day(last), due, grace));
            prop_assert!(is_overdue(tokyo_midnight(last.succ_opt().unwrap()), due, grace));
            prop_assert!(!is_overdue(t, due, grace));
        }

        #[test]
        fn age_grows_by_one_each_birthday(b in moment(), years in 0u32..100) {
            let birth = tokyo_date(b);
            let anniversary = add_months(birth, years * 12).unwrap();
            let age = age_years(birth, anniversary).unwrap();
            // On the clamped anniversary (28 February for 29 February births) a leap-day
            // child is still one year short.
            if birth.month() == 2 && birth.day() == 29 && anniversary.day() == 28 {
                prop_assert_eq!(age, years.saturating_sub(1));
                prop_assert_eq!(age_years(birth, anniversary.succ_opt().unwrap()), Some(years));
            } else {
                prop_assert_eq!(age, years);
                if let Some(before) = anniversary.pred_opt().filter(|d| *d >= birth) {
                    prop_assert_eq!(age_years(birth, before), Some(years.saturating_sub(1)));
                }
            }
        }
    }
}
