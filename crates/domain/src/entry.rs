//! Entry validation against the pinned template, composite scores, and the stage state
//! machine of a care plan.

use crate::rules::Rule;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::error::{EntryRejection, FieldError};
use crate::template::{ItemType, PathwayTemplate};

/// Longest free text accepted in a note or text item.
pub const MAX_TEXT_CHARS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Assessment,
    Note,
    Variance,
    StageStart,
    StageEnd,
    /// A hand-over transition (proposed, accepted, declined, withdrawn).
    Handover,
    /// A report back (返書) sent to the planning organisation.
    Report,
    /// A plan lifecycle event: completed, withdrawn, migrated to another version.
    Lifecycle,
    /// A per-patient target or interval, with its reason.
    Individualize,
    /// Voids the chain it `amends` (記録の取消: e.g. written on the wrong patient); it
    /// stays in the hash chain and counts for nothing, nor does the chain it voids.
    EnteredInError,
    /// A hand-off sheet of the shared forms (地域生活連携シート, 入院時情報提供書 …),
    /// written through its own endpoint and checked against `pathways/care-forms.toml`.
    Sheet,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Assessment => "assessment",
            EntryKind::Note => "note",
            EntryKind::Variance => "variance",
            EntryKind::StageStart => "stage_start",
            EntryKind::StageEnd => "stage_end",
            EntryKind::Handover => "handover",
            EntryKind::Report => "report",
            EntryKind::Lifecycle => "lifecycle",
            EntryKind::Individualize => "individualize",
            EntryKind::EnteredInError => "entered_in_error",
            EntryKind::Sheet => "sheet",
        }
    }

    /// Kinds a client posts to the entries endpoint; the others are written by their own
    /// use cases (hand-over, report, lifecycle, individualisation).
    pub fn is_clinical(self) -> bool {
        matches!(
            self,
            EntryKind::Assessment
                | EntryKind::Note
                | EntryKind::Variance
                | EntryKind::StageStart
                | EntryKind::StageEnd
        )
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "assessment" => EntryKind::Assessment,
            "note" => EntryKind::Note,
            "variance" => EntryKind::Variance,
            "stage_start" => EntryKind::StageStart,
            "stage_end" => EntryKind::StageEnd,
            "handover" => EntryKind::Handover,
            "report" => EntryKind::Report,
            "lifecycle" => EntryKind::Lifecycle,
            "individualize" => EntryKind::Individualize,
            "entered_in_error" => EntryKind::EnteredInError,
            "sheet" => EntryKind::Sheet,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Active,
    Completed,
    Withdrawn,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Active => "active",
            PlanStatus::Completed => "completed",
            PlanStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => PlanStatus::Active,
            "completed" => PlanStatus::Completed,
            "withdrawn" => PlanStatus::Withdrawn,
            _ => return None,
        })
    }
}

/// Where a care plan stands in its pathway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanState {
    pub status: PlanStatus,
    pub current_stage: String,
    /// A `stage_start` entry exists for the current stage.
    pub stage_started: bool,
    /// A `stage_end` entry exists for the current stage.
    pub stage_ended: bool,
    pub started_at: DateTime<Utc>,
}

/// A variance as sent by a client.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VarianceInput {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The goal this variance explains, if any (an automatic variance for that goal is
    /// then not raised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
}

/// An entry as sent by a client, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub stage: String,
    pub kind: EntryKind,
    pub effective_at: DateTime<Utc>,
    pub values: Map<String, Value>,
    pub note: Option<String>,
    pub variance: Option<VarianceInput>,
    /// Set for an amendment: the entry being corrected (already checked to exist).
    pub amends: Option<AmendTarget>,
    pub reason: Option<String>,
}

/// What an amendment (or a void) needs to know about the entry it names: a correction
/// names the current head of its chain, so a superseded version or a voided chain is
/// refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmendTarget {
    pub stage: String,
    pub kind: EntryKind,
    /// The target is itself an amendment (a later version of its chain).
    pub is_amendment: bool,
    /// The target was superseded: a later correction of its chain exists.
    pub is_already_amended: bool,
    /// The current head of the target's chain, when the target was superseded.
    pub head: Option<uuid::Uuid>,
    /// The target is a void or belongs to a voided chain.
    pub is_voided: bool,
}

/// The values to store: the client's values plus every composite the server computed.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedEntry {
    pub values: Map<String, Value>,
}

