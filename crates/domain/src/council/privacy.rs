//! Small-cell suppression: a figure that counts fewer than [`MIN_PATIENTS`] patients, or a
//! statistic computed from fewer, is not shown to a viewer unless every one of those
//! patients belongs to the viewer's own organisation (it is on the plan's care team for
//! the stage the figure is about, or is the planner for plan-level figures). A count of
//! zero names nobody and is shown. The threshold of 5 is the council's rule (issue 16,
//! point 8); NDB オープンデータ, for comparison, hides counts below 10.

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
