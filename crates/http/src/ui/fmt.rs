//! How the pages write things: dates and times in Asia/Tokyo (`2026年4月1日(水) 14:05`,
//! always inside `<time datetime>`), the Japanese words for codes (professions, stages,
//! states, entry kinds), and the service's field errors in Japanese with the template's
//! labels.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use renkei_domain::FieldError;
use renkei_domain::access::{Profession, TeamRole};
use renkei_domain::entry::PlanStatus;
use renkei_domain::ids::AdminRole;
use renkei_domain::template::{ItemType, PathwayTemplate};
use renkei_domain::wording::{self, FieldFacts, Lang};
use renkei_service::plans::CarePlan;
use serde_json::Value;

use super::wareki;

/// Japan has one time zone and no daylight saving: UTC+9.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

pub fn to_jst(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&jst())
}

/// Today in Japan.
pub fn today_jst(now: DateTime<Utc>) -> NaiveDate {
    to_jst(now).date_naive()
}

/// Days of a stay in whole Japan calendar days, the first day counted as day 1
/// (入院日を1日目): the goal engine's own count.
pub use renkei_domain::calendar::stay_days;

const WEEKDAYS: [&str; 7] = ["日", "月", "火", "水", "木", "金", "土"];

pub fn weekday(d: NaiveDate) -> &'static str {
    WEEKDAYS[d.weekday().num_days_from_sunday() as usize]
}

/// A moment for `<time datetime="{iso}">{text}</time>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    pub iso: String,
    pub text: String,
}

/// `2026年4月1日(水)`.
pub fn date_text(d: NaiveDate) -> String {
    format!("{}年{}月{}日({})", d.year(), d.month(), d.day(), weekday(d))
}

pub fn date(d: NaiveDate) -> When {
    When {
        iso: d.format("%Y-%m-%d").to_string(),
        text: date_text(d),
    }
}

/// `2026年4月1日(水) 14:05` in Japan time.
pub fn datetime(t: DateTime<Utc>) -> When {
    let j = to_jst(t);
    When {
        iso: j.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        text: format!("{} {}", date_text(j.date_naive()), j.format("%H:%M")),
    }
}

/// The date part only, in Japan time.
pub fn day_of(t: DateTime<Utc>) -> When {
    date(to_jst(t).date_naive())
}

/// `1948年5月3日(昭和23年) 78歳` split for the banner.
pub struct BirthDate {
    pub when: When,
    pub era: String,
    pub age: u32,
}

pub fn birth_date(birth: NaiveDate, now: DateTime<Utc>) -> BirthDate {
    BirthDate {
        when: When {
            iso: birth.format("%Y-%m-%d").to_string(),
            text: format!("{}年{}月{}日", birth.year(), birth.month(), birth.day()),
        },
        era: wareki::era_year(birth).unwrap_or_default(),
        age: wareki::age(birth, today_jst(now)),
    }
}

/// The value of an `<input type="datetime-local">` for `t`, in Japan time.
pub fn datetime_local(t: DateTime<Utc>) -> String {
    to_jst(t).format("%Y-%m-%dT%H:%M").to_string()
}

/// Reads `<input type="datetime-local">` (Japan time), or a plain date (09:00 that day).
pub fn parse_datetime_local(s: &str) -> Option<DateTime<Utc>> {
    let s = wareki::to_half_width(s);
    let naive = NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M"))
        .ok()
        .or_else(|| wareki::parse_date(&s).and_then(|d| d.and_hms_opt(9, 0, 0)))?;
    jst()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

// ------------------------------------------------------------------ words for codes

pub fn profession(code: &str) -> &'static str {
    Profession::parse(code)
        .map(profession_label)
        .unwrap_or("その他")
}

/// The profession shown beside an author: 「システム」 for entries the server writes by
/// itself (automatic variances), else the profession in words.
pub fn author_profession(author_id: uuid::Uuid, code: &str) -> &'static str {
    if author_id == renkei_service::variances::SYSTEM_PRACTITIONER_ID {
        "システム"
    } else {
        profession(code)
    }
}

/// An administrative role in words.
pub fn admin_role(r: AdminRole) -> &'static str {
    match r {
        AdminRole::RegionalAdmin => "地域管理者",
        AdminRole::OrgAdmin => "施設管理者",
        AdminRole::CouncilMember => "協議会委員",
    }
}

