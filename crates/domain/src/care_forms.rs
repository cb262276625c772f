//! The shared forms every pathway gets (`pathways/care-forms.toml`): the hand-off sheets
//! between care managers and hospitals (地域生活連携シート A表/B表, 入院時情報提供書,
//! 退院・退所情報記録書), recorded on a care plan as `sheet` entries, and the patient
//! handbooks (糖尿病連携手帳) read from a plan.
//!
//! A sheet entry stores `{"form": <code>, "forms_version": <n>, "fields": {…}}`; its values
//! are checked here against the form's fields, the way an assessment's are checked against
//! the template's items. The file is part of the build, so a change of it is a release.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::entry::MAX_TEXT_CHARS;
use crate::error::FieldError;
use crate::rules::Rule;

/// The shared forms file, as shipped.
pub const SOURCE: &str = include_str!("../../../pathways/care-forms.toml");

/// The kind of value a sheet field records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// One of `options`.
    Choice,
    /// Any subset of `options` (checkboxes), as a list of option codes.
    Multi,
    Text,
    /// A calendar date `YYYY-MM-DD`.
    Date,
    Boolean,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Choice => "choice",
            FieldType::Multi => "multi",
            FieldType::Text => "text",
            FieldType::Date => "date",
            FieldType::Boolean => "boolean",
        }
    }
}

/// A coded option of a choice or multi field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOption {
    pub code: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetField {
    pub code: String,
    pub title: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<FieldOption>,
    /// The form is refused without it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

impl SheetField {
    /// The option's words, if `code` is one of the field's options.
    pub fn option_title(&self, code: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|o| o.code == code)
            .map(|o| o.title.as_str())
    }
}

/// A block of fields shared by several forms (自立度 appears on every hand-off sheet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetSection {
    pub code: String,
    pub title: String,
    /// The public form the fields come from.
    pub source: String,
    pub fields: Vec<SheetField>,
}

/// Who fills a form in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormAuthor {
    /// The care manager (介護支援専門員).
    CareManager,
    /// The hospital (its liaison office or ward staff).
    Hospital,
}

impl FormAuthor {
    pub fn title(self) -> &'static str {
        match self {
            FormAuthor::CareManager => "介護支援専門員",
            FormAuthor::Hospital => "医療機関",
        }
    }
}

/// One hand-off sheet: its sections in print order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetForm {
    pub code: String,
    pub title: String,
    pub short_title: String,
    pub purpose: String,
    pub author: FormAuthor,
    pub sections: Vec<String>,
    pub source: String,
}

/// One page of a patient handbook: the items it lists per visit and the scheduled visits
/// whose next due dates it shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandbookPage {
    pub code: String,
    pub title: String,
    pub items: Vec<String>,
    #[serde(default)]
    pub schedules: Vec<String>,
    /// The 糖尿病眼手帳 page: printed as its own page, from the eye-exam entries.
    #[serde(default)]
    pub eye: bool,
}

/// A patient handbook shown for plans of the listed pathways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handbook {
    pub code: String,
    pub title: String,
    pub pathways: Vec<String>,
    pub source: String,
    pub pages: Vec<HandbookPage>,
}

/// The whole shared forms file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareForms {
    pub version: u32,
    pub sections: Vec<SheetSection>,
    pub forms: Vec<SheetForm>,
    #[serde(default)]
    pub handbooks: Vec<Handbook>,
}

