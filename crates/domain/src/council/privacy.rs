//! Small-cell suppression: a figure that counts fewer than [`MIN_PATIENTS`] patients, or a
//! statistic computed from fewer, is not shown to a viewer unless every one of those
//! patients belongs to the viewer's own organisation (it is on the plan's care team for
//! the stage the figure is about, or is the planner for plan-level figures). A count of
//! zero names nobody and is shown. The threshold of 5 is the council's rule (issue 16,
//! point 8); NDB オープンデータ, for comparison, hides counts below 10.
//!
//! Hiding a small cell is not enough when the table also shows what it adds up to: a
//! region total less the organisations' rows gives the hidden one back. [`complementary`]
//! is the second rule (complementary suppression, 二次秘匿): on every additive line —
//! a total and its parts — a small cell must never be the only value the viewer does
//! not know, so one more is withheld.

use super::report::ReportCell;

/// The fewest patients a figure shown to other organisations may count.
pub const MIN_PATIENTS: u64 = 5;

/// The patients behind one figure: how many, and whether all of them belong to the
/// viewer's organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Population {
    pub patients: u64,
    pub all_own: bool,
}

impl Default for Population {
    fn default() -> Self {
        Population {
            patients: 0,
            all_own: true,
        }
    }
}

impl Population {
    /// Adds one patient (`own`: belongs to the viewer's organisation).
    pub fn add(&mut self, own: bool) {
        self.patients += 1;
        self.all_own &= own;
    }

    /// Whether a figure over these patients must be suppressed.
    pub fn suppressed(&self) -> bool {
        self.patients > 0 && self.patients < MIN_PATIENTS && !self.all_own
    }
}

/// The cell as the viewer may see it: [`ReportCell::Suppressed`] when the population is
/// too small and not all the viewer's own; the cell otherwise. Text cells (labels) are
/// never suppressed.
pub fn protect(cell: ReportCell, population: Population) -> ReportCell {
    match cell {
        ReportCell::Text(_) => cell,
        _ if population.suppressed() => ReportCell::Suppressed,
        _ => cell,
    }
}

/// What the viewer knows of one count on an additive line (`total = Σ parts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Shown with its value.
    Shown,
    /// Counts only the viewer's own patients: the viewer knows it whatever is shown,
    /// so withholding it protects nothing.
    Own,
    /// Suppressed by the small-cell rule: it must not be recomputable.
    Small,
    /// Not shown, without being a small cell: rows of other organisations the viewer
    /// does not see (together five or more), or a cell already withheld.
    Unknown,
}

/// One count on an additive line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub value: u64,
    pub known: Known,
}

impl Member {
    fn is_known(&self) -> bool {
        matches!(self.known, Known::Shown | Known::Own)
    }
}

/// Which members of a line to withhold besides those already suppressed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Withhold {
    /// Indices into the parts.
    pub parts: Vec<usize>,
    pub total: bool,
}