/// A profession in words.
pub fn profession_label(p: Profession) -> &'static str {
    match p {
        Profession::Physician => "医師",
        Profession::Nurse => "看護師",
        Profession::Therapist => "療法士(PT/OT/ST)",
        Profession::Msw => "医療ソーシャルワーカー",
        Profession::LiaisonStaff => "地域連携室職員",
        Profession::CareManager => "介護支援専門員",
        Profession::Pharmacist => "薬剤師",
    }
}

pub fn sex(code: &str) -> &'static str {
    match code {
        "male" => "男性",
        "female" => "女性",
        "other" => "その他",
        _ => "不明",
    }
}

pub fn org_kind(code: &str) -> &'static str {
    match code {
        "acute_hospital" => "急性期病院",
        "recovery_hospital" => "回復期リハビリテーション病院",
        "clinic" => "診療所(かかりつけ医)",
        "home_nursing" => "訪問看護ステーション",
        "care_management" => "居宅介護支援事業所",
        "pharmacy" => "薬局",
        "municipality" => "行政",
        _ => "その他",
    }
}

pub fn plan_status(status: PlanStatus) -> &'static str {
    match status {
        PlanStatus::Active => "進行中",
        PlanStatus::Completed => "完了",
        PlanStatus::Withdrawn => "中止",
    }
}

/// The status of a plan as the API shows it (`status` string), in words.
pub fn plan_status_of(code: &str) -> &'static str {
    PlanStatus::parse(code).map(plan_status).unwrap_or("不明")
}

pub fn entry_kind(code: &str) -> &'static str {
    match code {
        "assessment" => "評価",
        "note" => "記録(メモ)",
        "variance" => "バリアンス",
        "stage_start" => "病期開始",
        "stage_end" => "病期終了",
        "handover" => "連携(紹介・転院)",
        "report" => "返書",
        "lifecycle" => "パスの状態変更",
        "individualize" => "個別目標の設定",
        "sheet" => "連携シート",
        _ => "記録",
    }
}

pub fn handover_state(code: &str) -> &'static str {
    match code {
        "proposed" => "回答待ち",
        "accepted" => "受入済",
        "declined" => "辞退",
        "withdrawn" => "取り下げ",
        "completed" => "転院完了",
        _ => "不明",
    }
}

pub fn team_role(role: TeamRole) -> &'static str {
    match role {
        TeamRole::Planner => "計画管理病院",
        TeamRole::StageOwner => "担当施設",
        TeamRole::Contributor => "協力施設",
        TeamRole::Viewer => "閲覧のみ",
    }
}

/// The badge of a goal state: word, symbol (never colour alone) and CSS class. Besides
/// the API's statuses, `below_range` and `above_range` name a numeric target not met.
pub fn goal_state(code: &str) -> (&'static str, &'static str, &'static str) {
    use renkei_domain::goals::{DeviationDirection, GoalState};
    let words = |state, d| wording::goal_state(state, d, Lang::Ja);
    match code {
        "met" => (words(GoalState::Met, None), "✓", "ok"),
        "not_met" => (words(GoalState::NotMet, None), "✗", "bad"),
        "below_range" => (
            words(GoalState::NotMet, Some(DeviationDirection::BelowRange)),
            "↓",
            "bad",
        ),
        "above_range" => (
            words(GoalState::NotMet, Some(DeviationDirection::AboveRange)),
            "↑",
            "bad",
        ),
        "overdue" => (words(GoalState::Overdue, None), "!", "bad"),
        "not_applicable" => (words(GoalState::NotApplicable, None), "–", "muted"),
        _ => (words(GoalState::Pending, None), "…", "muted"),
    }
}

/// The badge code of a goal's status (see [`goal_state`]).
pub fn goal_code(g: &renkei_domain::goals::GoalStatus) -> &'static str {
    use renkei_domain::goals::{DeviationDirection, GoalState};
    match (g.status, g.deviation.as_ref().map(|d| d.direction)) {
        (GoalState::NotMet, Some(DeviationDirection::BelowRange)) => "below_range",
        (GoalState::NotMet, Some(DeviationDirection::AboveRange)) => "above_range",
        (state, _) => state.as_str(),
    }
}

