//! Values for a scale the template defines as a composite item (FIM: `fim_total` over its
//! 18 items; Barthel Index: `barthel_total` over its 10), built from the template itself,
//! so that the list of a scale's items exists once: in the pathway file.

use serde_json::{Map, Value, json};

use super::model::{Item, ItemType, PathwayTemplate};

/// FIM total of the published templates: 18 items, each 1–7.
pub const FIM_TOTAL: &str = "fim_total";
/// Barthel Index total of the published templates: 10 items, each from its allowed set.
pub const BARTHEL_TOTAL: &str = "barthel_total";

impl PathwayTemplate {
    /// The items a composite item sums, in the template's order; `None` when `code` is
    /// not a composite item of this template.
    pub fn components(&self, code: &str) -> Option<&[String]> {
        let item = self.item(code)?;
        if item.item_type != ItemType::Composite {
            return None;
        }
        item.components.as_deref()
    }

    /// One value for each item the composite `code` sums (not the composite itself, which
    /// the service computes): `score(i, item)` for the `i`-th component, brought into the
    /// item's range (`min`/`max`, or the nearest `allowed` value). `None` when `code` is
    /// not a composite item or names a component the template does not define.
    pub fn scale_values(
        &self,
        code: &str,
        mut score: impl FnMut(usize, &Item) -> i64,
    ) -> Option<Map<String, Value>> {
        let components = self.components(code)?;
        let mut values = Map::new();
        for (i, c) in components.iter().enumerate() {
            let item = self.item(c)?;
            values.insert(c.clone(), json!(fit(item, score(i, item))));
        }
        Some(values)
    }

    /// The composite items that together sum the composite `code` (FIM total = motor +
    /// cognitive): other composites whose items are disjoint and cover exactly the items
    /// of `code`, in the template's order. `None` when no such split exists.
    pub fn subtotals(&self, code: &str) -> Option<Vec<&Item>> {
        let total = self.components(code)?;
        let mut covered: Vec<&str> = Vec::new();
        let mut parts = Vec::new();
        for item in &self.items {
            if item.code == code || item.item_type != ItemType::Composite {
                continue;
            }
            let Some(components) = item.components.as_deref() else {
                continue;
            };
            let inside = components.iter().all(|c| total.contains(c));
            let disjoint = components.iter().all(|c| !covered.contains(&c.as_str()));
            if inside && disjoint && components.len() < total.len() {
                covered.extend(components.iter().map(String::as_str));
                parts.push(item);
            }
        }
        (parts.len() > 1 && covered.len() == total.len()).then_some(parts)
    }

    /// [`PathwayTemplate::scale_values`] with the given scores in component order; `None`
    /// also when the number of scores differs from the number of components.
    pub fn scale_values_of(&self, code: &str, scores: &[i64]) -> Option<Map<String, Value>> {
        if self.components(code)?.len() != scores.len() {
            return None;
        }
        self.scale_values(code, |i, _| scores[i])
    }
}

/// `value` brought into what `item` accepts: its nearest allowed value (the lower one on a
/// tie), else clamped to `min`..=`max`.
pub fn fit(item: &Item, value: i64) -> i64 {
    if let Some(allowed) = item.allowed.as_deref().filter(|a| !a.is_empty()) {
        return allowed
            .iter()
            .copied()
            .min_by_key(|a| ((a - value).abs(), *a))
            .unwrap_or(value);
    }
    let mut v = value;
    if let Some(min) = item.min {
        v = v.max(min.ceil() as i64);
    }
    if let Some(max) = item.max {
        v = v.min(max.floor() as i64);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parse_template;

    const SOURCE: &str = r#"
code = "t"
version = 1
title = { ja = "t", en = "t" }

[[stages]]
code = "acute"
title = { ja = "急性期", en = "Acute" }
provider_kinds = ["acute_hosp"]

[[items]]
code = "a"
title = { ja = "a", en = "a" }
type = "integer"
min = 1
max = 7
stages = ["acute"]

[[items]]
code = "b"
title = { ja = "b", en = "b" }
type = "integer"
allowed = [0, 5, 10]
stages = ["acute"]

[[items]]
code = "total"
title = { ja = "合計", en = "Total" }
type = "composite"
min = 1
max = 17
components = ["a", "b"]
stages = ["acute"]
"#;

    fn template() -> PathwayTemplate {
        parse_template(SOURCE, Some(("t", 1))).expect("the test template parses")
    }

    #[test]
    fn builds_one_value_per_component_in_range() {
        let t = template();
        assert_eq!(t.components("total"), Some(&["a".into(), "b".into()][..]));
        let v = t.scale_values_of("total", &[9, 4]).expect("a composite");
        assert_eq!(Value::Object(v), json!({"a": 7, "b": 5}));
        let v = t.scale_values_of("total", &[0, 8]).expect("a composite");
        assert_eq!(Value::Object(v), json!({"a": 1, "b": 10}));
    }

    #[test]
    fn refuses_what_is_not_a_composite_or_the_wrong_number_of_scores() {
        let t = template();
        assert_eq!(t.components("a"), None);
        assert_eq!(t.scale_values("a", |_, _| 1), None);
        assert_eq!(t.scale_values_of("missing", &[1]), None);
        assert_eq!(t.scale_values_of("total", &[1]), None);
    }

    #[test]
    fn a_tie_between_allowed_values_takes_the_lower() {
        let t = template();
        let b = t.item("b").expect("item b");
        assert_eq!(fit(b, 5), 5);
        assert_eq!(fit(b, 8), 10);
        assert_eq!(fit(b, 7), 5);
        assert_eq!(fit(b, -3), 0);
    }
}
