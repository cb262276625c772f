//! Template variants (domain.md §3, §9.4 rule 2): a pathway prepared in several forms in
//! advance, one chosen per patient at enrolment where the pathway branches.
//!
//! A plan on a variant reads the template *resolved* for that variant: the stages, items,
//! goals and schedule rules of the variant only, with the variant's stage lengths and goal
//! targets in place. Every reader of a plan (goal engine, schedules, stage lengths, pages,
//! prints, FHIR) takes the resolved template, so no reader knows about variants.

use super::model::{GoalTarget, PathwayTemplate, Variant};
use crate::FieldError;
use crate::rules::Rule;

/// For each list of a resolved template, the index in the template it was resolved from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedIndices {
    pub stages: Vec<usize>,
    pub items: Vec<usize>,
    pub goals: Vec<usize>,
    pub schedule: Vec<usize>,
}

/// Whether something restricted to `variants` (empty: every variant) applies to `code`.
pub(crate) fn applies(variants: &[String], code: &str) -> bool {
    variants.is_empty() || variants.iter().any(|v| v == code)
}

impl PathwayTemplate {
    /// The variant `code` of this template.
    pub fn variant(&self, code: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.code == code)
    }

    /// The template as a plan on variant `code` reads it; `None` when there is no such
    /// variant.
    pub fn for_variant(&self, code: &str) -> Option<PathwayTemplate> {
        self.resolve_variant(code).map(|(t, _)| t)
    }

    /// [`Self::for_variant`] with the index each kept stage, item, goal and schedule rule
    /// had in this template (so a problem found in the resolved template can be reported at
    /// its line in the file).
    ///
    /// What is kept: whatever applies to the variant. A stage's `next` and an item's
    /// stages lose the stages left out; an item recordable in none of the kept stages is left
    /// out. The variant's stage overrides replace the stage's lengths and exit criteria, its
    /// goal overrides the target's numbers, the due offset and the titles. The resolved
    /// template names no variants.
    pub fn resolve_variant(&self, code: &str) -> Option<(PathwayTemplate, ResolvedIndices)> {
        let variant = self.variant(code)?;
        let mut t = self.clone();
        let mut idx = ResolvedIndices::default();
        t.variants = Vec::new();

        t.stages = Vec::new();
        for (i, s) in self.stages.iter().enumerate() {
            if !applies(&s.variants, code) {
                continue;
            }
            let mut s = s.clone();
            s.variants = Vec::new();
            if let Some(o) = variant.stages.get(&s.code) {
                if let Some(d) = o.expected_days {
                    s.expected_days = Some(d);
                }
                if let Some(d) = o.max_days {
                    s.max_days = Some(d);
                }
                if let Some(c) = &o.exit_criteria {
                    s.exit_criteria = Some(c.clone());
                }
            }
            idx.stages.push(i);
            t.stages.push(s);
        }
        let kept: Vec<String> = t.stages.iter().map(|s| s.code.clone()).collect();
        let is_kept = |s: &String| kept.contains(s);
        for s in &mut t.stages {
            if let Some(next) = &mut s.next {
                next.retain(is_kept);
            }
        }

        t.items = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            if !applies(&item.variants, code) {
                continue;
            }
            let mut item = item.clone();
            item.variants = Vec::new();
            item.stages.retain(is_kept);
            item.required_at_start.retain(is_kept);
            item.required_at_end.retain(is_kept);
            if item.stages.is_empty() {
                continue;
            }
            idx.items.push(i);
            t.items.push(item);
        }

        t.goals = Vec::new();
        for (i, g) in self.goals.iter().enumerate() {
            if !applies(&g.variants, code) {
                continue;
            }
            let mut g = g.clone();
            g.variants = Vec::new();
            if let Some(o) = variant.goals.get(&g.code) {
                match &mut g.target {
                    GoalTarget::Threshold { value, .. } | GoalTarget::Change { value, .. } => {
                        if let Some(v) = o.value {
                            *value = v;
                        }
                    }
                    GoalTarget::Range { min, max, .. } => {
                        if let Some(v) = o.min {
                            *min = v;
                        }
                        if let Some(v) = o.max {
                            *max = v;
                        }
                    }
                    GoalTarget::StageLength { days, .. } | GoalTarget::DaysBetween { days, .. } => {
                        if let Some(v) = o.days {
                            *days = v;
                        }
                    }
                    GoalTarget::TimeBetween { max_hours, .. } => {
                        if let Some(v) = o.max_hours {
                            *max_hours = v;
                        }
                    }
                    GoalTarget::DoneWithin { months, .. } => {
                        if let Some(v) = o.months {
                            *months = v;
                        }
                    }
                    GoalTarget::Membership { .. } => {}
                }
                if let Some(due) = &mut g.due {
                    if let Some(d) = o.due_days {
                        due.days = d;
                    }
                    if let Some(m) = o.due_months {
                        due.months = m;
                    }
                }
                if let Some(title) = &o.title {
                    g.title = title.clone();
                }
                if let Some(title) = &o.patient_title {
                    g.patient_title = Some(title.clone());
                }
            }
            idx.goals.push(i);
            t.goals.push(g);
        }

        t.schedule = Vec::new();
        for (i, r) in self.schedule.iter().enumerate() {
            if !applies(&r.variants, code) {
                continue;
            }
            let mut r = r.clone();
            r.variants = Vec::new();
            idx.schedule.push(i);
            t.schedule.push(r);
        }
        Some((t, idx))
    }
}

/// The variant a new plan on `template` takes, from the one the request names: required
/// when the template has variants, one of them; none when it has none.
pub fn choose_variant<'a>(
    template: &'a PathwayTemplate,
    requested: Option<&str>,
) -> Result<Option<&'a Variant>, FieldError> {
    let requested = requested.map(str::trim).filter(|s| !s.is_empty());
    match requested {
        None if template.variants.is_empty() => Ok(None),
        None => Err(FieldError::new(
            "variant",
            Rule::Required,
            format!(
                "{} v{} has variants; name one of: {}",
                template.code,
                template.version,
                variant_codes(template)
            ),
        )),
        Some(code) if template.variants.is_empty() => Err(FieldError::new(
            "variant",
            Rule::Unknown,
            format!(
                "{} v{} has no variants; leave `variant` out (got `{code}`)",
                template.code, template.version
            ),
        )),
        Some(code) => template.variant(code).map(Some).ok_or_else(|| {
            FieldError::new(
                "variant",
                Rule::Unknown,
                format!(
                    "`{code}` is not a variant of {} v{}; name one of: {}",
                    template.code,
                    template.version,
                    variant_codes(template)
                ),
            )
        }),
    }
}

fn variant_codes(t: &PathwayTemplate) -> String {
    t.variants
        .iter()
        .map(|v| v.code.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
