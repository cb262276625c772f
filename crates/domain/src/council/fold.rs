//! What every fold shares: which plans a report counts, whose rows a viewer sees, the
//! labels of organisations, pathways and stages, and a table builder that applies the
//! small-cell rule cell by cell and counts what it suppressed.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::facts::ReportFactsRow;
use super::filter::ReportFilter;
use super::privacy::{Known, MIN_PATIENTS, Member, Population, complementary, protect};
use super::report::{ChartSpec, ReportCell, ReportColumn, ReportSection};
use crate::wording::{Lang, ui_text};

/// Names the folds print: organisations by id, pathways and stages by code.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    /// Organisation id → `code name`.
    pub organizations: HashMap<Uuid, String>,
    /// Pathway code → title.
    pub pathways: HashMap<String, String>,
    /// (pathway code, stage code) → title.
    pub stages: HashMap<(String, String), String>,
    /// (pathway code, goal code) → title.
    pub goals: HashMap<(String, String), String>,
    /// (pathway code, variance code) → title.
    pub variances: HashMap<(String, String), String>,
}

impl Labels {
    pub fn organization(&self, id: Option<Uuid>, lang: Lang) -> String {
        match id {
            Some(id) => self
                .organizations
                .get(&id)
                .cloned()
                .unwrap_or_else(|| ui_text("不明な施設", lang).to_owned()),
            None => ui_text("施設不明", lang).to_owned(),
        }
    }

    pub fn stage(&self, pathway: &str, stage: &str) -> String {
        let p = self.pathways.get(pathway).map_or(pathway, String::as_str);
        let s = self
            .stages
            .get(&(pathway.to_owned(), stage.to_owned()))
            .map_or(stage, String::as_str);
        format!("{p} · {s}")
    }

    /// A goal by its title (the code when the template has no such goal).
    pub fn goal(&self, pathway: &str, goal: &str) -> String {
        let p = self.pathways.get(pathway).map_or(pathway, String::as_str);
        let g = self
            .goals
            .get(&(pathway.to_owned(), goal.to_owned()))
            .map_or(goal, String::as_str);
        format!("{p} · {g}")
    }

    /// A variance code by the template's title, else in the words of its parts
    /// (direction, level, cause), never as the bare code.
    pub fn variance(&self, pathway: &str, code: &str, lang: Lang) -> String {
        if let Some(t) = self.variances.get(&(pathway.to_owned(), code.to_owned())) {
            return t.clone();
        }
        use crate::wording::{
            VARIANCE_CAUSES, VARIANCE_DIRECTIONS, VARIANCE_LEVELS, variance_part,
        };
        match crate::variance::parse_variance_code(code) {
            Ok(p) => [
                variance_part(VARIANCE_DIRECTIONS, p.direction, lang),
                variance_part(VARIANCE_LEVELS, p.level, lang),
                variance_part(VARIANCE_CAUSES, p.category, lang),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
            Err(_) => ui_text("その他", lang).to_owned(),
        }
    }
}

/// Who is looking and at what.
#[derive(Debug, Clone)]
pub struct FoldContext<'a> {
    pub viewer_org: Uuid,
    /// The regional administrator or a council member: every organisation broken out.
    pub region_view: bool,
    pub filter: &'a ReportFilter,
    /// The filter's organisation, resolved.
    pub organization: Option<Uuid>,
    pub labels: &'a Labels,
    pub lang: Lang,
    pub now: DateTime<Utc>,
}

impl FoldContext<'_> {
    /// Words of the wording table in the viewer's language.
    pub fn t(&self, ja: &'static str) -> String {
        ui_text(ja, self.lang).to_owned()
    }

    /// Whether the viewer may see a row about organisation `org` (`None`: a region
    /// total, seen by everyone).
    pub fn sees(&self, org: Option<Uuid>) -> bool {
        self.region_view || org.is_none_or(|o| o == self.viewer_org)
    }

    /// The label of a region total row.
    pub fn region_total(&self) -> String {
        self.t("地域全体")
    }
}

/// The organisations a plan involves: its planner and every stage's organisation.
pub fn involves(row: &ReportFactsRow, org: Uuid) -> bool {
    row.planner_organization_id == org
        || row.facts.stages.iter().any(|s| s.organization == Some(org))
}

