//! The pathway template language: model, parser with file:line errors, canonical hash,
//! JSON Schema and version diff.

mod model;
mod parse;
mod scales;
mod variants;

pub use model::*;
pub use parse::{Diagnostic, parse_template};
pub use scales::{BARTHEL_TOTAL, FIM_TOTAL, fit};
pub use variants::{ResolvedIndices, choose_variant};

use crate::canonical::{sha256_tagged, to_canonical_string};

impl Goal {
    /// The stage that owns the goal on the plan page: its `scope` stage, else its `due`
    /// stage; `None`: the whole plan (全体).
    pub fn owner_stage(&self) -> Option<&str> {
        match &self.scope {
            Some(Scope::Stage { stage, .. }) => Some(stage.as_str()),
            _ => self.due.as_ref().map(|d| d.stage.as_str()),
        }
    }
}

impl PathwayTemplate {
    /// Canonical JSON of the template (sorted keys): what is stored as the version snapshot.
    pub fn canonical_json(&self) -> String {
        // A template always serialises: it holds only strings, numbers, bools and lists.
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        to_canonical_string(&value)
    }

    /// The stages the planning organisation owns when a plan is enrolled: the first stage
    /// and every stage its provider kinds also take.
    pub fn planner_stages(&self) -> Vec<String> {
        let Some(first) = self.first_stage() else {
            return Vec::new();
        };
        self.stages
            .iter()
            .filter(|s| {
                s.code == first.code
                    || s.provider_kinds
                        .iter()
                        .any(|k| first.provider_kinds.contains(k))
            })
            .map(|s| s.code.clone())
            .collect()
    }

    /// The stages an organisation providing `own_kinds` owns when it enrols a patient: on a
    /// cyclical pathway the stages whose first provider kind is its own (a clinic is the
    /// かかりつけ医), else [`Self::planner_stages`].
    pub fn enrolling_stages(&self, own_kinds: &[ProviderKind]) -> Vec<String> {
        let own: Vec<String> = self
            .stages
            .iter()
            .filter(|s| {
                s.provider_kinds
                    .first()
                    .is_some_and(|k| own_kinds.contains(k))
            })
            .map(|s| s.code.clone())
            .collect();
        if self.cyclical && !own.is_empty() {
            own
        } else {
            self.planner_stages()
        }
    }

    /// `sha256:<hex>` of the canonical JSON: the version's content hash.
    pub fn content_hash(&self) -> String {
        sha256_tagged(self.canonical_json().as_bytes())
    }
}

/// The JSON Schema of the template format, for editors.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(PathwayTemplate);
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}

/// Splits a template file name `v<N>.toml` into its version number.
pub fn version_from_file_name(name: &str) -> Option<u32> {
    let n = name.strip_prefix('v')?.strip_suffix(".toml")?;
    if n.starts_with('0') || n.is_empty() {
        return None;
    }
    n.parse().ok()
}

#[cfg(test)]
mod owner_tests {
    use super::parse_template;

    #[test]
    fn a_goal_belongs_to_its_scope_stage_else_its_due_stage_else_the_whole_plan() {
        let t = parse_template(include_str!("../../../../pathways/diabetes/v2.toml"), None)
            .expect("diabetes v2");
        let owner = |code: &str| {
            t.goals
                .iter()
                .find(|g| g.code == code)
                .unwrap_or_else(|| panic!("goal {code}"))
                .owner_stage()
        };
        // Rolling 3-month scope, due 6 months after the introduction starts.
        assert_eq!(owner("m1_hba1c"), Some("intro"));
        // Neither a stage scope nor a due stage.
        assert_eq!(owner("m8_eye_exam"), None);
        let stroke = parse_template(include_str!("../../../../pathways/stroke/v2.toml"), None)
            .expect("stroke v2");
        for g in &stroke.goals {
            if let Some(super::Scope::Stage { stage, .. }) = &g.scope {
                assert_eq!(g.owner_stage(), Some(stage.as_str()), "{}", g.code);
            }
        }
    }
}
