//! The pathway template model: what a file under `pathways/<code>/v<N>.toml` says.
//!
//! The same structs are the canonical form: a parsed template serialises to JSON with
//! sorted keys, and the SHA-256 of that JSON is the version's content hash. Comments and
//! formatting in the TOML file therefore do not change the hash; any change of meaning does.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A title in Japanese (shown by default) and English.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Title {
    pub ja: String,
    pub en: String,
}

/// One published revision of a pathway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PathwayTemplate {
    /// Pathway code, kebab-case (`stroke`, `femur-fracture`); equals the directory name.
    pub code: String,
    /// Version number, equals `N` of the file name `v<N>.toml`.
    pub version: u32,
    pub title: Title,
    #[serde(default)]
    pub description: String,
    /// Cyclical pathways (循環型) go round their stages instead of ending at the last one.
    #[serde(default)]
    pub cyclical: bool,
    /// Provider kinds of the organisations that may enrol a patient and so plan the care
    /// (計画策定病院: a cancer pathway's plan is made by the hospital). Empty: any
    /// organisation that may enrol.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planner_kinds: Vec<ProviderKind>,
    /// Stages in order. The first is where a new care plan starts.
    pub stages: Vec<Stage>,
    /// Observation items (評価項目) entries may record.
    pub items: Vec<Item>,
    /// Shared treatment goals (達成目標).
    #[serde(default)]
    pub goals: Vec<Goal>,
    /// Variance codes (バリアンス) this pathway accepts.
    #[serde(default)]
    pub variances: Vec<VarianceCode>,
    /// Scheduled visits of a cyclical pathway.
    #[serde(default)]
    pub schedule: Vec<ScheduleRule>,
    /// Days after a stage ends by which its report back is due; absent: the end of the
    /// following month (the reimbursement rules' default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_due_days: Option<u32>,
    /// Variants of the pathway, one chosen at enrolment where the pathway branches
    /// (術式, 重症度): each may change stage lengths and goal targets, and stages, items,
    /// goals and schedule rules may apply to some variants only. Absent: no branch, and a
    /// plan names no variant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
}

/// A variant of the pathway (domain.md §3: the planning hospital prepares several plans in
/// advance and picks the one that fits the patient), chosen when a plan is enrolled and
/// kept by the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Variant {
    /// snake_case variant code (`hemiarthroplasty`, `severe_higher_brain_dysfunction`).
    pub code: String,
    pub title: Title,
    /// When the variant applies, in words (shown where the variant is chosen).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Stage lengths of this variant, by stage code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stages: BTreeMap<String, StageOverride>,
    /// Goal targets and due times of this variant, by goal code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub goals: BTreeMap<String, GoalOverride>,
}

/// What a variant changes in a stage; absent fields keep the stage's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StageOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_criteria: Option<String>,
}

/// What a variant changes in a goal; absent fields keep the goal's own. Each target field
/// applies to the goal kinds that have it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GoalOverride {
    /// The target value of a `threshold` or `change` goal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The bounds of a `range` goal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The days of a `stage_length` or `days_between` goal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// The hours of a `time_between` goal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hours: Option<u32>,
    /// The months of a `done_within` goal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<u32>,
    /// The offset of the goal's `due` from its stage event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_months: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Title>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_title: Option<Title>,
}

/// Provider kinds of domain.md §9.0 (who owns a stage or a scheduled visit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    AcuteHosp,
    RecoveryHosp,
    Clinic,
    Specialist,
    VisitNurse,
    CareManager,
    CareFacility,
    Dentist,
    Ophthal,
    Pharmacy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Stage {
    /// snake_case stage code (`acute`, `recovery`, `home`, `intro`, `clinic`, `specialist`).
    pub code: String,
    pub title: Title,
    pub provider_kinds: Vec<ProviderKind>,
    /// Planned length in days (標準期間); absent for open-ended stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_days: Option<u32>,
    /// Hard limit in days (e.g. the recovery ward's 150/90 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_days: Option<u32>,
    /// Stages that may follow this one. Absent: the next stage in the list (none for the last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Vec<String>>,
    /// Criteria to leave the stage (転院基準 / 退院基準), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_criteria: Option<String>,
    /// The variants this applies to; absent or empty: every variant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemType {
    Integer,
    Decimal,
    Boolean,
    Choice,
    Date,
    Datetime,
    Text,
    /// Sum of the listed `components`, computed by the server.
    Composite,
}