/// The plans a report counts and how many inside the filter were left out for want of
/// a statistics consent.
pub fn select<'r>(
    rows: &'r [ReportFactsRow],
    ctx: &FoldContext<'_>,
) -> (Vec<&'r ReportFactsRow>, u64) {
    let f = ctx.filter;
    let mut counted = Vec::new();
    let mut excluded = 0;
    for r in rows {
        let inside = f.pathway.as_deref().is_none_or(|p| p == r.pathway_code)
            && (f.versions.is_empty() || f.versions.contains(&r.pathway_version))
            && f.area.as_deref().is_none_or(|a| a == r.region)
            && ctx.organization.is_none_or(|o| involves(r, o))
            && f.in_period(r.started_on, r.ended_on);
        if !inside {
            continue;
        }
        if r.statistics_consent {
            counted.push(r);
        } else {
            excluded += 1;
        }
    }
    (counted, excluded)
}

/// The patients behind one figure, by plan (a plan counts once).
#[derive(Debug, Clone, Default)]
pub struct Plans {
    ids: BTreeSet<Uuid>,
    all_own: Option<bool>,
}

impl Plans {
    /// Adds a plan; `own`: it belongs to the viewer's organisation for this figure.
    pub fn add(&mut self, plan: Uuid, own: bool) {
        self.ids.insert(plan);
        self.all_own = Some(self.all_own.unwrap_or(true) && own);
    }

    pub fn len(&self) -> u64 {
        self.ids.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.ids.iter().copied()
    }

    pub fn population(&self) -> Population {
        Population {
            patients: self.len(),
            all_own: self.all_own.unwrap_or(true),
        }
    }
}

/// A section being built: cells pass through the small-cell rule as they are added,
/// and through complementary suppression when the section is finished — within each
/// block of organisation rows closed by a region total row, every count column is an
/// additive line (the total less the rows shown must not give a small cell back), and
/// a cell declared as derived from others (a rate from its count) is withheld with them.
#[derive(Debug)]
pub struct Table {
    pub section: ReportSection,
    pub suppressed: u64,
    row: Vec<ReportCell>,
    /// The counts of the current row as the complementary rule reads them.
    row_counts: Vec<Option<Count>>,
    /// Per finished row: its counts, and whether it is a region total.
    counts: Vec<(Vec<Option<Count>>, bool)>,
    /// The label of region total rows.
    total_label: String,
    /// Whether the viewer sees every organisation's rows (else the total also holds
    /// rows the viewer does not see).
    region_view: bool,
    /// (column, the columns it is computed from).
    derived: Vec<(usize, Vec<usize>)>,
}

/// A count cell before the complementary rule: its value, the patients behind it, and
/// what the viewer knows of it.
#[derive(Debug, Clone, Copy)]
struct Count {
    member: Member,
    patients: u64,
}

