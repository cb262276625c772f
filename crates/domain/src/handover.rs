//! The hand-over (紹介・転院) state machine and report-back due dates.
//!
//! proposed → accepted | declined | withdrawn; accepted → completed (when the receiver
//! records the stage start). Every other move is refused.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandoverState {
    Proposed,
    Accepted,
    Declined,
    Withdrawn,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandoverEvent {
    Accept,
    Decline,
    Withdraw,
    Complete,
}

impl HandoverState {
    pub const ALL: [HandoverState; 5] = [
        HandoverState::Proposed,
        HandoverState::Accepted,
        HandoverState::Declined,
        HandoverState::Withdrawn,
        HandoverState::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HandoverState::Proposed => "proposed",
            HandoverState::Accepted => "accepted",
            HandoverState::Declined => "declined",
            HandoverState::Withdrawn => "withdrawn",
            HandoverState::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "proposed" => HandoverState::Proposed,
            "accepted" => HandoverState::Accepted,
            "declined" => HandoverState::Declined,
            "withdrawn" => HandoverState::Withdrawn,
            "completed" => HandoverState::Completed,
            _ => return None,
        })
    }

    /// Still waiting for something (an answer, or the receiver's stage start).
    pub fn is_open(self) -> bool {
        matches!(self, HandoverState::Proposed | HandoverState::Accepted)
    }
}

impl HandoverEvent {
    pub const ALL: [HandoverEvent; 4] = [
        HandoverEvent::Accept,
        HandoverEvent::Decline,
        HandoverEvent::Withdraw,
        HandoverEvent::Complete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HandoverEvent::Accept => "accept",
            HandoverEvent::Decline => "decline",
            HandoverEvent::Withdraw => "withdraw",
            HandoverEvent::Complete => "complete",
        }
    }
}

/// A move the state machine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a hand-over that is {} cannot be {}", from.as_str(), event.as_str())]
pub struct InvalidTransition {
    pub from: HandoverState,
    pub event: HandoverEvent,
}

/// The state after `event`, or the refusal.
pub fn transition(
    from: HandoverState,
    event: HandoverEvent,
) -> Result<HandoverState, InvalidTransition> {
    use HandoverEvent as E;
    use HandoverState as S;
    match (from, event) {
        (S::Proposed, E::Accept) => Ok(S::Accepted),
        (S::Proposed, E::Decline) => Ok(S::Declined),
        (S::Proposed, E::Withdraw) => Ok(S::Withdrawn),
        (S::Accepted, E::Complete) => Ok(S::Completed),
        _ => Err(InvalidTransition { from, event }),
    }
}

/// Japan Standard Time, where "the end of the following month" is counted.
fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset")
}

/// When a report back is due for a stage that ended at `ended_at`: `days` after the end
/// when the template sets them, otherwise the end of the following month (JST), the
/// reimbursement rules' default.
pub fn report_due(ended_at: DateTime<Utc>, days: Option<u32>) -> DateTime<Utc> {
    if let Some(d) = days {
        return ended_at + Duration::days(d.into());
    }
    let local = ended_at.with_timezone(&jst()).date_naive();
    // First day of the month after next, at 00:00 JST, minus one second.
    let (y, m) = (local.year(), local.month());
    let (y2, m2) = if m >= 11 {
        (y + 1, m + 2 - 12)
    } else {
        (y, m + 2)
    };
    let first = NaiveDate::from_ymd_opt(y2, m2, 1).unwrap_or(local);
    let midnight = first.and_hms_opt(0, 0, 0).unwrap_or_default();
    match jst().from_local_datetime(&midnight).single() {
        Some(t) => t.with_timezone(&Utc) - Duration::seconds(1),
        None => ended_at + Duration::days(45),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_the_allowed_edges_exist() {
        let allowed = [
            (
                HandoverState::Proposed,
                HandoverEvent::Accept,
                HandoverState::Accepted,
            ),
            (
                HandoverState::Proposed,
                HandoverEvent::Decline,
                HandoverState::Declined,
            ),
            (
                HandoverState::Proposed,
                HandoverEvent::Withdraw,
                HandoverState::Withdrawn,
            ),
            (
                HandoverState::Accepted,
                HandoverEvent::Complete,
                HandoverState::Completed,
            ),
        ];
        for s in HandoverState::ALL {
            for e in HandoverEvent::ALL {
                let expected = allowed
                    .iter()
                    .find(|(f, ev, _)| *f == s && *ev == e)
                    .map(|t| t.2);
                assert_eq!(transition(s, e).ok(), expected, "{s:?} {e:?}");
            }
        }
    }

    proptest! {
        /// Any sequence of events ends in a state reachable along allowed edges, and
        /// terminal states never change again.
        #[test]
        fn states_move_only_along_allowed_edges(events in proptest::collection::vec(0usize..4, 0..20)) {
            let mut s = HandoverState::Proposed;
            for i in events {
                let e = HandoverEvent::ALL[i];
                match transition(s, e) {
                    Ok(next) => {
                        prop_assert!(s.is_open());
                        s = next;
                    }
                    Err(err) => prop_assert_eq!(err.from, s),
                }
            }
            if !s.is_open() {
                for e in HandoverEvent::ALL {
                    prop_assert!(transition(s, e).is_err());
                }
            }
        }
    }

    #[test]
    fn report_due_is_the_end_of_the_following_month_in_jst() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Discharged 20 Nov (JST) → due 31 Dec 23:59:59 JST.
        assert_eq!(
            report_due(t("2026-11-20T10:00:00+09:00"), None),
            t("2026-12-31T23:59:59+09:00")
        );
        // 31 Dec late evening UTC is already 1 Jan in Japan → due end of February.
        assert_eq!(
            report_due(t("2026-12-31T20:00:00Z"), None),
            t("2027-02-28T23:59:59+09:00")
        );
        assert_eq!(
            report_due(t("2026-12-10T00:00:00+09:00"), None),
            t("2027-01-31T23:59:59+09:00")
        );
        assert_eq!(
            report_due(t("2026-11-20T00:00:00Z"), Some(14)),
            t("2026-12-04T00:00:00Z")
        );
    }
}