/// A coded option of a `choice` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ChoiceOption {
    pub code: String,
    pub title: Title,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Item {
    /// snake_case item code (`mrs`, `fim_total`, `hba1c`).
    pub code: String,
    pub title: Title,
    #[serde(rename = "type")]
    pub item_type: ItemType,
    /// UCUM-style unit shown next to the value (`%`, `mg/dL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Inclusive lower bound (integer, decimal, composite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Inclusive upper bound (integer, decimal, composite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The value must be a multiple of this step (Barthel total: 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Allowed integer values (Barthel items: 0/5/10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<i64>>,
    /// Options of a `choice` item, in display order (ordered scales keep their order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<ChoiceOption>>,
    /// Items summed by a `composite` item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
    /// Stages in which entries may record this item.
    pub stages: Vec<String>,
    /// Stages whose `stage_start` entry must record this item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_at_start: Vec<String>,
    /// Stages whose `stage_end` entry must record this item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_at_end: Vec<String>,
    /// Standard codes of the item (LOINC, JLAC10), so that imports and exports can tell,
    /// say, an NGSP HbA1c from a legacy JDS value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<Coding>,
    /// A new entry form starts with the last value recorded in the previous stage
    /// (marked as prefilled until confirmed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub carry_over: bool,
    /// The variants this applies to; absent or empty: every variant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<String>,
}

/// A code of a standard code system, e.g. `{ system = "http://loinc.org", code = "4548-4" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Coding {
    /// The code system's URI (`http://loinc.org`, `urn:oid:1.2.392.200119.4.504` for JLAC10).
    pub system: String,
    pub code: String,
    /// The code system's own display text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// Comparison of a goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Comparator {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
}

impl Comparator {
    /// Whether `value <op> target` holds.
    pub fn holds(self, value: f64, target: f64) -> bool {
        match self {
            Comparator::Lt => value < target,
            Comparator::Le => value <= target,
            Comparator::Gt => value > target,
            Comparator::Ge => value >= target,
            Comparator::Eq => (value - target).abs() < 1e-9,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
            Comparator::Eq => "==",
        }
    }
}

/// A moment of a stage, read from its stage events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageMoment {
    Start,
    End,
}

/// A point in time relative to a stage event, e.g. "21 days after the acute stage starts".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Due {
    pub stage: String,
    pub at: StageMoment,
    #[serde(default)]
    pub days: u32,
    #[serde(default)]
    pub months: u32,
}

/// Which recorded value of an item a change goal reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    /// The first value recorded in the stage (admission).
    First,
    /// The last value recorded in the stage, once the stage has ended (discharge).
    Last,
}

/// One end of a change goal: the `pick` value of `item` recorded in `stage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Point {
    pub item: String,
    pub stage: String,
    pub pick: Pick,
}

/// The goal kinds of domain.md §C.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum GoalTarget {
    /// The latest value of `item` compared with `value` (`hba1c < 7.0`).
    Threshold {
        item: String,
        op: Comparator,
        value: f64,
    },
    /// `min <= latest < max` (elderly HbA1c band).
    Range { item: String, min: f64, max: f64 },
    /// `(to - from) <op> value` (FIM gain, BI loss).
    Change {
        from: Point,
        to: Point,
        op: Comparator,
        value: f64,
    },
    /// The latest value of a choice item is one of `values` (discharge destination).
    Membership { item: String, values: Vec<String> },
    /// Days from the stage's start to its end `<op> days` (acute ≤ 21 days).
    StageLength {
        stage: String,
        op: Comparator,
        days: u32,
    },
    /// Hours between two recorded datetime items ≤ `max_hours` (surgery within 48 h of arrival).
    TimeBetween {
        from_item: String,
        to_item: String,
        max_hours: u32,
    },
    /// `item` recorded at least once every `months` months (eye exam every 12 months).
    /// A boolean item counts only when it is `true`.
    DoneWithin { item: String, months: u32 },
    /// Calendar days (Asia/Tokyo) from the date of `from_item` to the date of `to_item`,
    /// the day of `from_item` being day 0 (術後日数: the day of surgery is post-operative
    /// day 0), compared with `days` (loading from post-operative day < 3).
    DaysBetween {
        from_item: String,
        to_item: String,
        op: Comparator,
        days: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Goal {
    pub code: String,
    pub title: Title,
    /// What the goal measures; the `kind` key selects the goal kind.
    pub target: GoalTarget,
    /// When the goal is judged; absent for goals judged continuously.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Due>,
    /// Where the goal's values come from. Absent: the stage of `due` (`during`) when the
    /// goal has one, else the whole plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// How the values in scope are judged (default: the latest value).
    #[serde(default, skip_serializing_if = "GoalMode::is_latest")]
    pub mode: GoalMode,
    /// Conditions on recorded items (all must hold) for the goal to apply; a goal that does
    /// not apply is `not_applicable`, never overdue, and raises no variance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applies_when: Vec<Condition>,
    /// The goal's target value follows another goal's (individual) target plus `offset`
    /// (non-HDL = LDL + 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<Follows>,
    /// The variance code raised automatically when the goal is missed (absent: the shared
    /// scheme's unclassified code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variance: Option<String>,
    /// The goal in words a patient understands, for the patient's copy of the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_title: Option<Title>,
    /// The variants this applies to; absent or empty: every variant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<String>,
}

/// A part of a stage a goal reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StagePart {
    /// Values recorded in the stage on its first calendar day (admission values).
    Start,
    /// Values recorded in the stage up to its end, judged once the stage has ended.
    End,
    /// Values recorded in the stage, from its start to its end (or now).
    During,
}

