//! One goal as the plan page lists it (also grouped by stage on a cyclical plan).

use super::fmt::When;

/// A goal row: its target, latest value and status in words, due date and trend.
pub struct GoalRow {
    pub code: String,
    pub title: String,
    pub target: String,
    pub latest: Option<String>,
    pub latest_at: Option<When>,
    /// The status in words, with the bound of a value below or above its range.
    pub status: String,
    pub symbol: &'static str,
    pub class: &'static str,
    pub due: Option<When>,
    pub sparkline: Option<String>,
    pub points: Vec<(When, String)>,
    pub trend_url: Option<String>,
}