/// A goal's status word with the bound of a value below or above its range
/// (「下限未満(下限 7.0 %)」).
pub fn goal_words(t: &PathwayTemplate, g: &renkei_domain::goals::GoalStatus) -> String {
    let (word, _, _) = goal_state(goal_code(g));
    match (&g.deviation, g.status) {
        (Some(d), renkei_domain::goals::GoalState::NotMet) => {
            let bound = match g.item.as_deref() {
                Some(item) => value_text(Some(t), item, &Value::from(d.bound)),
                None => num(d.bound),
            };
            format!(
                "{word}({})",
                wording::goal_bound(d.direction, &bound, Lang::Ja)
            )
        }
        _ => word.to_owned(),
    }
}

/// The badge of a worklist item state.
pub fn work_state(code: &str) -> (&'static str, &'static str) {
    match code {
        "proposed" => ("回答待ち", "wait"),
        "accepted" => ("受入済", "ok"),
        "due" => ("期限内", "wait"),
        "overdue" => ("期限超過", "bad"),
        "scheduled" => ("予定", "info"),
        "missing" => ("未取得", "bad"),
        "dropout" => ("記録途絶", "bad"),
        "unread" => ("未読", "warn"),
        "read" => ("既読", "info"),
        _ => ("—", "info"),
    }
}

/// Direction, level and cause category of a variance code, in words (cause 「未分類」
/// for an automatic variance nobody has classified).
pub fn variance_parts(code: &str) -> (String, String, String) {
    let mut p = code.split('.');
    let mut words = |table| {
        p.next()
            .and_then(|part| wording::variance_part(table, part, Lang::Ja))
            .unwrap_or("—")
            .to_owned()
    };
    let dir = words(wording::VARIANCE_DIRECTIONS);
    let level = words(wording::VARIANCE_LEVELS);
    let cat = words(wording::VARIANCE_CAUSES);
    (dir, level, cat)
}

/// The Japanese title of a stage of `t` (the code when unknown).
pub fn stage_title(t: Option<&PathwayTemplate>, code: &str) -> String {
    t.and_then(|t| t.stage(code))
        .map(|s| s.title.ja.clone())
        .unwrap_or_else(|| code.to_owned())
}

/// A value as people read it: option titles for choices, はい/いいえ, the unit.
pub fn value_text(t: Option<&PathwayTemplate>, code: &str, v: &Value) -> String {
    let item = t.and_then(|t| t.item(code));
    let raw = match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "はい".to_owned(),
        Value::Bool(false) => "いいえ".to_owned(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    };
    let Some(item) = item else {
        return raw;
    };
    match item.item_type {
        ItemType::Choice => item
            .options
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|o| Some(o.code.as_str()) == v.as_str())
            .map(|o| o.title.ja.clone())
            .unwrap_or(raw),
        ItemType::Datetime => v
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| datetime(t.with_timezone(&Utc)).text)
            .unwrap_or(raw),
        ItemType::Date => v
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .map(date_text)
            .unwrap_or(raw),
        ItemType::Integer | ItemType::Decimal | ItemType::Composite => match v.as_f64() {
            Some(x) => with_unit(item, &item_number(item, x)),
            None => with_unit(item, &raw),
        },
        _ => with_unit(item, &raw),
    }
}

fn with_unit(item: &renkei_domain::template::Item, number: &str) -> String {
    match &item.unit {
        Some(u) => format!("{number} {}", unit(u)),
        None => number.to_owned(),
    }
}

/// The decimals an item's values are read with: the template's `step` (0.1 → 1), whole
/// numbers for integers and blood pressure, one decimal for HbA1c (%), body measures
/// (kg, cm, kg/m²), eGFR and UACR; `None`: as recorded (without a needless `.0`).
pub fn decimals(item: &renkei_domain::template::Item) -> Option<usize> {
    if let Some(step) = item.step.filter(|s| *s > 0.0) {
        let text = num(step);
        return Some(text.split_once('.').map(|(_, f)| f.len()).unwrap_or(0));
    }
    match item.item_type {
        ItemType::Integer | ItemType::Composite => return Some(0),
        ItemType::Decimal => {}
        _ => return None,
    }
    match item.unit.as_deref() {
        Some("mm[Hg]") => Some(0),
        Some("%" | "kg" | "cm" | "kg/m2" | "mL/min/{1.73_m2}" | "mg/g{creat}") => Some(1),
        _ => None,
    }
}

/// A number of `item` as clinicians read it: `152` (not `152.0`) for blood pressure,
/// `7.0` for HbA1c — the item's [`decimals`].
pub fn item_number(item: &renkei_domain::template::Item, x: f64) -> String {
    match decimals(item) {
        Some(d) => format!("{x:.d$}"),
        None => num(x),
    }
}

