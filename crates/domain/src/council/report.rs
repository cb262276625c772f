//! The answer of every council report: a page of sections, each a table of cells with
//! an optional chart description; the API, the CSV, the web pages and the meeting
//! snapshots all carry this one shape.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::filter::ReportFilter;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Flow,
    Goals,
    Variances,
    Outcomes,
    Completeness,
    Compare,
}

impl ReportKind {
    pub const ALL: [ReportKind; 6] = [
        ReportKind::Flow,
        ReportKind::Goals,
        ReportKind::Variances,
        ReportKind::Outcomes,
        ReportKind::Completeness,
        ReportKind::Compare,
    ];

    /// The stable name (`flow`, `goals`, …), as in the URL.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Flow => "flow",
            ReportKind::Goals => "goals",
            ReportKind::Variances => "variances",
            ReportKind::Outcomes => "outcomes",
            ReportKind::Completeness => "completeness",
            ReportKind::Compare => "compare",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The report's heading in Japanese (its English through the wording table).
    pub fn title_ja(self) -> &'static str {
        match self {
            ReportKind::Flow => "患者の流れ",
            ReportKind::Goals => "目標の達成",
            ReportKind::Variances => "バリアンス",
            ReportKind::Outcomes => "アウトカム指標",
            ReportKind::Completeness => "記録の完全性",
            ReportKind::Compare => "版の比較",
        }
    }
}

/// One report as computed for one viewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportPage {
    pub kind: ReportKind,
    /// The filter as parsed.
    pub filter: ReportFilter,
    /// Plans counted (statistics consent, inside the filter).
    pub counted_plans: u64,
    /// Plans inside the filter left out because their active consent does not include
    /// `statistics`.
    pub excluded_without_consent: u64,
    /// Cells suppressed because they count fewer than 5 patients of other organisations.
    pub suppressed_cells: u64,
    pub sections: Vec<ReportSection>,
}

/// One table of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSection {
    /// Stable (`stage_length`).
    pub key: String,
    /// In the viewer's language.
    pub title: String,
    /// How the figures are computed (shown beside them).
    pub definition: Option<String>,
    pub columns: Vec<ReportColumn>,
    pub rows: Vec<Vec<ReportCell>>,
    pub chart: Option<ChartSpec>,
    /// Lists shown under the table (e.g. the exclusions of the 実績指数 by reason).
    pub listed: Vec<String>,
}

/// A column of a section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportColumn {
    pub key: String,
    pub label: String,
    pub unit: Option<String>,
}

/// One cell. In JSON an object: `{"value": …}`, with `"decimals"` for numbers,
/// `"suppressed": true` (value `null`) for a suppressed cell, and `"suppressed": true,
/// "withheld": true` for a cell withheld to protect one.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportCell {
    Text(String),
    Count(u64),
    Number {
        value: f64,
        decimals: u8,
    },
    /// Fewer than 5 patients of other organisations: not shown.
    Suppressed,
    /// Not small itself, but withheld so that a suppressed cell cannot be recomputed
    /// from a total or a rate (complementary suppression, 二次秘匿): not shown.
    Withheld,
    /// Nothing to compute from.
    Missing,
}

impl ReportCell {
    /// The cell as CSV text: `<5` when suppressed, empty when missing.
    pub fn csv_text(&self) -> String {
        match self {
            ReportCell::Text(t) => t.clone(),
            ReportCell::Count(n) => n.to_string(),
            ReportCell::Number { value, decimals } => format!("{value:.*}", *decimals as usize),
            ReportCell::Suppressed => "<5".to_owned(),
            ReportCell::Withheld => "x".to_owned(),
            ReportCell::Missing => String::new(),
        }
    }

    /// The number a chart draws (none for text, suppressed and missing cells).
    pub fn number(&self) -> Option<f64> {
        match self {
            ReportCell::Count(n) => Some(*n as f64),
            ReportCell::Number { value, .. } => Some(*value),
            _ => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CellRepr {
    value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decimals: Option<u8>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    suppressed: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    withheld: bool,
}

impl Serialize for ReportCell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde_json::Value;
        let repr = match self {
            ReportCell::Text(t) => CellRepr {
                value: Value::String(t.clone()),
                decimals: None,
                suppressed: false,
                withheld: false,
            },
            ReportCell::Count(n) => CellRepr {
                value: Value::from(*n),
                decimals: None,
                suppressed: false,
                withheld: false,
            },
            ReportCell::Number { value, decimals } => {
                let factor = 10f64.powi(i32::from(*decimals));
                let rounded = (value * factor).round() / factor;
                CellRepr {
                    value: serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number),
                    decimals: Some(*decimals),
                    suppressed: false,
                    withheld: false,
                }
            }
            ReportCell::Suppressed => CellRepr {
                value: Value::Null,
                decimals: None,
                suppressed: true,
                withheld: false,
            },
            ReportCell::Withheld => CellRepr {
                value: Value::Null,
                decimals: None,
                suppressed: true,
                withheld: true,
            },
            ReportCell::Missing => CellRepr {
                value: Value::Null,
                decimals: None,
                suppressed: false,
                withheld: false,
            },
        };
        repr.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ReportCell {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde_json::Value;
        let r = CellRepr::deserialize(d)?;
        Ok(match (r.value, r.decimals, r.suppressed) {
            (_, _, true) if r.withheld => ReportCell::Withheld,
            (_, _, true) => ReportCell::Suppressed,
            (Value::Null, _, false) => ReportCell::Missing,
            (Value::String(t), _, _) => ReportCell::Text(t),
            (Value::Number(n), Some(decimals), _) => ReportCell::Number {
                value: n.as_f64().unwrap_or_default(),
                decimals,
            },
            (Value::Number(n), None, _) => match n.as_u64() {
                Some(c) => ReportCell::Count(c),
                None => ReportCell::Number {
                    value: n.as_f64().unwrap_or_default(),
                    decimals: 1,
                },
            },
            (other, _, _) => ReportCell::Text(other.to_string()),
        })
    }
}

/// Which kind of chart a section draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    Bar,
    /// `value_columns` = [min, q1, median, q3, max].
    Box,
    /// `value_columns` = [count].
    Pareto,
    /// The label column is a month `YYYY-MM`.
    Run,
}

/// Which columns of a section a chart draws.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartSpec {
    pub kind: ChartKind,
    pub label_column: usize,
    pub value_columns: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip_through_json_and_suppressed_cells_carry_no_value() {
        let cells = vec![
            ReportCell::Text("急性期".into()),
            ReportCell::Count(12),
            ReportCell::Number {
                value: 3.25,
                decimals: 2,
            },
            ReportCell::Suppressed,
            ReportCell::Withheld,
            ReportCell::Missing,
        ];
        let json = serde_json::to_value(&cells).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"value": "急性期"}, {"value": 12}, {"value": 3.25, "decimals": 2},
                {"value": null, "suppressed": true},
                {"value": null, "suppressed": true, "withheld": true}, {"value": null}
            ])
        );
        let back: Vec<ReportCell> = serde_json::from_value(json).unwrap();
        assert_eq!(back, cells);
        assert_eq!(ReportCell::Suppressed.csv_text(), "<5");
        assert_eq!(ReportCell::Withheld.csv_text(), "x");
    }

    #[test]
    fn kinds_round_trip() {
        for k in ReportKind::ALL {
            assert_eq!(ReportKind::parse(k.as_str()), Some(k));
        }
    }
}
