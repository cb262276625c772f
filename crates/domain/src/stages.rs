//! Stage periods: when each stage of a plan started and ended, read from its stage events
//! in effective order over the current view (corrections applied), not in the order they
//! were recorded. An amended `stage_start` therefore moves its period, and a `stage_end`
//! dated before every open start of its stage ends nothing.

use crate::entry::EntryKind;
use crate::facts::EntryFacts;

/// One stay in a stage: the `stage_start` that opened it and the `stage_end` that closed
/// it, if any yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StagePeriod<'a> {
    pub stage: &'a str,
    pub start: &'a EntryFacts,
    pub end: Option<&'a EntryFacts>,
}

impl StagePeriod<'_> {
    /// Whether the stage has ended.
    pub fn ended(&self) -> bool {
        self.end.is_some()
    }
}

/// The stage periods of `view` (the current view, ordered by effective time then sequence,
/// as `corrections::current_view` returns it), in the order they started. Each
/// `stage_start` opens a period of its stage; the first `stage_end` of that stage after it
/// in effective order closes every period of the stage still open (ties in effective time
/// follow the sequence). A `stage_end` with no open period of its stage is ignored.
pub fn stage_periods<'a>(view: &[&'a EntryFacts]) -> Vec<StagePeriod<'a>> {
    let mut periods: Vec<StagePeriod<'a>> = Vec::new();
    for e in view {
        match e.kind {
            EntryKind::StageStart => periods.push(StagePeriod {
                stage: &e.stage,
                start: e,
                end: None,
            }),
            EntryKind::StageEnd => {
                for p in periods
                    .iter_mut()
                    .filter(|p| p.end.is_none() && p.stage == e.stage)
                {
                    p.end = Some(e);
                }
            }
            _ => {}
        }
    }
    periods
}