/// The forms shipped with this build (checked by the tests; an unreadable file would be
/// refused by them before release).
pub fn shipped() -> &'static CareForms {
    static FORMS: LazyLock<CareForms> = LazyLock::new(|| {
        CareForms::parse(SOURCE).unwrap_or(CareForms {
            version: 0,
            sections: Vec::new(),
            forms: Vec::new(),
            handbooks: Vec::new(),
        })
    });
    &FORMS
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl CareForms {
    /// Parses and checks the forms file: codes are snake_case and unique, every form
    /// names known sections, a form's field codes are unique across its sections, choice
    /// and multi fields have options. Every problem is reported.
    pub fn parse(src: &str) -> Result<Self, Vec<String>> {
        let forms: CareForms = toml::from_str(src).map_err(|e| vec![e.to_string()])?;
        let mut errors = Vec::new();
        let mut section_codes = HashSet::new();
        for s in &forms.sections {
            if !is_code(&s.code) || !section_codes.insert(s.code.as_str()) {
                errors.push(format!(
                    "section `{}`: code not snake_case or repeated",
                    s.code
                ));
            }
            let mut field_codes = HashSet::new();
            for f in &s.fields {
                if !is_code(&f.code) || !field_codes.insert(f.code.as_str()) {
                    errors.push(format!(
                        "section `{}` field `{}`: code not snake_case or repeated",
                        s.code, f.code
                    ));
                }
                let has_options = !f.options.is_empty();
                let wants_options = matches!(f.field_type, FieldType::Choice | FieldType::Multi);
                if has_options != wants_options {
                    errors.push(format!(
                        "section `{}` field `{}`: options belong to choice and multi fields",
                        s.code, f.code
                    ));
                }
                let mut option_codes = HashSet::new();
                for o in &f.options {
                    if !is_code(&o.code) || !option_codes.insert(o.code.as_str()) {
                        errors.push(format!(
                            "section `{}` field `{}` option `{}`: code not snake_case or repeated",
                            s.code, f.code, o.code
                        ));
                    }
                }
            }
        }
        let mut form_codes = HashSet::new();
        for form in &forms.forms {
            if !is_code(&form.code) || !form_codes.insert(form.code.as_str()) {
                errors.push(format!(
                    "form `{}`: code not snake_case or repeated",
                    form.code
                ));
            }
            let mut fields = HashSet::new();
            for code in &form.sections {
                match forms.sections.iter().find(|s| &s.code == code) {
                    None => errors.push(format!("form `{}`: unknown section `{code}`", form.code)),
                    Some(s) => {
                        for f in &s.fields {
                            if !fields.insert(f.code.as_str()) {
                                errors.push(format!(
                                    "form `{}`: field `{}` appears in two of its sections",
                                    form.code, f.code
                                ));
                            }
                        }
                    }
                }
            }
        }
        let mut handbook_codes = HashSet::new();
        for h in &forms.handbooks {
            if !is_code(&h.code) || !handbook_codes.insert(h.code.as_str()) {
                errors.push(format!(
                    "handbook `{}`: code not snake_case or repeated",
                    h.code
                ));
            }
            if h.pages.is_empty() {
                errors.push(format!("handbook `{}`: no pages", h.code));
            }
        }
        if errors.is_empty() {
            Ok(forms)
        } else {
            Err(errors)
        }
    }

    pub fn form(&self, code: &str) -> Option<&SheetForm> {
        self.forms.iter().find(|f| f.code == code)
    }

    pub fn section(&self, code: &str) -> Option<&SheetSection> {
        self.sections.iter().find(|s| s.code == code)
    }

    /// The form's sections in order.
    pub fn sections_of<'a>(
        &'a self,
        form: &'a SheetForm,
    ) -> impl Iterator<Item = &'a SheetSection> {
        form.sections.iter().filter_map(|c| self.section(c))
    }

    /// The handbook shown for plans of `pathway`, if any.
    pub fn handbook_for(&self, pathway: &str) -> Option<&Handbook> {
        self.handbooks
            .iter()
            .find(|h| h.pathways.iter().any(|p| p == pathway))
    }

    /// Checks the values of a `form` sheet; returns the value to store
    /// (`{"form", "forms_version", "fields"}`) or every field error, each on
    /// `values.<field>` (or `form`).
    pub fn validate_sheet(
        &self,
        form: &str,
        values: &Map<String, Value>,
    ) -> Result<Value, Vec<FieldError>> {
        let Some(f) = self.form(form) else {
            return Err(vec![FieldError::new(
                "form",
                Rule::Allowed,
                format!(
                    "must be one of {}",
                    self.forms
                        .iter()
                        .map(|f| f.code.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )]);
        };
        let fields: Vec<&SheetField> = self.sections_of(f).flat_map(|s| &s.fields).collect();
        let mut errors = Vec::new();
        for key in values.keys() {
            if !fields.iter().any(|x| &x.code == key) {
                errors.push(FieldError::new(
                    format!("values.{key}"),
                    Rule::NotOnForm,
                    format!("`{key}` is not a field of the form {}", f.code),
                ));
            }
        }
        let mut stored = Map::new();
        for field in fields {
            let path = format!("values.{}", field.code);
            let value = match values.get(&field.code) {
                None | Some(Value::Null) => {
                    if field.required {
                        errors.push(FieldError::new(
                            path,
                            Rule::FormRequired,
                            format!("{} is required", field.title),
                        ));
                    }
                    continue;
                }
                Some(v) => v,
            };
            match check_field(field, value) {
                Ok(Some(v)) => {
                    stored.insert(field.code.clone(), v);
                }
                Ok(None) if field.required => errors.push(FieldError::new(
                    path,
                    Rule::FormRequired,
                    format!("{} is required", field.title),
                )),
                Ok(None) => {}
                Err((rule, message)) => errors.push(FieldError::new(path, rule, message)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut out = Map::new();
        out.insert("form".into(), Value::String(f.code.clone()));
        out.insert("forms_version".into(), Value::from(self.version));
        out.insert("fields".into(), Value::Object(stored));
        Ok(Value::Object(out))
    }
}

/// One field's value, normalised (`None`: blank text, an empty selection); or the rule it
/// breaks.
fn check_field(field: &SheetField, value: &Value) -> Result<Option<Value>, (Rule, String)> {
    let options = || {
        field
            .options
            .iter()
            .map(|o| o.code.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match field.field_type {
        FieldType::Choice => match value.as_str() {
            Some(s) if field.option_title(s).is_some() => Ok(Some(value.clone())),
            _ => Err((Rule::Allowed, format!("must be one of {}", options()))),
        },
        FieldType::Multi => {
            let Some(list) = value.as_array() else {
                return Err((Rule::Type, "must be a list of option codes".into()));
            };
            let mut seen = Vec::new();
            for v in list {
                match v.as_str() {
                    Some(s) if field.option_title(s).is_some() => {
                        if !seen.contains(&s) {
                            seen.push(s);
                        }
                    }
                    _ => return Err((Rule::Allowed, format!("each must be one of {}", options()))),
                }
            }
            // Stored in the form's order, so equal selections hash equally.
            let ordered: Vec<Value> = field
                .options
                .iter()
                .filter(|o| seen.contains(&o.code.as_str()))
                .map(|o| Value::String(o.code.clone()))
                .collect();
            Ok((!ordered.is_empty()).then_some(Value::Array(ordered)))
        }
        FieldType::Text => match value.as_str() {
            None => Err((Rule::Type, "must be text".into())),
            Some(s) if s.chars().count() > MAX_TEXT_CHARS => Err((
                Rule::TooLong,
                format!("must be at most {MAX_TEXT_CHARS} characters"),
            )),
            Some(s) if s.contains('\0') => Err((
                Rule::ControlCharacter,
                "must not contain NUL characters".into(),
            )),
            Some(s) if s.trim().is_empty() => Ok(None),
            Some(s) => Ok(Some(Value::String(s.trim().to_owned()))),
        },
        FieldType::Date => match value
            .as_str()
            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        {
            Some(d) => Ok(Some(Value::String(d.format("%Y-%m-%d").to_string()))),
            None => Err((Rule::Type, "must be a date YYYY-MM-DD".into())),
        },
        FieldType::Boolean => match value {
            Value::Bool(_) => Ok(Some(value.clone())),
            _ => Err((Rule::Type, "must be true or false".into())),
        },
    }
}

/// The form code of a stored sheet entry's values.
pub fn form_of(values: &Value) -> Option<&str> {
    values.get("form").and_then(Value::as_str)
}

/// The words of a stored field value, as the printed form shows it (option titles, dates
/// as `2026年4月1日`, はい/いいえ).
pub fn value_words(field: &SheetField, value: &Value) -> String {
    match (field.field_type, value) {
        (FieldType::Choice, Value::String(s)) => field.option_title(s).unwrap_or(s).to_owned(),
        (FieldType::Multi, Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(|s| field.option_title(s).unwrap_or(s))
            .collect::<Vec<_>>()
            .join("、"),
        (FieldType::Date, Value::String(s)) => {
            match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => d.format("%Y年%-m月%-d日").to_string(),
                Err(_) => s.clone(),
            }
        }
        (FieldType::Boolean, Value::Bool(b)) => (if *b { "はい" } else { "いいえ" }).to_owned(),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_shipped_forms_parse_and_hold_the_four_sheets() {
        let forms = CareForms::parse(SOURCE).unwrap_or_else(|e| panic!("{e:?}"));
        let codes: Vec<&str> = forms.forms.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(
            codes,
            ["chiba_a", "chiba_b", "admission_info", "discharge_record"]
        );
        assert_eq!(shipped().forms.len(), 4);
        // The A表 carries what the national admission form carries (the notice's rule).
        let a = forms.form("chiba_a").unwrap();
        let adm = forms.form("admission_info").unwrap();
        assert_eq!(a.sections, adm.sections);
        assert_eq!(a.author, FormAuthor::CareManager);
        assert_eq!(forms.form("chiba_b").unwrap().author, FormAuthor::Hospital);
    }

    #[test]
    fn the_handbook_names_only_items_and_schedules_of_its_pathways() {
        let forms = shipped();
        let h = forms.handbook_for("diabetes").expect("diabetes handbook");
        let t = crate::template::parse_template(
            include_str!("../../../pathways/diabetes/v2.toml"),
            None,
        )
        .unwrap();
        for p in &h.pages {
            for i in &p.items {
                assert!(t.item(i).is_some(), "page {}: item {i}", p.code);
            }
            for s in &p.schedules {
                assert!(
                    t.schedule.iter().any(|r| &r.code == s),
                    "page {}: {s}",
                    p.code
                );
            }
        }
        assert!(h.pages.iter().any(|p| p.eye));
        assert!(forms.handbook_for("stroke").is_none());
    }

    #[test]
    fn a_sheet_stores_its_form_and_normalised_fields() {
        let v = shipped()
            .validate_sheet(
                "chiba_a",
                &map(json!({
                    "admitted_on": "2026-11-02",
                    "disab_elderly": "a2",
                    "mobility_indoor": ["wheelchair", "cane", "cane"],
                    "patient_wish": "  自宅で暮らしたい ",
                    "life_history": "   ",
                    "accompany_home_visit": true,
                })),
            )
            .unwrap();
        assert_eq!(v["form"], "chiba_a");
        assert_eq!(v["forms_version"], 1);
        assert_eq!(
            v["fields"]["mobility_indoor"],
            json!(["cane", "wheelchair"])
        );
        assert_eq!(v["fields"]["patient_wish"], "自宅で暮らしたい");
        assert!(v["fields"].get("life_history").is_none());
    }

    #[test]
    fn every_broken_field_is_reported_with_its_rule() {
        let errors = shipped()
            .validate_sheet(
                "chiba_a",
                &map(json!({
                    "disab_elderly": "z9",
                    "mobility_indoor": "cane",
                    "admitted_on": "2026-02-30",
                    "accompany_home_visit": "yes",
                    "care_level": "kaigo2",
                })),
            )
            .unwrap_err();
        let got: Vec<(String, Rule)> = errors.into_iter().map(|e| (e.field, e.code)).collect();
        for want in [
            ("values.care_level", Rule::NotOnForm),
            ("values.disab_elderly", Rule::Allowed),
            ("values.mobility_indoor", Rule::Type),
            ("values.admitted_on", Rule::Type),
            ("values.accompany_home_visit", Rule::Type),
        ] {
            assert!(
                got.iter().any(|(f, r)| f == want.0 && *r == want.1),
                "{want:?} in {got:?}"
            );
        }
        let missing = shipped()
            .validate_sheet("chiba_a", &Map::new())
            .unwrap_err();
        assert_eq!(missing[0].field, "values.admitted_on");
        assert_eq!(missing[0].code, Rule::FormRequired);
        let unknown = shipped().validate_sheet("a_form", &Map::new()).unwrap_err();
        assert_eq!(
            (unknown[0].field.as_str(), unknown[0].code),
            ("form", Rule::Allowed)
        );
    }

    #[test]
    fn a_form_naming_an_unknown_section_or_a_field_twice_is_refused() {
        let src = r#"
version = 1
[[sections]]
code = "a"
title = "A"
source = "x"
[[sections.fields]]
code = "f"
title = "F"
type = "text"
[[sections]]
code = "b"
title = "B"
source = "x"
[[sections.fields]]
code = "f"
title = "F"
type = "choice"
[[forms]]
code = "one"
title = "One"
short_title = "One"
purpose = "p"
author = "hospital"
sections = ["a", "b", "c"]
source = "x"
"#;
        let errors = CareForms::parse(src).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("unknown section `c`")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("appears in two")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("options belong")),
            "{errors:?}"
        );
    }

    #[test]
    fn stored_values_read_as_the_paper_form_words() {
        let forms = shipped();
        let s = forms.section("independence").unwrap();
        assert_eq!(value_words(&s.fields[0], &json!("b1")), "B1");
        let d = forms.section("admission_basics").unwrap();
        assert_eq!(
            value_words(&d.fields[0], &json!("2026-04-01")),
            "2026年4月1日"
        );
    }
}
