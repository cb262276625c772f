//! What changes between two versions of a pathway, for migrating a running plan and
//! for the version browser: stages, items, goals, variance codes and schedule rules
//! added, removed or changed (by code), each with its title and, when changed, the fields
//! that differ with their old and new values. For a running plan, the preview also names
//! the items the new version's conditions read that the plan has not recorded, and the
//! recorded items the new version no longer has.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::facts::EntryFacts;
use crate::template::{Condition, PathwayTemplate};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// One line per added, removed or changed code, in that order.
    pub details: Vec<ChangeDetail>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One added, removed or changed element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeDetail {
    pub code: String,
    pub change: ChangeKind,
    /// The element's title (`{ja, en}`) in the newer version (the older one when removed).
    pub title: Value,
    /// For a changed element: every top-level field that differs, old and new.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

/// A field of a changed element, before and after (`null` when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TemplateDiff {
    pub stages: Changes,
    pub items: Changes,
    pub goals: Changes,
    pub variances: Changes,
    pub schedule: Changes,
}

fn by_code<T: Serialize>(list: &[T], code: impl Fn(&T) -> &str) -> Vec<(String, Value)> {
    list.iter()
        .map(|x| {
            (
                code(x).to_owned(),
                serde_json::to_value(x).unwrap_or(Value::Null),
            )
        })
        .collect()
}

fn compare(old: Vec<(String, Value)>, new: Vec<(String, Value)>) -> Changes {
    let mut c = Changes::default();
    let mut changed = Vec::new();
    for (code, v) in &new {
        match old.iter().find(|(k, _)| k == code) {
            None => {
                c.added.push(code.clone());
                c.details
                    .push(detail(code, ChangeKind::Added, v, Vec::new()));
            }
            Some((_, ov)) if ov != v => {
                c.changed.push(code.clone());
                changed.push(detail(code, ChangeKind::Changed, v, fields(ov, v)));
            }
            Some(_) => {}
        }
    }
    for (code, v) in &old {
        if !new.iter().any(|(k, _)| k == code) {
            c.removed.push(code.clone());
            c.details
                .push(detail(code, ChangeKind::Removed, v, Vec::new()));
        }
    }
    c.details.extend(changed);
    c
}

fn detail(code: &str, change: ChangeKind, v: &Value, fields: Vec<FieldChange>) -> ChangeDetail {
    ChangeDetail {
        code: code.to_owned(),
        change,
        title: v.get("title").cloned().unwrap_or(Value::Null),
        fields,
    }
}

/// The top-level fields of two serialised elements that differ, in key order.
fn fields(old: &Value, new: &Value) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let before = o.get(k).cloned().unwrap_or(Value::Null);
            let after = n.get(k).cloned().unwrap_or(Value::Null);
            (before != after).then(|| FieldChange {
                field: k.clone(),
                before,
                after,
            })
        })
        .collect()
}

pub fn diff(old: &PathwayTemplate, new: &PathwayTemplate) -> TemplateDiff {
    TemplateDiff {
        stages: compare(
            by_code(&old.stages, |s| &s.code),
            by_code(&new.stages, |s| &s.code),
        ),
        items: compare(
            by_code(&old.items, |s| &s.code),
            by_code(&new.items, |s| &s.code),
        ),
        goals: compare(
            by_code(&old.goals, |s| &s.code),
            by_code(&new.goals, |s| &s.code),
        ),
        variances: compare(
            by_code(&old.variances, |s| &s.code),
            by_code(&new.variances, |s| &s.code),
        ),
        schedule: compare(
            by_code(&old.schedule, |s| &s.code),
            by_code(&new.schedule, |s| &s.code),
        ),
    }
}

/// What migrating a running plan to `new` would change: the template differences, the
/// items the new version's conditions (goal and schedule `applies_when`, schedule
/// `interval_by` and `interval_since`) read that the plan has not recorded (such goals and rules do not apply
/// until they are), and the recorded items the new version no longer defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationPreview {
    pub from_version: u32,
    pub to_version: u32,
    #[serde(flatten)]
    pub diff: TemplateDiff,
    pub needs_recording: Vec<NeedsRecording>,
    /// Items with recorded values that the new version does not define: the values stay
    /// in the record but no goal or schedule of the new version reads them.
    pub recorded_items_removed: Vec<String>,
}