/// Where a goal's values come from: a stage, or a window of time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    /// Values recorded in `stage` (`at` start, end or during).
    Stage { stage: String, at: StagePart },
    /// Values from the last `months` and `days` before the moment judged.
    Rolling {
        #[serde(default)]
        months: u32,
        #[serde(default)]
        days: u32,
    },
    /// Values from `months` and `days` before the goal's due time up to it (or now).
    BeforeDue {
        #[serde(default)]
        months: u32,
        #[serde(default)]
        days: u32,
    },
    /// Values recorded since the last time the schedule rule `schedule` was done (the
    /// plan's start when never).
    SinceVisit { schedule: String },
}

/// How the values in a goal's scope are judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalMode {
    /// The latest value meets the target.
    #[default]
    Latest,
    /// Any value in scope meets the target.
    Any,
    /// No value in scope meets the target (no severe hypoglycaemia: `severe_hypo >= 1`).
    None,
}

impl GoalMode {
    pub fn is_latest(&self) -> bool {
        *self == GoalMode::Latest
    }
}

/// A condition on recorded items for a goal or schedule rule to apply. An item is read
/// as its latest value as of the moment judged; a condition on an item recorded in the
/// same entry as the value judged (a fasting flag) reads that entry's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// A choice item's value is one of `in`.
    Choice {
        item: String,
        #[serde(rename = "in")]
        values: Vec<String>,
    },
    /// A boolean item has `value`.
    Flag { item: String, value: bool },
    /// A numeric item's value `<op> value`.
    Number {
        item: String,
        op: Comparator,
        value: f64,
    },
    /// The patient's age in whole years (Asia/Tokyo calendar) `<op> value`.
    Age { op: Comparator, value: u32 },
}

/// A goal target that follows another goal's target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Follows {
    pub goal: String,
    pub offset: f64,
}

/// A variance code of the shared scheme `DIRECTION.LEVEL.CATEGORY.DETAIL` (domain.md §9.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct VarianceCode {
    /// e.g. `NEG.VAR.CO.RECEIVE`.
    pub code: String,
    pub title: Title,
}

/// A recurring visit or test of a cyclical pathway (clinic visit, eye exam …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ScheduleRule {
    pub code: String,
    pub title: Title,
    /// Recording any of these items counts as the visit having happened.
    pub items: Vec<String>,
    pub interval_days: u32,
    /// Days after the due date before the visit counts as overdue.
    #[serde(default)]
    pub grace_days: u32,
    pub owner: ProviderKind,
    /// The interval chosen by the latest value of a choice item (eye exams by retinopathy
    /// grade); `interval_days` when the item is unrecorded or its value in no band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_by: Option<IntervalBy>,
    /// Conditions for the rule to apply (UACR for kidney-disease stages 1–2 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applies_when: Vec<Condition>,
    /// The interval by the time elapsed since a recorded date (術後の経過年数: tumour
    /// markers every 3 months for 3 years after surgery, then every 6 months up to 5
    /// years); past the last band the rule has run its course and no longer applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_since: Option<IntervalSince>,
    /// The variants this applies to; absent or empty: every variant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<String>,
}

/// Intervals by the time elapsed since the latest value of a date item (the plan's start
/// while it is unrecorded). The band is the first whose `until_months` after that date is
/// still ahead of the rule's base date (the last time it was done, else the anchor date).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct IntervalSince {
    /// A `date` or `datetime` item (the date of surgery).
    pub item: String,
    /// Bands in increasing `until_months`; the last one ends the rule.
    pub bands: Vec<ElapsedBand>,
}

/// The interval in force until `until_months` calendar months after the anchor date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ElapsedBand {
    pub until_months: u32,
    pub days: u32,
}

/// Intervals by the value of a choice item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct IntervalBy {
    pub item: String,
    pub bands: Vec<IntervalBand>,
}

/// The interval for the listed values of an `IntervalBy` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct IntervalBand {
    #[serde(rename = "in")]
    pub values: Vec<String>,
    pub days: u32,
}

impl PathwayTemplate {
    pub fn stage(&self, code: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.code == code)
    }

    pub fn item(&self, code: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.code == code)
    }

    pub fn variance(&self, code: &str) -> Option<&VarianceCode> {
        self.variances.iter().find(|v| v.code == code)
    }

    pub fn first_stage(&self) -> Option<&Stage> {
        self.stages.first()
    }

    /// Stages that may follow `code`: its explicit `next`, else the following stage in the list.
    pub fn next_stages(&self, code: &str) -> Vec<String> {
        let Some(pos) = self.stages.iter().position(|s| s.code == code) else {
            return Vec::new();
        };
        match &self.stages[pos].next {
            Some(next) => next.clone(),
            None => self
                .stages
                .get(pos + 1)
                .map(|s| vec![s.code.clone()])
                .unwrap_or_default(),
        }
    }
}