/// Complementary suppression on one additive line: `total = Σ parts`, where a part may
/// also stand for the rows a viewer does not see (the total less the rows shown). A
/// small cell could be recomputed from the line when it is the only member the viewer
/// does not know; then one more member is withheld — the smallest shown part that is
/// not zero and not the viewer's own (the next-smallest cell), or else the total. A
/// line left with no unknown member, or with two or more, tells nothing exact about a
/// small cell.
pub fn complementary(total: Member, parts: &[Member]) -> Withhold {
    let unknown: Vec<Known> = std::iter::once(&total)
        .chain(parts)
        .filter(|m| !m.is_known())
        .map(|m| m.known)
        .collect();
    if unknown != [Known::Small] {
        return Withhold::default();
    }
    let next = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.known == Known::Shown && p.value > 0)
        .min_by_key(|(i, p)| (p.value, *i))
        .map(|(i, _)| i);
    match next {
        Some(i) => Withhold {
            parts: vec![i],
            total: false,
        },
        None if total.known == Known::Shown => Withhold {
            parts: Vec::new(),
            total: true,
        },
        // The total is the viewer's own and every other part is own or zero: the small
        // cell is the viewer's own difference, nothing to protect it with.
        None => Withhold::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line_strategy() -> impl Strategy<Value = (Vec<(u64, bool)>, u64)> {
        // Parts as (value, own), and the patients of other organisations the viewer does
        // not see (a hidden part when above zero).
        (
            proptest::collection::vec((0u64..12, proptest::bool::weighted(0.2)), 1..8),
            0u64..9,
        )
    }

    /// Applies the two rules the way a report table does: each part and the total by
    /// the small-cell rule, the hidden rows as one part, then [`complementary`].
    fn protect_line(parts: &[(u64, bool)], hidden: u64) -> (Member, Vec<Member>, Withhold) {
        let known = |n: u64, own: bool| {
            if own {
                Known::Own
            } else if n > 0 && n < MIN_PATIENTS {
                Known::Small
            } else {
                Known::Shown
            }
        };
        let mut members: Vec<Member> = parts
            .iter()
            .map(|(v, own)| Member {
                value: *v,
                known: known(*v, *own),
            })
            .collect();
        let sum: u64 = parts.iter().map(|p| p.0).sum::<u64>() + hidden;
        let all_own = hidden == 0 && parts.iter().all(|p| p.1 || p.0 == 0);
        let total = Member {
            value: sum,
            known: known(sum, all_own),
        };
        if hidden > 0 {
            members.push(Member {
                value: hidden,
                known: if hidden < MIN_PATIENTS {
                    Known::Small
                } else {
                    Known::Unknown
                },
            });
        }
        let w = complementary(total, &members);
        let mut total = total;
        for i in &w.parts {
            members[*i].known = Known::Unknown;
        }
        if w.total {
            total.known = Known::Unknown;
        }
        (total, members, w)
    }

    proptest! {
        /// After both rules no line can be solved for a small cell: either every member
        /// is known or at least two are not; the withheld cells are shown ones (never
        /// the viewer's own, never zero); and the shown values still add up where all
        /// are shown.
        #[test]
        fn no_small_cell_can_be_recomputed_from_its_line((parts, hidden) in line_strategy()) {
            let (total, members, _) = protect_line(&parts, hidden);
            let unknown: Vec<&Member> = std::iter::once(&total).chain(&members).filter(|m| !m.is_known()).collect();
            let small = unknown.iter().any(|m| m.known == Known::Small);
            if small {
                // One unknown is allowed only when it is the viewer's own difference
                // (nothing else could be withheld): then the total and every part are own or zero.
                if unknown.len() == 1 {
                    prop_assert!(total.known == Known::Own);
                    prop_assert!(members.iter().all(|m| m.known != Known::Shown || m.value == 0));
                }
            }
            // Derive every unknown the way a reader would: total less the known parts.
            // With one unknown part and a known total it would be exact; the rule leaves
            // such a line only when no small cell is among the unknowns.
            if total.is_known() {
                let unknown_parts: Vec<&Member> = members.iter().filter(|m| !m.is_known()).collect();
                if unknown_parts.len() == 1 {
                    prop_assert!(unknown_parts[0].known != Known::Small || total.known == Known::Own);
                    let known_sum: u64 = members.iter().filter(|m| m.is_known()).map(|m| m.value).sum();
                    prop_assert_eq!(total.value - known_sum, unknown_parts[0].value);
                }
            }
        }

        /// The rule withholds at most one cell, a shown one, and the smallest shown
        /// non-zero part that is not the viewer's own when there is one.
        #[test]
        fn at_most_one_cell_is_withheld_and_it_is_the_next_smallest((parts, hidden) in line_strategy()) {
            let (_, members, w) = protect_line(&parts, hidden);
            prop_assert!(w.parts.len() + usize::from(w.total) <= 1);
            if let Some(i) = w.parts.first() {
                let (v, own) = parts[*i];
                prop_assert!(!own && v >= MIN_PATIENTS);
                let smallest = parts.iter().filter(|(v, own)| !own && *v >= MIN_PATIENTS).map(|p| p.0).min();
                prop_assert_eq!(Some(v), smallest);
                prop_assert_eq!(members[*i].known, Known::Unknown);
            }
        }
    }

    #[test]
    fn a_total_less_the_shown_rows_does_not_give_a_small_row_back() {
        let shown = |value| Member {
            value,
            known: Known::Shown,
        };
        let small = |value| Member {
            value,
            known: Known::Small,
        };
        // 12 = 7 + 3 + 2: two small rows already protect each other.
        assert_eq!(
            complementary(shown(12), &[shown(7), small(3), small(2)]),
            Withhold::default()
        );
        // 15 = 7 + 3 + 5: the 5 (next-smallest) goes too.
        assert_eq!(
            complementary(shown(15), &[shown(7), small(3), shown(5)]),
            Withhold {
                parts: vec![2],
                total: false
            }
        );
        // 9 = 6 (own) + 3 hidden: only the total is left to withhold.
        assert_eq!(
            complementary(
                shown(9),
                &[
                    Member {
                        value: 6,
                        known: Known::Own
                    },
                    small(3)
                ]
            ),
            Withhold {
                parts: Vec::new(),
                total: true
            }
        );
    }

    proptest! {
        /// No suppressed cell reveals a count below 5, and a cell of the viewer's own
        /// patients only is never suppressed.
        #[test]
        fn no_shown_cell_reveals_fewer_than_five_other_patients(owns in proptest::collection::vec(any::<bool>(), 0..12)) {
            let mut p = Population::default();
            for own in &owns {
                p.add(*own);
            }
            let shown = protect(ReportCell::Count(p.patients), p);
            let all_own = owns.iter().all(|o| *o);
            match shown {
                ReportCell::Count(n) => prop_assert!(n == 0 || n >= MIN_PATIENTS || all_own),
                ReportCell::Suppressed => {
                    prop_assert!(!all_own);
                    prop_assert!(p.patients > 0 && p.patients < MIN_PATIENTS);
                }
                _ => prop_assert!(false),
            }
            if all_own {
                prop_assert_eq!(protect(ReportCell::Count(p.patients), p), ReportCell::Count(p.patients));
            }
        }
    }

    #[test]
    fn a_statistic_over_four_other_patients_is_suppressed_and_over_five_shown() {
        let mut p = Population::default();
        for _ in 0..4 {
            p.add(false);
        }
        let median = ReportCell::Number {
            value: 12.0,
            decimals: 1,
        };
        assert_eq!(protect(median.clone(), p), ReportCell::Suppressed);
        p.add(true);
        assert_eq!(protect(median.clone(), p), median);
        assert_eq!(
            protect(
                ReportCell::Text("H001".into()),
                Population {
                    patients: 1,
                    all_own: false
                }
            ),
            ReportCell::Text("H001".into())
        );
    }
}
