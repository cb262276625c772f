//! What every fold shares: which plans a report counts, whose rows a viewer sees, the
//! labels of organisations, pathways and stages, and a table builder that applies the
//! small-cell rule cell by cell and counts what it suppressed.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::facts::ReportFactsRow;
use super::filter::ReportFilter;
use super::privacy::{Population, protect};
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

/// A section being built: cells pass through the small-cell rule as they are added.
#[derive(Debug)]
pub struct Table {
    pub section: ReportSection,
    pub suppressed: u64,
    row: Vec<ReportCell>,
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
        }
    }

    pub fn chart(mut self, chart: ChartSpec) -> Table {
        self.section.chart = Some(chart);
        self
    }

    pub fn text(&mut self, s: impl Into<String>) -> &mut Self {
        self.row.push(ReportCell::Text(s.into()));
        self
    }

    /// A cell over `population`; suppressed when the rule says so.
    pub fn cell(&mut self, cell: ReportCell, population: Population) -> &mut Self {
        let shown = protect(cell, population);
        if shown == ReportCell::Suppressed {
            self.suppressed += 1;
        }
        self.row.push(shown);
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
                self
            }
        }
    }

    pub fn end_row(&mut self) {
        let row = std::mem::take(&mut self.row);
        self.section.rows.push(row);
    }

    pub fn finish(self, suppressed: &mut u64) -> ReportSection {
        *suppressed += self.suppressed;
        self.section
    }
}

/// A share in percent; `None` when the denominator is zero.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}