/// Checks `entry` against the pinned template and the plan's state.
///
/// `now` bounds `effective_at` (an entry may not be dated in the future beyond a small
/// clock skew). All field errors are collected; a state conflict is reported alone.
pub fn validate_entry(
    template: &PathwayTemplate,
    state: &PlanState,
    entry: &NewEntry,
    now: DateTime<Utc>,
) -> Result<ValidatedEntry, EntryRejection> {
    let mut errors = Vec::new();
    let is_void = entry.kind == EntryKind::EnteredInError;
    if !entry.kind.is_clinical() && !is_void {
        return Err(EntryRejection::Invalid(vec![FieldError::new(
            "kind",
            Rule::Allowed,
            format!(
                "{} entries are written through their own endpoint",
                entry.kind.as_str()
            ),
        )]));
    }
    if state.status != PlanStatus::Active {
        return Err(EntryRejection::Conflict {
            code: "plan_not_active",
            message: format!(
                "the care plan is {} and takes no new entries",
                state.status.as_str()
            ),
        });
    }
    let stage_known = template.stage(&entry.stage).is_some();
    if !stage_known {
        errors.push(FieldError::new(
            "stage",
            Rule::UnknownStage,
            format!(
                "stage `{}` is not defined in {} v{}",
                entry.stage, template.code, template.version
            ),
        ));
    }
    if entry.effective_at > now + chrono::Duration::minutes(5) {
        errors.push(FieldError::new(
            "effective_at",
            Rule::InFuture,
            "effective_at must not be in the future",
        ));
    }
    if entry.effective_at < state.started_at {
        errors.push(FieldError::new(
            "effective_at",
            Rule::BeforePlanStart,
            "effective_at must not be before the care plan started",
        ));
    }
    if let Some(note) = &entry.note {
        check_text("note", note, &mut errors);
    }

    match &entry.amends {
        Some(target) => {
            if target.is_voided {
                errors.push(FieldError::new(
                    "amends",
                    Rule::Voided,
                    "this entry was entered in error (voided); a voided entry is neither corrected nor voided again",
                ));
            } else if target.is_already_amended {
                errors.push(FieldError::new(
                    "amends",
                    Rule::AlreadyAmended,
                    match target.head {
                        Some(head) => format!(
                            "this version was superseded; a correction names the current head of its chain ({head})"
                        ),
                        None => "this version was superseded; a correction names the current head of its chain".to_owned(),
                    },
                ));
            }
            if is_void {
                if !target.kind.is_clinical() {
                    errors.push(FieldError::new(
                        "amends",
                        Rule::NotAllowed,
                        format!(
                            "{} entries are not voided; only clinical entries are",
                            target.kind.as_str()
                        ),
                    ));
                }
            } else if target.kind != entry.kind {
                errors.push(FieldError::new(
                    "kind",
                    Rule::AmendKind,
                    format!(
                        "an amendment must keep the kind of the amended entry ({})",
                        target.kind.as_str()
                    ),
                ));
            }
            if target.stage != entry.stage {
                errors.push(FieldError::new(
                    "stage",
                    Rule::AmendStage,
                    format!(
                        "an amendment must keep the stage of the amended entry ({})",
                        target.stage
                    ),
                ));
            }
            if entry.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                errors.push(FieldError::new(
                    "reason",
                    Rule::Required,
                    if is_void {
                        "voiding an entry needs a reason"
                    } else {
                        "an amendment needs a reason"
                    },
                ));
            } else if let Some(r) = &entry.reason {
                check_text("reason", r, &mut errors);
            }
        }
        None => {
            if is_void {
                errors.push(FieldError::new(
                    "amends",
                    Rule::Required,
                    "an entered-in-error entry names in `amends` the entry it voids",
                ));
            }
            if entry.reason.is_some() {
                errors.push(FieldError::new(
                    "reason",
                    Rule::NotAllowed,
                    "reason is only for amendments (set `amends`)",
                ));
            }
            if stage_known && errors.is_empty() {
                check_stage_transition(template, state, entry)?;
            }
        }
    }

    // Kind-specific shape.
    match entry.kind {
        EntryKind::Assessment => {
            if entry.values.is_empty() {
                errors.push(FieldError::new(
                    "values",
                    Rule::Required,
                    "an assessment must record at least one value",
                ));
            }
        }
        EntryKind::Note => {
            if entry.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
                errors.push(FieldError::new("note", Rule::Required, "a note needs text"));
            }
            if !entry.values.is_empty() {
                errors.push(FieldError::new(
                    "values",
                    Rule::NotAllowed,
                    "a note records no values; use an assessment",
                ));
            }
        }
        EntryKind::Variance => match &entry.variance {
            None => errors.push(FieldError::new(
                "variance",
                Rule::Required,
                "a variance entry needs a variance code",
            )),
            Some(v) => {
                if template.variance(&v.code).is_none() {
                    errors.push(FieldError::new(
                        "variance.code",
                        Rule::UnknownVariance,
                        format!(
                            "variance code `{}` is not defined in {} v{}",
                            v.code, template.code, template.version
                        ),
                    ));
                }
                if let Some(n) = &v.note {
                    check_text("variance.note", n, &mut errors);
                }
                if let Some(g) = &v.goal
                    && !template.goals.iter().any(|x| &x.code == g)
                {
                    errors.push(FieldError::new(
                        "variance.goal",
                        Rule::UnknownGoal,
                        format!(
                            "goal `{g}` is not defined in {} v{}",
                            template.code, template.version
                        ),
                    ));
                }
            }
        },
        EntryKind::StageStart | EntryKind::StageEnd => {}
        EntryKind::EnteredInError => {
            if !entry.values.is_empty() {
                errors.push(FieldError::new(
                    "values",
                    Rule::NotAllowed,
                    "an entered-in-error entry records no values",
                ));
            }
        }
        EntryKind::Handover
        | EntryKind::Report
        | EntryKind::Lifecycle
        | EntryKind::Individualize
        | EntryKind::Sheet => {}
    }
    if entry.kind != EntryKind::Variance && entry.variance.is_some() {
        errors.push(FieldError::new(
            "variance",
            Rule::NotAllowed,
            "only variance entries carry a variance",
        ));
    }

    let values = check_values(template, &entry.stage, &entry.values, &mut errors);

    // Items required at stage start or end.
    if stage_known && entry.amends.is_none() {
        for item in &template.items {
            let required = match entry.kind {
                EntryKind::StageStart => item.required_at_start.contains(&entry.stage),
                EntryKind::StageEnd => item.required_at_end.contains(&entry.stage),
                _ => false,
            };
            // A value that was sent but is invalid already has its own error.
            let sent = entry.values.contains_key(&item.code);
            if required && !sent && !values.contains_key(&item.code) {
                errors.push(FieldError::new(
                    format!("values.{}", item.code),
                    Rule::Required,
                    format!(
                        "`{}` ({}) is required when the {} stage {}",
                        item.code,
                        item.title.ja,
                        entry.stage,
                        if entry.kind == EntryKind::StageStart {
                            "starts"
                        } else {
                            "ends"
                        }
                    ),
                ));
            }
        }
    }

    if errors.is_empty() {
        Ok(ValidatedEntry { values })
    } else {
        Err(EntryRejection::Invalid(errors))
    }
}