/// [`item_number`] by item code (the plain number when the template lacks the item).
pub fn number_of(t: Option<&PathwayTemplate>, code: &str, x: f64) -> String {
    match t.and_then(|t| t.item(code)) {
        Some(item) => item_number(item, x),
        None => num(x),
    }
}

/// UCUM units as printed (`mm[Hg]` → `mmHg`).
pub fn unit(u: &str) -> String {
    u.replace("mm[Hg]", "mmHg")
        .replace("kg/m2", "kg/m²")
        .replace("mL/min/{1.73_m2}", "mL/分/1.73m²")
}

/// The item's title (the code when unknown).
pub fn item_title(t: Option<&PathwayTemplate>, code: &str) -> String {
    t.and_then(|t| t.item(code))
        .map(|i| i.title.ja.clone())
        .unwrap_or_else(|| code.to_owned())
}

/// `0〜42`, `3.0〜20.0 %`, `0・5・10` — the range hint of a numeric item.
pub fn range_hint(t: &PathwayTemplate, code: &str) -> Option<String> {
    let item = t.item(code)?;
    let u = item
        .unit
        .as_deref()
        .map(|u| format!(" {}", unit(u)))
        .unwrap_or_default();
    if let Some(allowed) = &item.allowed {
        let list: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
        return Some(format!("{}{u}", list.join("・")));
    }
    match (item.min, item.max) {
        (Some(a), Some(b)) => Some(format!("{}〜{}{u}", num(a), num(b))),
        (Some(a), None) => Some(format!("{}{u}以上", num(a))),
        (None, Some(b)) => Some(format!("{}{u}以下", num(b))),
        _ => None,
    }
}

/// A number without a needless `.0`.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

// ------------------------------------------------------------------ field errors

/// The label people see for a request field.
pub fn field_label(t: Option<&PathwayTemplate>, field: &str) -> String {
    if let Some(code) = field.strip_prefix("values.") {
        return item_title(t, code);
    }
    match field {
        "effective_at" => "実施日時",
        "note" => "記録(メモ)",
        "reason" => "理由",
        "variance" | "variance.code" => "バリアンスの種類",
        "variance.note" => "バリアンスの説明",
        "variance.goal" => "関連する達成目標",
        "stage" => "病期",
        "kind" => "記録の種類",
        "amends" => "修正する記録",
        "values" => "評価項目",
        "started_at" => "パス開始日",
        "obtained_at" => "同意取得日",
        "method" => "同意の方法",
        "signer" => "署名者",
        "proxy_relationship" => "代諾者の続柄",
        "purposes" => "利用目的",
        "scope" => "共有範囲",
        "organizations" => "共有先",
        "pathway" => "連携パス",
        "variant" => "パスの種類",
        "version" => "版",
        "patient_id" => "患者",
        "to_organization" => "紹介先",
        "kana" | "q" => "検索語",
        "birth_date" => "生年月日",
        "identifier" | "identifiers" => "患者ID",
        "name.family" => "氏(漢字)",
        "name.given" => "名(漢字)",
        "name.family_kana" => "氏(カナ)",
        "name.given_kana" => "名(カナ)",
        "sex" => "性別",
        _ => "入力",
    }
    .to_owned()
}

/// The plan's pathway, version and variant in words: 「脳卒中地域連携パス(第3版・…)」.
pub fn pathway_label(plan: &CarePlan) -> String {
    match &plan.variant {
        Some(v) => format!(
            "{}(第{}版・{})",
            plan.pathway.title_ja, plan.pathway.version, v.title_ja
        ),
        None => format!("{}(第{}版)", plan.pathway.title_ja, plan.pathway.version),
    }
}

