//! The fixture templates and small helpers shared by every test module.

use chrono::{DateTime, Utc};
use renkei_domain::entry::{EntryKind, NewEntry, PlanState, PlanStatus};
use renkei_domain::template::{Diagnostic, PathwayTemplate, parse_template};
use serde_json::{Map, Value};

/// A small linear pathway acute → recovery → home using every item type, a FIM-like
/// composite family, a Barthel-like composite with a step, goals of every kind, variance
/// codes and one schedule rule.
pub const LINEAR: &str = r#"# Fixture pathway for the domain rule tests.
code = "test-path"
version = 1
description = "three stages, every item type, every goal kind"

[title]
ja = "テストパス"
en = "Test pathway"

[[stages]]
code = "acute"
title = { ja = "急性期", en = "Acute" }
provider_kinds = ["acute_hosp"]
expected_days = 14
max_days = 60

[[stages]]
code = "recovery"
title = { ja = "回復期", en = "Recovery" }
provider_kinds = ["recovery_hosp"]
expected_days = 90
max_days = 150

[[stages]]
code = "home"
title = { ja = "生活期", en = "Home" }
provider_kinds = ["clinic", "visit_nurse", "care_manager"]

[[items]]
code = "mrs"
title = { ja = "修正ランキンスケール", en = "modified Rankin Scale" }
type = "integer"
min = 0
max = 6
stages = ["acute", "recovery", "home"]
required_at_end = ["acute"]

[[items]]
code = "hba1c"
title = { ja = "HbA1c", en = "HbA1c" }
type = "decimal"
unit = "%"
min = 3.0
max = 20.0
stages = ["acute", "recovery", "home"]

[[items]]
code = "dysphagia"
title = { ja = "嚥下障害", en = "Dysphagia" }
type = "boolean"
stages = ["acute", "recovery"]

[[items]]
code = "walk_cat"
title = { ja = "歩行", en = "Walking" }
type = "choice"
options = [
  { code = "independent", title = { ja = "自立", en = "Independent" } },
  { code = "supervised", title = { ja = "見守り", en = "Supervised" } },
  { code = "assisted", title = { ja = "介助", en = "Assisted" } },
  { code = "unable", title = { ja = "不能", en = "Unable" } },
]
stages = ["acute", "recovery", "home"]

[[items]]
code = "destination"
title = { ja = "退院先", en = "Discharge destination" }
type = "choice"
options = [
  { code = "home", title = { ja = "自宅", en = "Home" } },
  { code = "residential", title = { ja = "施設", en = "Residential care" } },
  { code = "hospital", title = { ja = "病院", en = "Hospital" } },
]
stages = ["acute", "recovery"]
required_at_end = ["recovery"]

[[items]]
code = "onset_date"
title = { ja = "発症日", en = "Onset date" }
type = "date"
stages = ["acute"]

[[items]]
code = "arrival_at"
title = { ja = "来院日時", en = "Arrival" }
type = "datetime"
stages = ["acute"]

[[items]]
code = "surgery_at"
title = { ja = "手術日時", en = "Surgery" }
type = "datetime"
stages = ["acute"]

[[items]]
code = "memo"
title = { ja = "申し送り", en = "Hand-over memo" }
type = "text"
stages = ["acute", "recovery", "home"]

[[items]]
code = "eye_exam"
title = { ja = "眼科受診", en = "Eye exam" }
type = "boolean"
stages = ["acute", "recovery", "home"]

[[items]]
code = "fim_eating"
title = { ja = "FIM 食事", en = "FIM eating" }
type = "integer"
min = 1
max = 7
stages = ["acute", "recovery"]

[[items]]
code = "fim_grooming"
title = { ja = "FIM 整容", en = "FIM grooming" }
type = "integer"
min = 1
max = 7
stages = ["acute", "recovery"]

[[items]]
code = "fim_comprehension"
title = { ja = "FIM 理解", en = "FIM comprehension" }
type = "integer"
min = 1
max = 7
stages = ["acute", "recovery"]

[[items]]
code = "fim_memory"
title = { ja = "FIM 記憶", en = "FIM memory" }
type = "integer"
min = 1
max = 7
stages = ["acute", "recovery"]

[[items]]
code = "fim_motor"
title = { ja = "FIM 運動", en = "FIM motor" }
type = "composite"
min = 2
max = 14
components = ["fim_eating", "fim_grooming"]
stages = ["acute", "recovery"]

[[items]]
code = "fim_cognitive"
title = { ja = "FIM 認知", en = "FIM cognitive" }
type = "composite"
min = 2
max = 14
components = ["fim_comprehension", "fim_memory"]
stages = ["acute", "recovery"]

[[items]]
code = "fim_total"
title = { ja = "FIM 合計", en = "FIM total" }
type = "composite"
min = 4
max = 28
components = ["fim_eating", "fim_grooming", "fim_comprehension", "fim_memory"]
stages = ["acute", "recovery"]

[[items]]
code = "barthel_feeding"
title = { ja = "BI 食事", en = "Barthel feeding" }
type = "integer"
allowed = [0, 5, 10]
stages = ["acute", "recovery"]

[[items]]
code = "barthel_transfer"
title = { ja = "BI 移乗", en = "Barthel transfer" }
type = "integer"
allowed = [0, 5, 10, 15]
stages = ["acute", "recovery"]

[[items]]
code = "barthel_total"
title = { ja = "BI 合計", en = "Barthel total" }
type = "composite"
min = 0
max = 25
step = 5
components = ["barthel_feeding", "barthel_transfer"]
stages = ["acute", "recovery"]