/// The latest period of `stage` (the one started last), if the stage was ever entered.
pub fn latest_period<'p, 'a>(
    periods: &'p [StagePeriod<'a>],
    stage: &str,
) -> Option<&'p StagePeriod<'a>> {
    periods.iter().rev().find(|p| p.stage == stage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corrections::current_view;
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use proptest::prelude::*;
    use serde_json::Map;
    use uuid::Uuid;

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap() + Duration::hours(hours)
    }

    fn event(
        seq: i64,
        stage: &str,
        kind: EntryKind,
        hours: i64,
        amends: Option<i64>,
    ) -> EntryFacts {
        EntryFacts {
            id: Uuid::from_u128(seq as u128),
            seq,
            stage: stage.into(),
            kind,
            effective_at: at(hours),
            recorded_at: at(1000 + seq),
            values: Map::new(),
            amends: amends.map(|s| Uuid::from_u128(s as u128)),
        }
    }

    fn periods_of(entries: &[EntryFacts]) -> Vec<(String, i64, Option<i64>)> {
        let view = current_view(entries, at(100_000), at(100_000));
        stage_periods(&view)
            .iter()
            .map(|p| (p.stage.to_owned(), p.start.seq, p.end.map(|e| e.seq)))
            .collect()
    }

    #[test]
    fn an_amended_stage_start_moves_its_period_and_keeps_its_end() {
        let entries = vec![
            event(1, "acute", EntryKind::StageStart, 0, None),
            event(2, "acute", EntryKind::StageEnd, 240, None),
            event(3, "recovery", EntryKind::StageStart, 240, None),
            // The acute start was really two hours earlier.
            event(4, "acute", EntryKind::StageStart, -2, Some(1)),
        ];
        assert_eq!(
            periods_of(&entries),
            vec![("acute".into(), 4, Some(2)), ("recovery".into(), 3, None)]
        );
    }

    #[test]
    fn an_end_dated_before_its_start_ends_nothing() {
        let entries = vec![
            event(1, "acute", EntryKind::StageStart, 10, None),
            event(2, "acute", EntryKind::StageEnd, 5, None),
        ];
        assert_eq!(periods_of(&entries), vec![("acute".into(), 1, None)]);
    }

    #[test]
    fn a_stage_entered_again_has_two_periods() {
        let entries = vec![
            event(1, "clinic", EntryKind::StageStart, 0, None),
            event(2, "clinic", EntryKind::StageEnd, 10, None),
            event(3, "clinic", EntryKind::StageStart, 10, None),
        ];
        assert_eq!(
            periods_of(&entries),
            vec![("clinic".into(), 1, Some(2)), ("clinic".into(), 3, None)]
        );
        let view = current_view(&entries, at(1000), at(100_000));
        let periods = stage_periods(&view);
        assert_eq!(latest_period(&periods, "clinic").unwrap().start.seq, 3);
        assert!(latest_period(&periods, "home").is_none());
    }

    /// A stage's events as (start hour, end hour) stays, possibly overlapping, in any order.
    fn stays() -> impl Strategy<Value = Vec<(i64, Option<i64>)>> {
        prop::collection::vec((0i64..500, prop::option::of(0i64..200)), 1..5)
    }

    proptest! {
        /// Recording the same stage events in any order, or amending a start to another
        /// time, gives the periods that effective order alone decides.
        #[test]
        fn pairing_depends_on_effective_order_not_on_sequence(
            stays in stays(),
            order in prop::collection::vec(any::<u32>(), 10),
            moved in 0i64..700,
        ) {
            // Effective-order events: each start, and its end `len` hours later.
            let mut events: Vec<(EntryKind, i64)> = Vec::new();
            for (start, len) in &stays {
                events.push((EntryKind::StageStart, *start));
                if let Some(len) = len {
                    events.push((EntryKind::StageEnd, start + len + 1));
                }
            }
            // Record them in a shuffled order.
            let mut idx: Vec<usize> = (0..events.len()).collect();
            idx.sort_by_key(|i| order[i % order.len()].wrapping_mul(*i as u32 + 7));
            let recorded: Vec<EntryFacts> = idx
                .iter()
                .enumerate()
                .map(|(n, i)| event(n as i64 + 1, "recovery", events[*i].0, events[*i].1, None))
                .collect();
            let in_effective_order: Vec<EntryFacts> = {
                let mut sorted = events.clone();
                sorted.sort_by_key(|(k, h)| (*h, *k == EntryKind::StageStart));
                sorted
                    .iter()
                    .enumerate()
                    .map(|(n, (k, h))| event(n as i64 + 1, "recovery", *k, *h, None))
                    .collect()
            };
            let times = |entries: &[EntryFacts]| -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
                let view = current_view(entries, at(100_000), at(100_000));
                stage_periods(&view)
                    .iter()
                    .map(|p| (p.start.effective_at, p.end.map(|e| e.effective_at)))
                    .collect()
            };
            // Ends recorded at the same hour as a start are put after it in both logs
            // only when their sequence says so; compare where no start and end share an hour.
            let hours: Vec<i64> = events.iter().map(|(_, h)| *h).collect();
            let shared = hours.iter().enumerate().any(|(i, h)| hours[i + 1..].contains(h));
            prop_assume!(!shared);
            let a = times(&recorded);
            prop_assert_eq!(&a, &times(&in_effective_order));

            // Every period ends after it starts, and only with an end of its own stage.
            for (s, e) in &a {
                if let Some(e) = e {
                    prop_assert!(e >= s);
                }
            }
            // Periods come in the order they started.
            prop_assert!(a.windows(2).all(|w| w[0].0 <= w[1].0));

            // Amending the first recorded start to another time moves exactly that start.
            let first_start = recorded.iter().find(|e| e.kind == EntryKind::StageStart).unwrap();
            let mut amended = recorded.clone();
            let n = amended.len() as i64 + 1;
            amended.push(event(n, "recovery", EntryKind::StageStart, moved, Some(first_start.seq)));
            let mut expected_events: Vec<(EntryKind, i64)> = recorded
                .iter()
                .filter(|e| e.id != first_start.id)
                .map(|e| (e.kind, (e.effective_at - at(0)).num_hours()))
                .collect();
            expected_events.push((EntryKind::StageStart, moved));
            let hours: Vec<i64> = expected_events.iter().map(|(_, h)| *h).collect();
            let shared = hours.iter().enumerate().any(|(i, h)| hours[i + 1..].contains(h));
            prop_assume!(!shared);
            expected_events.sort_by_key(|(_, h)| *h);
            let fresh: Vec<EntryFacts> = expected_events
                .iter()
                .enumerate()
                .map(|(n, (k, h))| event(n as i64 + 1, "recovery", *k, *h, None))
                .collect();
            prop_assert_eq!(times(&amended), times(&fresh));
        }

        /// Each period is closed by the first end of its stage after its start, and by
        /// nothing when no such end exists.
        #[test]
        fn a_period_ends_at_the_first_end_of_its_stage_after_its_start(
            events in prop::collection::vec((0u8..4, 0i64..300), 0..12),
        ) {
            let entries: Vec<EntryFacts> = events
                .iter()
                .enumerate()
                .map(|(n, (k, h))| {
                    let (stage, kind) = match k {
                        0 => ("acute", EntryKind::StageStart),
                        1 => ("acute", EntryKind::StageEnd),
                        2 => ("recovery", EntryKind::StageStart),
                        _ => ("recovery", EntryKind::StageEnd),
                    };
                    event(n as i64 + 1, stage, kind, *h, None)
                })
                .collect();
            let view = current_view(&entries, at(100_000), at(100_000));
            let periods = stage_periods(&view);
            let starts = view.iter().filter(|e| e.kind == EntryKind::StageStart).count();
            prop_assert_eq!(periods.len(), starts);
            for p in &periods {
                let key = |e: &EntryFacts| (e.effective_at, e.seq);
                let first_end = view
                    .iter()
                    .filter(|e| e.kind == EntryKind::StageEnd && e.stage == p.stage)
                    .find(|e| key(e) > key(p.start))
                    .map(|e| e.seq);
                prop_assert_eq!(p.end.map(|e| e.seq), first_end);
                prop_assert_eq!(p.stage, p.start.stage.as_str());
            }
        }
    }
}
