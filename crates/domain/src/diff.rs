//! What changes between two versions of a pathway, for migrating a running plan and
//! for the version browser: stages, items, goals, variance codes and schedule rules
//! added, removed or changed (by code).

use serde::Serialize;
use serde_json::Value;

use crate::template::PathwayTemplate;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
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
    for (code, v) in &new {
        match old.iter().find(|(k, _)| k == code) {
            None => c.added.push(code.clone()),
            Some((_, ov)) if ov != v => c.changed.push(code.clone()),
            Some(_) => {}
        }
    }
    for (code, _) in &old {
        if !new.iter().any(|(k, _)| k == code) {
            c.removed.push(code.clone());
        }
    }
    c
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