/// One field error in Japanese: the wording table's message
/// ([`renkei_domain::wording::field_message`], the words the API sends), with the item's
/// label, range, unit and options from the template.
pub fn error_ja(t: Option<&PathwayTemplate>, e: &FieldError) -> String {
    let label = field_label(t, &e.field);
    let item = e
        .field
        .strip_prefix("values.")
        .and_then(|c| t.and_then(|t| t.item(c)));
    let range = e
        .field
        .strip_prefix("values.")
        .and_then(|c| t.and_then(|t| range_hint(t, c)));
    let facts = FieldFacts {
        label: Some(&label),
        range: range.as_deref(),
        is_list: item.is_some_and(|i| i.allowed.is_some()),
        item_type: item.map(|i| i.item_type),
    };
    wording::field_message(e, Lang::Ja, &facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_domain::Rule;

    #[test]
    fn japan_time() {
        let t = DateTime::parse_from_rfc3339("2026-03-31T23:30:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let w = datetime(t);
        assert_eq!(w.text, "2026年4月1日(水) 08:30");
        assert_eq!(w.iso, "2026-04-01T08:30:00+09:00");
        assert_eq!(datetime_local(t), "2026-04-01T08:30");
        assert_eq!(parse_datetime_local("2026-04-01T08:30"), Some(t));
        assert_eq!(date(t.date_naive()).text, "2026年3月31日(火)");
    }

    #[test]
    fn stays_count_whole_tokyo_days_from_day_one() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("time")
                .with_timezone(&Utc)
        };
        // The spec's example: 01-01 15:00 → 05-31 10:00 JST is 151 days.
        assert_eq!(
            stay_days(
                at("2027-01-01T15:00:00+09:00"),
                at("2027-05-31T10:00:00+09:00")
            ),
            151
        );
        // Admitted late in the evening, counted the next morning: day 2, not day 0.
        assert_eq!(
            stay_days(
                at("2027-01-01T23:30:00+09:00"),
                at("2027-01-02T08:00:00+09:00")
            ),
            2
        );
        // A Tokyo day spans two UTC dates.
        assert_eq!(
            stay_days(
                at("2027-01-01T00:30:00+09:00"),
                at("2027-01-01T23:30:00+09:00")
            ),
            1
        );
    }

    #[test]
    fn birth_dates_show_era_and_age() {
        let now = DateTime::parse_from_rfc3339("2026-05-03T00:00:00+09:00")
            .expect("time")
            .with_timezone(&Utc);
        let b = birth_date(NaiveDate::from_ymd_opt(1948, 5, 3).expect("date"), now);
        assert_eq!(b.when.text, "1948年5月3日");
        assert_eq!(b.era, "昭和23年");
        assert_eq!(b.age, 78);
    }

    fn item(unit: Option<&str>, ty: ItemType, step: Option<f64>) -> renkei_domain::template::Item {
        let mut t: renkei_domain::template::Item = serde_json::from_value(serde_json::json!({
            "code": "x", "title": {"ja": "x", "en": "x"}, "type": "decimal", "stages": []
        }))
        .expect("item");
        t.unit = unit.map(str::to_owned);
        t.item_type = ty;
        t.step = step;
        t
    }

    #[test]
    fn numbers_have_the_precision_and_unit_clinicians_read() {
        let bp = item(Some("mm[Hg]"), ItemType::Decimal, None);
        assert_eq!(item_number(&bp, 152.0), "152");
        assert_eq!(item_number(&bp, 151.6), "152");
        let a1c = item(Some("%"), ItemType::Decimal, None);
        assert_eq!(item_number(&a1c, 7.0), "7.0");
        assert_eq!(item_number(&a1c, 6.95), "7.0");
        assert_eq!(item_number(&a1c, 8.25), "8.2");
        let cre = item(Some("mg/dL"), ItemType::Decimal, None);
        assert_eq!(item_number(&cre, 0.85), "0.85");
        assert_eq!(item_number(&cre, 1.0), "1");
        let stepped = item(None, ItemType::Decimal, Some(0.01));
        assert_eq!(item_number(&stepped, 1.1), "1.10");
        let fim = item(None, ItemType::Integer, None);
        assert_eq!(item_number(&fim, 54.0), "54");
        let t: PathwayTemplate = renkei_domain::template::parse_template(
            include_str!("../../../../pathways/diabetes/v1.toml"),
            None,
        )
        .expect("diabetes template");
        assert_eq!(
            value_text(Some(&t), "bp_sys", &serde_json::json!(152.0)),
            "152 mmHg"
        );
        assert_eq!(
            value_text(Some(&t), "hba1c", &serde_json::json!(7)),
            "7.0 %"
        );
    }

    #[test]
    fn field_errors_in_japanese() {
        let e = FieldError::new("values.x", Rule::Range, "must be between 0 and 42");
        assert_eq!(error_ja(None, &e), "xは 0〜42 の範囲で入力してください。");
        let e = FieldError::new("note", Rule::Required, "a note needs text");
        assert_eq!(error_ja(None, &e), "記録(メモ)の本文を入力してください。");
    }
}