/// A column: key, label (Japanese, through the wording table), unit.
pub type Col = (&'static str, &'static str, Option<&'static str>);

impl Table {
    pub fn new(
        ctx: &FoldContext<'_>,
        key: &str,
        title: &'static str,
        definition: Option<&'static str>,
        columns: &[Col],
    ) -> Table {
        Table {
            section: ReportSection {
                key: key.to_owned(),
                title: ctx.t(title),
                definition: definition.map(|d| ctx.t(d)),
                columns: columns
                    .iter()
                    .map(|(k, l, u)| ReportColumn {
                        key: (*k).to_owned(),
                        label: ctx.t(l),
                        unit: u.map(|u| ctx.t(u)),
                    })
                    .collect(),
                rows: Vec::new(),
                chart: None,
                listed: Vec::new(),
            },
            suppressed: 0,
            row: Vec::new(),
            row_counts: Vec::new(),
            counts: Vec::new(),
            total_label: ctx.region_total(),
            region_view: ctx.region_view,
            derived: Vec::new(),
        }
    }

    /// Declares column `column` computed from columns `from` in the same row (a rate
    /// from its numerator and denominator): it is withheld wherever one of them is not
    /// shown, so that it cannot give them back.
    pub fn derived(mut self, column: usize, from: &[usize]) -> Table {
        self.derived.push((column, from.to_vec()));
        self
    }

    pub fn chart(mut self, chart: ChartSpec) -> Table {
        self.section.chart = Some(chart);
        self
    }

    pub fn text(&mut self, s: impl Into<String>) -> &mut Self {
        self.row.push(ReportCell::Text(s.into()));
        self.row_counts.push(None);
        self
    }

    /// A cell over `population`; suppressed when the rule says so.
    pub fn cell(&mut self, cell: ReportCell, population: Population) -> &mut Self {
        let count = match cell {
            ReportCell::Count(value) => Some(Count {
                member: Member {
                    value,
                    known: if population.suppressed() {
                        Known::Small
                    } else if population.all_own && population.patients > 0 {
                        Known::Own
                    } else {
                        Known::Shown
                    },
                },
                patients: population.patients,
            }),
            _ => None,
        };
        let shown = protect(cell, population);
        if shown == ReportCell::Suppressed {
            self.suppressed += 1;
        }
        self.row.push(shown);
        self.row_counts.push(count);
        self
    }

    pub fn count(&mut self, n: u64, population: Population) -> &mut Self {
        self.cell(ReportCell::Count(n), population)
    }

    /// A number with `decimals`; missing when `None`.
    pub fn number(&mut self, v: Option<f64>, decimals: u8, population: Population) -> &mut Self {
        match v {
            Some(value) if value.is_finite() => {
                self.cell(ReportCell::Number { value, decimals }, population)
            }
            _ => {
                self.row.push(ReportCell::Missing);
                self.row_counts.push(None);
                self
            }
        }
    }

    pub fn end_row(&mut self) {
        let row = std::mem::take(&mut self.row);
        let counts = std::mem::take(&mut self.row_counts);
        let is_total = row
            .iter()
            .any(|c| matches!(c, ReportCell::Text(t) if *t == self.total_label));
        self.counts.push((counts, is_total));
        self.section.rows.push(row);
    }

    pub fn finish(mut self, suppressed: &mut u64) -> ReportSection {
        self.complete_suppression();
        *suppressed += self.suppressed;
        self.section
    }

    fn withhold(&mut self, row: usize, col: usize) {
        if let Some(cell) = self.section.rows.get_mut(row).and_then(|r| r.get_mut(col))
            && matches!(cell, ReportCell::Count(_) | ReportCell::Number { .. })
        {
            *cell = ReportCell::Withheld;
            self.suppressed += 1;
        }
    }

    /// Complementary suppression over every block of rows closed by a region total,
    /// then the derived columns.
    fn complete_suppression(&mut self) {
        let mut blocks: Vec<(Vec<usize>, usize)> = Vec::new();
        let mut parts = Vec::new();
        for (i, (_, is_total)) in self.counts.iter().enumerate() {
            if *is_total {
                blocks.push((std::mem::take(&mut parts), i));
            } else {
                parts.push(i);
            }
        }
        let width = self.section.columns.len();
        for (parts, total_row) in blocks {
            for col in 0..width {
                let at = |r: usize| {
                    self.counts
                        .get(r)
                        .and_then(|(c, _)| c.get(col).copied().flatten())
                };
                let Some(total) = at(total_row) else { continue };
                let Some(mut members) =
                    parts.iter().map(|r| at(*r)).collect::<Option<Vec<Count>>>()
                else {
                    continue;
                };
                if !self.region_view {
                    // The rows the viewer does not see, as one part: the total less the
                    // rows shown.
                    let value = total
                        .member
                        .value
                        .saturating_sub(members.iter().map(|m| m.member.value).sum());
                    let patients = total
                        .patients
                        .saturating_sub(members.iter().map(|m| m.patients).sum());
                    if value > 0 {
                        members.push(Count {
                            member: Member {
                                value,
                                known: if patients < MIN_PATIENTS {
                                    Known::Small
                                } else {
                                    Known::Unknown
                                },
                            },
                            patients,
                        });
                    }
                }
                let line: Vec<Member> = members.iter().map(|m| m.member).collect();
                let w = complementary(total.member, &line);
                for i in w.parts {
                    if let Some(r) = parts.get(i) {
                        self.withhold(*r, col);
                    }
                }
                if w.total {
                    self.withhold(total_row, col);
                }
            }
        }
        let derived = std::mem::take(&mut self.derived);
        for r in 0..self.section.rows.len() {
            for (col, from) in &derived {
                let hidden = from.iter().any(|f| {
                    matches!(
                        self.section.rows[r].get(*f),
                        Some(ReportCell::Suppressed | ReportCell::Withheld)
                    )
                });
                if hidden {
                    self.withhold(r, *col);
                }
            }
        }
    }
}

/// A share in percent; `None` when the denominator is zero.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}