/// An item the new version's conditions read and the plan has no value for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeedsRecording {
    pub item: String,
    pub title: Value,
    /// Goal and schedule rule codes that read it.
    pub read_by: Vec<String>,
}

/// The migration preview of a plan whose entries are `entries`, as recorded by `now`.
pub fn migration_preview(
    old: &PathwayTemplate,
    new: &PathwayTemplate,
    entries: &[EntryFacts],
    now: DateTime<Utc>,
) -> MigrationPreview {
    let view = crate::corrections::current_view(entries, now, now);
    let recorded = |item: &str| {
        view.iter()
            .any(|e| e.values.get(item).is_some_and(|v| !v.is_null()))
    };
    let condition_item = |c: &Condition| -> Option<String> {
        match c {
            Condition::Choice { item, .. }
            | Condition::Flag { item, .. }
            | Condition::Number { item, .. } => Some(item.clone()),
            Condition::Age { .. } => None,
        }
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for g in &new.goals {
        for c in &g.applies_when {
            if let Some(i) = condition_item(c) {
                pairs.push((i, g.code.clone()));
            }
        }
    }
    for r in &new.schedule {
        for c in &r.applies_when {
            if let Some(i) = condition_item(c) {
                pairs.push((i, r.code.clone()));
            }
        }
        if let Some(by) = &r.interval_by {
            pairs.push((by.item.clone(), r.code.clone()));
        }
        if let Some(since) = &r.interval_since {
            pairs.push((since.item.clone(), r.code.clone()));
        }
    }
    let mut readers: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (item, by) in &pairs {
        let list = readers.entry(item.as_str()).or_default();
        if !list.contains(by) {
            list.push(by.clone());
        }
    }
    let needs_recording = readers
        .into_iter()
        .filter(|(item, _)| !recorded(item))
        .map(|(item, read_by)| NeedsRecording {
            item: item.to_owned(),
            title: new
                .item(item)
                .and_then(|i| serde_json::to_value(&i.title).ok())
                .unwrap_or(Value::Null),
            read_by,
        })
        .collect();
    let mut recorded_items_removed: Vec<String> = old
        .items
        .iter()
        .filter(|i| new.item(&i.code).is_none() && recorded(&i.code))
        .map(|i| i.code.clone())
        .collect();
    recorded_items_removed.sort();
    MigrationPreview {
        from_version: old.version,
        to_version: new.version,
        diff: diff(old, new),
        needs_recording,
        recorded_items_removed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
code = "p"
version = 1
title = { ja = "パス", en = "Path" }
[[stages]]
code = "acute"
title = { ja = "急性期", en = "Acute" }
provider_kinds = ["acute_hosp"]
[[items]]
code = "mrs"
title = { ja = "mRS", en = "mRS" }
type = "integer"
min = 0
max = 6
stages = ["acute"]
[[items]]
code = "pain_nrs"
title = { ja = "疼痛", en = "Pain" }
type = "integer"
min = 0
max = 10
stages = ["acute"]
"#;

    #[test]
    fn reports_added_removed_and_changed_by_code() {
        let old = crate::template::parse_template(BASE, None).unwrap();
        let newer = BASE
            .replace("version = 1", "version = 2")
            .replace("max = 10", "max = 9")
            .replace(
                "[[items]]\ncode = \"mrs\"",
                "[[items]]\ncode = \"nihss_total\"\ntitle = { ja = \"NIHSS\", en = \"NIHSS\" }\ntype = \"integer\"\nmin = 0\nmax = 42\nstages = [\"acute\"]\n[[items]]\ncode = \"mrs_x\"",
            );
        let new = crate::template::parse_template(&newer, None).unwrap();
        let d = diff(&old, &new);
        assert_eq!(d.items.added, vec!["nihss_total", "mrs_x"]);
        assert_eq!(d.items.removed, vec!["mrs"]);
        assert_eq!(d.items.changed, vec!["pain_nrs"]);
        assert!(d.stages.is_empty());
        assert!(diff(&old, &old).items.is_empty());
    }
}