fn check_text(field: &str, text: &str, errors: &mut Vec<FieldError>) {
    if text.chars().count() > MAX_TEXT_CHARS {
        errors.push(FieldError::new(
            field,
            Rule::TooLong,
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if text.chars().any(|c| c == '\0') {
        errors.push(FieldError::new(
            field,
            Rule::ControlCharacter,
            "must not contain NUL characters",
        ));
    }
}

fn check_stage_transition(
    template: &PathwayTemplate,
    state: &PlanState,
    entry: &NewEntry,
) -> Result<(), EntryRejection> {
    let conflict = |message: String| EntryRejection::Conflict {
        code: "stage_out_of_order",
        message,
    };
    let current = &state.current_stage;
    match entry.kind {
        EntryKind::StageStart => {
            if entry.stage == *current && !state.stage_started {
                return Ok(());
            }
            if state.stage_ended && template.next_stages(current).contains(&entry.stage) {
                return Ok(());
            }
            Err(conflict(format!(
                "stage `{}` cannot start now: the plan is in stage `{current}` ({})",
                entry.stage,
                stage_phase(state)
            )))
        }
        EntryKind::StageEnd => {
            if entry.stage == *current && state.stage_started && !state.stage_ended {
                return Ok(());
            }
            Err(conflict(format!(
                "stage `{}` cannot end now: the plan is in stage `{current}` ({})",
                entry.stage,
                stage_phase(state)
            )))
        }
        EntryKind::Assessment | EntryKind::Variance => {
            if entry.stage == *current {
                return Ok(());
            }
            Err(conflict(format!(
                "entries are recorded in the current stage `{current}`, not `{}`",
                entry.stage
            )))
        }
        EntryKind::Note | EntryKind::EnteredInError => Ok(()),
        EntryKind::Handover
        | EntryKind::Report
        | EntryKind::Lifecycle
        | EntryKind::Individualize
        | EntryKind::Sheet => Ok(()),
    }
}

fn stage_phase(state: &PlanState) -> &'static str {
    match (state.stage_started, state.stage_ended) {
        (false, _) => "not started",
        (true, false) => "in progress",
        (true, true) => "ended",
    }
}

/// The plan state after `entry` (already validated) is appended.
pub fn next_state(template: &PathwayTemplate, state: &PlanState, entry: &NewEntry) -> PlanState {
    let mut next = state.clone();
    if entry.amends.is_some() {
        return next;
    }
    match entry.kind {
        EntryKind::StageStart => {
            next.current_stage = entry.stage.clone();
            next.stage_started = true;
            next.stage_ended = false;
        }
        EntryKind::StageEnd => {
            next.stage_ended = true;
            // A linear pathway is complete when its last stage ends.
            if !template.cyclical && template.next_stages(&entry.stage).is_empty() {
                next.status = PlanStatus::Completed;
            }
        }
        _ => {}
    }
    next
}

/// Type- and range-checks every value and computes the composites.
fn check_values(
    template: &PathwayTemplate,
    stage: &str,
    values: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (code, value) in values {
        let field = format!("values.{code}");
        let Some(item) = template.item(code) else {
            errors.push(FieldError::new(
                field,
                Rule::UnknownItem,
                format!(
                    "`{code}` is not an item of {} v{}",
                    template.code, template.version
                ),
            ));
            continue;
        };
        if template.stage(stage).is_some() && !item.stages.iter().any(|s| s == stage) {
            errors.push(FieldError::new(
                field.clone(),
                Rule::NotInStage,
                format!("`{code}` is not recorded in the {stage} stage"),
            ));
        }
        if let Err(e) = check_value(item, value) {
            errors.push(FieldError::new(field, e.0, e.1));
            continue;
        }
        out.insert(code.clone(), value.clone());
    }
    compute_composites(template, values, &mut out, errors);
    check_subtotals(template, &out, errors);
    out
}

/// A composite total stored with every one of its subtotals (FIM total with motor and
/// cognitive) must equal their sum, also when the subtotals were sent without their items.
fn check_subtotals(
    template: &PathwayTemplate,
    out: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) {
    for item in &template.items {
        let Some(total) = out.get(&item.code).and_then(Value::as_f64) else {
            continue;
        };
        let Some(parts) = template.subtotals(&item.code) else {
            continue;
        };
        let values: Option<Vec<f64>> = parts
            .iter()
            .map(|p| out.get(&p.code).and_then(Value::as_f64))
            .collect();
        let Some(values) = values else {
            continue;
        };
        let sum: f64 = values.iter().sum();
        let field = format!("values.{}", item.code);
        let reported = errors.iter().any(|e| {
            e.field == field
                || parts
                    .iter()
                    .any(|p| e.field == format!("values.{}", p.code))
        });
        if (total - sum).abs() >= 1e-9 && !reported {
            let names: Vec<&str> = parts.iter().map(|p| p.code.as_str()).collect();
            errors.push(FieldError::new(
                field,
                Rule::CompositeMismatch,
                format!(
                    "`{}` is {} but {} add up to {}",
                    item.code,
                    out[&item.code],
                    names.join(" + "),
                    sum
                ),
            ));
        }
    }
}

type Broken = (Rule, String);

fn check_value(item: &crate::template::Item, value: &Value) -> Result<(), Broken> {
    if value.is_null() {
        return Err((Rule::Type, "must not be null".into()));
    }
    match item.item_type {
        ItemType::Integer | ItemType::Composite => {
            let Some(n) = value.as_i64() else {
                return Err(match value {
                    Value::Number(_) => (Rule::Type, "must be a whole number".into()),
                    _ => (Rule::Type, "must be an integer".into()),
                });
            };
            check_number(item, n as f64)?;
            if let Some(allowed) = &item.allowed
                && !allowed.contains(&n)
            {
                let list: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
                return Err((Rule::Allowed, format!("must be one of {}", list.join(", "))));
            }
            Ok(())
        }
        ItemType::Decimal => {
            let Some(n) = value.as_f64().filter(|n| n.is_finite()) else {
                return Err((Rule::Type, "must be a number".into()));
            };
            check_number(item, n)
        }
        ItemType::Boolean => value
            .as_bool()
            .map(|_| ())
            .ok_or((Rule::Type, "must be true or false".into())),
        ItemType::Choice => {
            let Some(s) = value.as_str() else {
                return Err((Rule::Type, "must be an option code (a string)".into()));
            };
            let options = item.options.as_deref().unwrap_or_default();
            if options.iter().any(|o| o.code == s) {
                Ok(())
            } else {
                let list: Vec<&str> = options.iter().map(|o| o.code.as_str()).collect();
                Err((Rule::Allowed, format!("must be one of {}", list.join(", "))))
            }
        }
        ItemType::Date => {
            let ok = value
                .as_str()
                .is_some_and(|s| s.len() == 10 && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok());
            if ok {
                Ok(())
            } else {
                Err((Rule::Type, "must be a valid date YYYY-MM-DD".into()))
            }
        }
        ItemType::Datetime => {
            let ok = value
                .as_str()
                .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok());
            if ok {
                Ok(())
            } else {
                Err((
                    Rule::Type,
                    "must be an RFC 3339 date-time with offset, e.g. 2026-11-20T10:00:00+09:00"
                        .into(),
                ))
            }
        }
        ItemType::Text => match value.as_str() {
            Some(s) if s.trim().is_empty() => Err((Rule::Required, "must not be blank".into())),
            Some(s) if s.chars().count() > MAX_TEXT_CHARS => Err((
                Rule::TooLong,
                format!("must be at most {MAX_TEXT_CHARS} characters"),
            )),
            Some(_) => Ok(()),
            None => Err((Rule::Type, "must be text".into())),
        },
    }
}

fn check_number(item: &crate::template::Item, n: f64) -> Result<(), Broken> {
    let unit = item
        .unit
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    match (item.min, item.max) {
        (Some(min), Some(max)) if n < min || n > max => {
            return Err((
                Rule::Range,
                format!("must be between {min} and {max}{unit}"),
            ));
        }
        (Some(min), None) if n < min => {
            return Err((Rule::Range, format!("must be at least {min}{unit}")));
        }
        (None, Some(max)) if n > max => {
            return Err((Rule::Range, format!("must be at most {max}{unit}")));
        }
        _ => {}
    }
    if let Some(step) = item.step
        && step > 0.0
        && ((n / step).round() * step - n).abs() > 1e-9
    {
        return Err((Rule::Step, format!("must be a multiple of {step}")));
    }
    Ok(())
}

/// Fills in every composite whose components are all present; a composite sent by the
/// client must equal the computed sum. A composite with only some components present is
/// an error unless those components complete another composite (a motor-only FIM).
fn compute_composites(
    template: &PathwayTemplate,
    sent: &Map<String, Value>,
    out: &mut Map<String, Value>,
    errors: &mut Vec<FieldError>,
) {
    let composites: Vec<&crate::template::Item> = template
        .items
        .iter()
        .filter(|i| i.item_type == ItemType::Composite)
        .collect();
    let complete = |c: &crate::template::Item| {
        c.components
            .as_deref()
            .unwrap_or_default()
            .iter()
            .all(|k| sent.contains_key(k))
    };
    for c in &composites {
        let components = c.components.as_deref().unwrap_or_default();
        let present: Vec<&String> = components
            .iter()
            .filter(|k| sent.contains_key(*k))
            .collect();
        let field = format!("values.{}", c.code);
        if present.is_empty() {
            continue;
        }
        if present.len() < components.len() {
            let covered = present.iter().all(|k| {
                composites.iter().any(|d| {
                    d.code != c.code
                        && complete(d)
                        && d.components.as_deref().unwrap_or_default().contains(k)
                })
            });
            if !covered || sent.contains_key(&c.code) {
                let missing: Vec<&str> = components
                    .iter()
                    .filter(|k| !sent.contains_key(*k))
                    .map(|s| s.as_str())
                    .collect();
                errors.push(FieldError::new(
                    field,
                    Rule::Incomplete,
                    format!(
                        "`{}` is computed from all its items; missing: {}",
                        c.code,
                        missing.join(", ")
                    ),
                ));
            }
            continue;
        }
        // All components present; only sum those that passed their own checks.
        let mut sum = 0.0;
        let mut all_valid = true;
        let mut all_int = true;
        for k in components {
            match out.get(k).and_then(|v| v.as_f64()) {
                Some(v) => {
                    sum += v;
                    all_int &= out.get(k).is_some_and(|v| v.is_i64());
                }
                None => all_valid = false,
            }
        }
        if !all_valid {
            continue;
        }
        let computed = if all_int {
            Value::from(sum as i64)
        } else {
            Value::from(sum)
        };
        if let Some(sent_total) = sent.get(&c.code) {
            let agrees = sent_total.as_f64().is_some_and(|v| (v - sum).abs() < 1e-9);
            if !agrees {
                errors.push(FieldError::new(
                    field,
                    Rule::CompositeMismatch,
                    format!(
                        "`{}` is {} but its items add up to {}",
                        c.code, sent_total, computed
                    ),
                ));
                continue;
            }
        }
        out.insert(c.code.clone(), computed);
    }
}