[[goals]]
code = "mrs_good"
title = { ja = "mRS 2以下", en = "mRS at most 2" }
target = { kind = "threshold", item = "mrs", op = "<=", value = 2 }
due = { stage = "acute", at = "start", days = 21 }

[[goals]]
code = "hba1c_band"
title = { ja = "HbA1c 7.0以上8.0未満", en = "HbA1c band" }
target = { kind = "range", item = "hba1c", min = 7.0, max = 8.0 }

[[goals]]
code = "fim_gain"
title = { ja = "FIM 利得", en = "FIM gain" }
target = { kind = "change", from = { item = "fim_total", stage = "recovery", pick = "first" }, to = { item = "fim_total", stage = "recovery", pick = "last" }, op = ">=", value = 10 }

[[goals]]
code = "discharge_home"
title = { ja = "在宅復帰", en = "Discharge home" }
target = { kind = "membership", item = "destination", values = ["home", "residential"] }
due = { stage = "recovery", at = "end" }

[[goals]]
code = "acute_length"
title = { ja = "急性期21日以内", en = "Acute stage within 21 days" }
target = { kind = "stage_length", stage = "acute", op = "<=", days = 21 }

[[goals]]
code = "surgery_48h"
title = { ja = "48時間以内の手術", en = "Surgery within 48 h" }
target = { kind = "time_between", from_item = "arrival_at", to_item = "surgery_at", max_hours = 48 }

[[goals]]
code = "eye_yearly"
title = { ja = "年1回の眼科受診", en = "Yearly eye exam" }
target = { kind = "done_within", item = "eye_exam", months = 12 }

[[variances]]
code = "NEG.VAR.CO.RECEIVE"
title = { ja = "受入先調整", en = "Receiving facility not found" }

[[variances]]
code = "NEG.VAR.PT.COMPLICATION"
title = { ja = "合併症", en = "Complication" }

[[variances]]
code = "POS.VAR.PT.CONDITION"
title = { ja = "早期回復", en = "Early recovery" }

[[schedule]]
code = "eye_check"
title = { ja = "眼科受診", en = "Eye check" }
items = ["eye_exam"]
interval_days = 365
grace_days = 30
owner = "ophthal"
"#;

/// A cyclical pathway intro → clinic ⇄ specialist.
pub const CYCLICAL: &str = r#"code = "cycle-path"
version = 3
title = { ja = "循環型", en = "Cyclical" }
cyclical = true

[[stages]]
code = "intro"
title = { ja = "導入", en = "Intro" }
provider_kinds = ["specialist"]
next = ["clinic"]

[[stages]]
code = "clinic"
title = { ja = "かかりつけ医", en = "Clinic" }
provider_kinds = ["clinic"]
next = ["specialist"]

[[stages]]
code = "specialist"
title = { ja = "専門医", en = "Specialist" }
provider_kinds = ["specialist"]
next = ["clinic"]

[[items]]
code = "hba1c"
title = { ja = "HbA1c", en = "HbA1c" }
type = "decimal"
unit = "%"
min = 3.0
max = 20.0
stages = ["intro", "clinic", "specialist"]
required_at_end = ["specialist"]
"#;

pub fn linear() -> PathwayTemplate {
    parse_template(LINEAR, Some(("test-path", 1))).unwrap_or_else(|d| panic!("{}", show(&d)))
}

pub fn cyclical() -> PathwayTemplate {
    parse_template(CYCLICAL, Some(("cycle-path", 3))).unwrap_or_else(|d| panic!("{}", show(&d)))
}

/// Diagnostics one per line, for assertion messages.
pub fn show(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("{d}\n")).collect()
}

/// 1-based line of the only line of `src` containing `needle`.
pub fn line_of(src: &str, needle: &str) -> usize {
    let hits: Vec<usize> = src
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "`{needle}` must occur on exactly one line, found {hits:?}"
    );
    hits[0]
}

/// Replaces the only occurrence of `from` in `src`.
pub fn replace_once(src: &str, from: &str, to: &str) -> String {
    assert_eq!(
        src.matches(from).count(),
        1,
        "`{from}` must occur exactly once"
    );
    src.replacen(from, to, 1)
}

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad time {s}: {e}"))
        .with_timezone(&Utc)
}

pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// When the fixture plans start.
pub const PLAN_START: &str = "2026-11-01T09:00:00+09:00";
/// "Now" for entry validation.
pub const NOW: &str = "2026-11-20T12:00:00+09:00";

pub fn state(stage: &str, started: bool, ended: bool) -> PlanState {
    PlanState {
        status: PlanStatus::Active,
        current_stage: stage.to_owned(),
        stage_started: started,
        stage_ended: ended,
        started_at: t(PLAN_START),
    }
}

pub fn new_entry(stage: &str, kind: EntryKind, values: Value) -> NewEntry {
    NewEntry {
        stage: stage.to_owned(),
        kind,
        effective_at: t("2026-11-20T10:00:00+09:00"),
        values: obj(values),
        note: None,
        variance: None,
        amends: None,
        reason: None,
    }
}

/// 1-based line of the `nth` (0-based) line of `src` whose trimmed text is exactly `line`.
pub fn line_is(src: &str, line: &str, nth: usize) -> usize {
    src.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == line)
        .map(|(i, _)| i + 1)
        .nth(nth)
        .unwrap_or_else(|| panic!("line `{line}` occurs fewer than {} times", nth + 1))
}

/// 1-based character column of `needle` in line `line` of `src`.
pub fn column_of(src: &str, line: usize, needle: &str) -> usize {
    let text = src.lines().nth(line - 1).unwrap_or_default();
    let byte = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not on line {line}: {text}"));
    text[..byte].chars().count() + 1
}
