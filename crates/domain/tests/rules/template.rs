//! The template language: parsing the fixture, the canonical hash, and every diagnostic
//! with its line.

use proptest::prelude::*;
use renkei_domain::template::{
    Comparator, Diagnostic, GoalTarget, ItemType, Pick, ProviderKind, StageMoment, json_schema,
    parse_template, version_from_file_name,
};

use super::fixture::{
    CYCLICAL, LINEAR, column_of, cyclical, line_is, line_of, linear, replace_once, show,
};

fn errors(src: &str) -> Vec<Diagnostic> {
    match parse_template(src, None) {
        Ok(_) => panic!("expected the template to be rejected"),
        Err(d) => d,
    }
}

/// The one diagnostic at `path`; fails listing every diagnostic otherwise.
fn at<'a>(diags: &'a [Diagnostic], path: &str) -> &'a Diagnostic {
    let hits: Vec<&Diagnostic> = diags.iter().filter(|d| d.path == path).collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one diagnostic at `{path}`, got:\n{}",
        show(diags)
    );
    hits[0]
}

/// Asserts one diagnostic at `path` on `line` whose message contains `text`.
fn expect(diags: &[Diagnostic], path: &str, line: usize, text: &str) {
    let d = at(diags, path);
    assert_eq!(d.line, line, "line of `{path}`:\n{}", show(diags));
    assert!(
        d.message.contains(text),
        "message of `{path}` should contain `{text}`: {}",
        d.message
    );
}

/// Inserts `block` before the only occurrence of `anchor`.
fn insert_before(src: &str, anchor: &str, block: &str) -> String {
    replace_once(src, anchor, &format!("{block}{anchor}"))
}

// ---------------------------------------------------------------------------------------
// The valid fixture.

#[test]
fn fixture_parses_with_every_part() {
    let t = linear();
    assert_eq!(t.code, "test-path");
    assert_eq!(t.version, 1);
    assert_eq!(t.title.ja, "テストパス");
    assert!(!t.cyclical);
    let stages: Vec<&str> = t.stages.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(stages, ["acute", "recovery", "home"]);
    assert_eq!(t.stages[0].expected_days, Some(14));
    assert_eq!(t.stages[1].max_days, Some(150));
    assert_eq!(t.stages[2].expected_days, None);
    assert_eq!(
        t.stages[2].provider_kinds,
        [
            ProviderKind::Clinic,
            ProviderKind::VisitNurse,
            ProviderKind::CareManager
        ]
    );
    assert_eq!(t.next_stages("acute"), ["recovery"]);
    assert_eq!(t.next_stages("recovery"), ["home"]);
    assert!(t.next_stages("home").is_empty());
    assert!(t.next_stages("nowhere").is_empty());
    assert_eq!(t.first_stage().map(|s| s.code.as_str()), Some("acute"));

    assert_eq!(t.items.len(), 20);
    let ty = |c: &str| t.item(c).map(|i| i.item_type);
    assert_eq!(ty("mrs"), Some(ItemType::Integer));
    assert_eq!(ty("hba1c"), Some(ItemType::Decimal));
    assert_eq!(ty("dysphagia"), Some(ItemType::Boolean));
    assert_eq!(ty("walk_cat"), Some(ItemType::Choice));
    assert_eq!(ty("onset_date"), Some(ItemType::Date));
    assert_eq!(ty("arrival_at"), Some(ItemType::Datetime));
    assert_eq!(ty("memo"), Some(ItemType::Text));
    assert_eq!(ty("fim_total"), Some(ItemType::Composite));
    assert_eq!(ty("nope"), None);
    let mrs = t.item("mrs").unwrap();
    assert_eq!((mrs.min, mrs.max), (Some(0.0), Some(6.0)));
    assert_eq!(mrs.required_at_end, ["acute"]);
    let hba1c = t.item("hba1c").unwrap();
    assert_eq!((hba1c.min, hba1c.max), (Some(3.0), Some(20.0)));
    assert_eq!(hba1c.unit.as_deref(), Some("%"));
    let walk: Vec<&str> = t
        .item("walk_cat")
        .unwrap()
        .options
        .as_ref()
        .unwrap()
        .iter()
        .map(|o| o.code.as_str())
        .collect();
    assert_eq!(walk, ["independent", "supervised", "assisted", "unable"]);
    assert_eq!(
        t.item("fim_total").unwrap().components.as_deref().unwrap(),
        [
            "fim_eating",
            "fim_grooming",
            "fim_comprehension",
            "fim_memory"
        ]
    );
    assert_eq!(t.item("barthel_total").unwrap().step, Some(5.0));
    assert_eq!(
        t.item("barthel_transfer").unwrap().allowed.as_deref(),
        Some(&[0, 5, 10, 15][..])
    );

    let kinds: Vec<&str> = t
        .goals
        .iter()
        .map(|g| match &g.target {
            GoalTarget::Threshold { .. } => "threshold",
            GoalTarget::Range { .. } => "range",
            GoalTarget::Change { .. } => "change",
            GoalTarget::Membership { .. } => "membership",
            GoalTarget::StageLength { .. } => "stage_length",
            GoalTarget::TimeBetween { .. } => "time_between",
            GoalTarget::DoneWithin { .. } => "done_within",
            GoalTarget::DaysBetween { .. } => "days_between",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "threshold",
            "range",
            "change",
            "membership",
            "stage_length",
            "time_between",
            "done_within"
        ]
    );
    assert_eq!(
        t.goals[0].target,
        GoalTarget::Threshold {
            item: "mrs".into(),
            op: Comparator::Le,
            value: 2.0
        }
    );
    let due = t.goals[0].due.as_ref().unwrap();
    assert_eq!(
        (due.stage.as_str(), due.at, due.days, due.months),
        ("acute", StageMoment::Start, 21, 0)
    );
    match &t.goals[2].target {
        GoalTarget::Change {
            from,
            to,
            op,
            value,
        } => {
            assert_eq!((from.pick, to.pick), (Pick::First, Pick::Last));
            assert_eq!((*op, *value), (Comparator::Ge, 10.0));
        }
        other => panic!("goal 2 is {other:?}"),
    }
    assert_eq!(t.goals[3].due.as_ref().unwrap().at, StageMoment::End);
    assert!(t.goals[4].due.is_none());

    let variances: Vec<&str> = t.variances.iter().map(|v| v.code.as_str()).collect();
    assert_eq!(
        variances,
        [
            "NEG.VAR.CO.RECEIVE",
            "NEG.VAR.PT.COMPLICATION",
            "POS.VAR.PT.CONDITION"
        ]
    );
    assert!(t.variance("NEG.VAR.PT.COMPLICATION").is_some());
    assert!(t.variance("NEG.VAR.SY.BED").is_none());
    assert_eq!(t.schedule.len(), 1);
    let s = &t.schedule[0];
    assert_eq!(
        (s.code.as_str(), s.interval_days, s.grace_days, s.owner),
        ("eye_check", 365, 30, ProviderKind::Ophthal)
    );
    assert_eq!(s.items, ["eye_exam"]);
}

#[test]
fn cyclical_fixture_may_lead_back() {
    let t = cyclical();
    assert!(t.cyclical);
    assert_eq!(t.version, 3);
    assert_eq!(t.next_stages("clinic"), ["specialist"]);
    assert_eq!(t.next_stages("specialist"), ["clinic"]);
    // The same `next` in a linear pathway is a broken stage order.
    let linear = replace_once(CYCLICAL, "cyclical = true", "cyclical = false");
    let d = errors(&linear);
    expect(
        &d,
        "stages[2].next[0]",
        line_is(&linear, "next = [\"clinic\"]", 1),
        "stage order broken",
    );
    assert_eq!(d.len(), 1, "{}", show(&d));
}

#[test]
fn expected_code_and_version_are_accepted_when_they_match() {
    assert!(parse_template(LINEAR, Some(("test-path", 1))).is_ok());
    assert!(parse_template(LINEAR, None).is_ok());
}

// ---------------------------------------------------------------------------------------
// Canonical form and content hash.

#[test]
fn content_hash_is_sha256_of_the_sorted_canonical_json() {
    let t = linear();
    let hash = t.content_hash();
    let hex = hash.strip_prefix("sha256:").unwrap();
    assert_eq!(hex.len(), 64);
    assert!(
        hex.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    let json = t.canonical_json();
    assert!(!json.contains(' ') || json.contains("Test pathway"));
    assert!(!json.contains('\n'));
    assert!(json.starts_with("{\"code\":\"test-path\""), "{json}");
    assert_eq!(
        hash,
        renkei_domain::canonical::sha256_tagged(json.as_bytes())
    );
    // The canonical JSON round-trips to the same template.
    let back: renkei_domain::template::PathwayTemplate = serde_json::from_str(&json).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.content_hash(), hash);
    // And is stable across parses.
    assert_eq!(linear().content_hash(), hash);
}

#[test]
fn equivalent_spellings_hash_the_same() {
    let base = linear().content_hash();
    let variants = [
        // Inline title instead of a [title] table.
        replace_once(
            LINEAR,
            "[title]\nja = \"テストパス\"\nen = \"Test pathway\"\n",
            "title = { en = \"Test pathway\", ja = \"テストパス\" }\n",
        ),
        // Defaults written out.
        replace_once(LINEAR, "version = 1\n", "version = 1\ncyclical = false\n"),
        // Integers written as floats and floats as integers.
        replace_once(LINEAR, "min = 3.0\nmax = 20.0\n", "min = 3\nmax = 20\n"),
        replace_once(
            LINEAR,
            "op = \"<=\", value = 2 }",
            "op = \"<=\", value = 2.0 }",
        ),
        // A goal target as a sub-table with keys reordered.
        replace_once(
            LINEAR,
            "target = { kind = \"range\", item = \"hba1c\", min = 7.0, max = 8.0 }\n",
            "\n[goals.target]\nmax = 8.0\nmin = 7.0\nitem = \"hba1c\"\nkind = \"range\"\n",
        ),
        // Keys of a table reordered, literal strings, a multi-line array.
        replace_once(
            LINEAR,
            "code = \"eye_check\"\ntitle = { ja = \"眼科受診\", en = \"Eye check\" }\nitems = [\"eye_exam\"]\n",
            "items = [\n  'eye_exam',\n]\ntitle = { en = 'Eye check', ja = '眼科受診' }\ncode = 'eye_check'\n",
        ),
        // Whitespace and comments.
        LINEAR
            .replace(" = ", "   =\t")
            .replace("\n\n", "\n\n# comment\n\n"),
    ];
    for (i, v) in variants.iter().enumerate() {
        let parsed =
            parse_template(v, None).unwrap_or_else(|d| panic!("variant {i}:\n{}", show(&d)));
        assert_eq!(parsed.content_hash(), base, "variant {i} changed the hash");
    }
}

/// Changes of meaning, each still a valid template.
const MUTATIONS: &[(&str, &str)] = &[
    ("max = 6\n", "max = 5\n"),
    ("en = \"Test pathway\"", "en = \"Test pathway.\""),
    ("ja = \"テストパス\"", "ja = \"テストパス2\""),
    ("at = \"start\", days = 21", "at = \"start\", days = 22"),
    ("op = \">=\", value = 10", "op = \">=\", value = 11"),
    ("op = \"<=\", value = 2", "op = \"<\", value = 2"),
    ("interval_days = 365", "interval_days = 366"),
    ("grace_days = 30", "grace_days = 31"),
    ("expected_days = 14", "expected_days = 15"),
    ("max_days = 60", "max_days = 61"),
    ("\"unable\"", "\"bedridden\""),
    ("code = \"onset_date\"", "code = \"onset_day\""),
    ("unit = \"%\"", "unit = \"mmol/mol\""),
    ("type = \"date\"", "type = \"text\""),
    ("step = 5", "step = 1"),
    ("pick = \"first\"", "pick = \"last\""),
    (
        "provider_kinds = [\"acute_hosp\"]",
        "provider_kinds = [\"acute_hosp\", \"specialist\"]",
    ),
    (
        "expected_days = 14\n",
        "expected_days = 14\nexit_criteria = \"stable\"\n",
    ),
    ("version = 1", "version = 2"),
    ("description = \"three stages", "description = \"3 stages"),
    (
        "en = \"Receiving facility not found\"",
        "en = \"No receiving facility\"",
    ),
    (
        "values = [\"home\", \"residential\"]",
        "values = [\"home\"]",
    ),
    ("max_hours = 48", "max_hours = 24"),
    ("months = 12", "months = 6"),
    ("owner = \"ophthal\"", "owner = \"clinic\""),
    ("min = 7.0, max = 8.0", "min = 6.5, max = 8.0"),
    ("required_at_end = [\"acute\"]\n", ""),
    ("version = 1\n", "version = 1\ncyclical = true\n"),
];

/// Decorates `src` without changing its meaning: comment lines, trailing comments,
/// blank lines and indentation, chosen by `seed` bits per line.
fn decorate(src: &str, seed: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in src.lines().enumerate() {
        let bits = seed.get(i % seed.len().max(1)).copied().unwrap_or(0);
        if bits & 1 != 0 {
            out.push_str("# inserted comment\n");
        }
        if bits & 2 != 0 {
            out.push('\n');
        }
        // Indentation is allowed before keys and headers, not inside a multi-line string.
        if bits & 4 != 0 && !line.is_empty() {
            out.push_str("  ");
        }
        out.push_str(line);
        // Trailing comments are allowed after a complete value or an array element,
        // not after a line opening an inline table or ending a basic string.
        if bits & 8 != 0 && !line.starts_with('#') && !line.is_empty() {
            out.push_str(" # trailing");
        }
        out.push('\n');
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn hash_ignores_comments_and_layout(seed in proptest::collection::vec(any::<u8>(), 1..40)) {
        let base = linear().content_hash();
        let src = decorate(LINEAR, &seed);
        let parsed = parse_template(&src, None);
        prop_assert!(parsed.is_ok(), "{}", parsed.as_ref().err().map(|d| show(d)).unwrap_or_default());
        prop_assert_eq!(parsed.unwrap().content_hash(), base);
    }

    #[test]
    fn hash_changes_with_any_change_of_meaning(
        which in 0..MUTATIONS.len(),
        seed in proptest::collection::vec(any::<u8>(), 1..20),
    ) {
        let base = linear().content_hash();
        let (from, to) = MUTATIONS[which];
        let src = decorate(&replace_once(LINEAR, from, to), &seed);
        let parsed = parse_template(&src, None);
        prop_assert!(parsed.is_ok(), "mutation {}: {}", which, parsed.as_ref().err().map(|d| show(d)).unwrap_or_default());
        prop_assert_ne!(parsed.unwrap().content_hash(), base, "mutation {} kept the hash", which);
    }

    #[test]
    fn hash_changes_with_a_numeric_bound(max in 7i64..100_000) {
        let base = linear().content_hash();
        let src = replace_once(LINEAR, "max = 6\n", &format!("max = {max}\n"));
        let parsed = parse_template(&src, None).unwrap();
        prop_assert_eq!(parsed.item("mrs").unwrap().max, Some(max as f64));
        prop_assert_ne!(parsed.content_hash(), base);
    }
}

// ---------------------------------------------------------------------------------------
// Diagnostics, one rule at a time.

#[test]
fn unknown_top_level_field() {
    let src = replace_once(LINEAR, "version = 1\n", "version = 1\ncolour = \"red\"\n");
    let d = errors(&src);
    expect(&d, "colour", line_of(&src, "colour"), "unknown field");
    assert_eq!(d[0].column, 1);
    assert_eq!(d.len(), 1, "{}", show(&d));
}

#[test]
fn unknown_nested_fields_are_all_reported() {
    let src = replace_once(LINEAR, "max_days = 60\n", "max_days = 60\nwards = 3\n");
    let src = replace_once(
        &src,
        "en = \"Dysphagia\" }",
        "en = \"Dysphagia\", fr = \"Dysphagie\" }",
    );
    let src = replace_once(
        &src,
        "at = \"start\", days = 21 }",
        "at = \"start\", days = 21, weeks = 3 }",
    );
    let src = replace_once(
        &src,
        "owner = \"ophthal\"\n",
        "owner = \"ophthal\"\nevery = 1\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 4, "{}", show(&d));
    expect(
        &d,
        "stages[0].wards",
        line_of(&src, "wards"),
        "unknown field",
    );
    let fr = line_of(&src, "Dysphagie");
    expect(&d, "items[2].title.fr", fr, "unknown field");
    assert_eq!(
        at(&d, "items[2].title.fr").column,
        column_of(&src, fr, "fr =")
    );
    expect(
        &d,
        "goals[0].due.weeks",
        line_of(&src, "weeks"),
        "unknown field",
    );
    expect(
        &d,
        "schedule[0].every",
        line_of(&src, "every = 1"),
        "unknown field",
    );
    // Sorted by position.
    let lines: Vec<usize> = d.iter().map(|x| x.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

#[test]
fn two_unknown_fields_in_one_table() {
    let src = replace_once(
        LINEAR,
        "version = 1\n",
        "version = 1\ncolour = 1\nshape = 2\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 2, "{}", show(&d));
    expect(&d, "colour", line_of(&src, "colour"), "unknown field");
    expect(&d, "shape", line_of(&src, "shape"), "unknown field");
}

#[test]
fn unknown_field_in_a_goal_target_is_reported_with_its_line() {
    // Goal targets are a tagged union that rejects unknown keys while deserialising.
    let src = replace_once(
        LINEAR,
        "op = \"<=\", value = 2 }",
        "op = \"<=\", value = 2, unit = \"x\" }",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    assert_eq!(d[0].line, line_of(&src, "unit = \"x\""), "{}", show(&d));
    assert!(d[0].message.contains("unit"), "{}", d[0].message);
}

#[test]
fn duplicate_codes_of_every_kind() {
    let items = linear().items.len();
    let src = insert_before(
        LINEAR,
        "[[items]]\ncode = \"mrs\"",
        "[[stages]]\ncode = \"home\"\ntitle = { ja = \"重複\", en = \"Dup\" }\nprovider_kinds = [\"clinic\"]\n\n",
    );
    let src = insert_before(
        &src,
        "[[goals]]\ncode = \"mrs_good\"",
        "[[items]]\ncode = \"mrs\"\ntitle = { ja = \"重複\", en = \"Dup\" }\ntype = \"integer\"\nstages = [\"acute\"]\n\n",
    );
    let src = insert_before(
        &src,
        "[[variances]]\ncode = \"NEG.VAR.CO.RECEIVE\"",
        "[[goals]]\ncode = \"mrs_good\"\ntitle = { ja = \"重複\", en = \"Dup\" }\ntarget = { kind = \"threshold\", item = \"mrs\", op = \"<\", value = 3 }\n\n",
    );
    let src = insert_before(
        &src,
        "[[schedule]]",
        "[[variances]]\ncode = \"NEG.VAR.PT.COMPLICATION\"\ntitle = { ja = \"重複\", en = \"Dup\" }\n\n",
    );
    let src = format!(
        "{src}\n[[schedule]]\ncode = \"eye_check\"\ntitle = {{ ja = \"重複\", en = \"Dup\" }}\nitems = [\"eye_exam\"]\ninterval_days = 30\nowner = \"clinic\"\n"
    );
    let d = errors(&src);
    assert_eq!(d.len(), 5, "{}", show(&d));
    expect(
        &d,
        "stages[3].code",
        line_is(&src, "code = \"home\"", 1),
        "duplicate stage code `home`",
    );
    expect(
        &d,
        &format!("items[{items}].code"),
        line_is(&src, "code = \"mrs\"", 1),
        "duplicate item code `mrs`",
    );
    expect(
        &d,
        "goals[7].code",
        line_is(&src, "code = \"mrs_good\"", 1),
        "duplicate goal code `mrs_good`",
    );
    expect(
        &d,
        "variances[3].code",
        line_is(&src, "code = \"NEG.VAR.PT.COMPLICATION\"", 1),
        "duplicate variance code `NEG.VAR.PT.COMPLICATION`",
    );
    expect(
        &d,
        "schedule[1].code",
        line_is(&src, "code = \"eye_check\"", 1),
        "duplicate schedule code `eye_check`",
    );
}

#[test]
fn duplicate_option_and_allowed_values() {
    let src = replace_once(LINEAR, "{ code = \"unable\"", "{ code = \"assisted\"");
    let src = replace_once(&src, "allowed = [0, 5, 10]\n", "allowed = [0, 5, 5]\n");
    let d = errors(&src);
    assert_eq!(d.len(), 2, "{}", show(&d));
    expect(
        &d,
        "items[3].options[3].code",
        line_is(
            &src,
            "{ code = \"assisted\", title = { ja = \"不能\", en = \"Unable\" } },",
            0,
        ),
        "duplicate option code `assisted`",
    );
    expect(
        &d,
        "items[17].allowed[2]",
        line_of(&src, "allowed = [0, 5, 5]"),
        "duplicate allowed value 5",
    );
}

#[test]
fn goal_on_an_unknown_item() {
    let src = replace_once(LINEAR, "item = \"mrs\", op", "item = \"mrz\", op");
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    let line = line_of(&src, "\"mrz\"");
    expect(&d, "goals[0].target.item", line, "unknown item `mrz`");
    assert_eq!(d[0].column, column_of(&src, line, "item = \"mrz\""));
}

#[test]
fn goal_kind_and_item_type_must_fit() {
    let src = replace_once(
        LINEAR,
        "kind = \"range\", item = \"hba1c\"",
        "kind = \"range\", item = \"walk_cat\"",
    );
    let src = replace_once(
        &src,
        "item = \"destination\", values",
        "item = \"mrs\", values",
    );
    let src = replace_once(
        &src,
        "from_item = \"arrival_at\"",
        "from_item = \"onset_date\"",
    );
    let src = replace_once(
        &src,
        "from = { item = \"fim_total\"",
        "from = { item = \"memo\"",
    );
    let src = replace_once(
        &src,
        "to = { item = \"fim_total\", stage = \"recovery\"",
        "to = { item = \"fim_total\", stage = \"home\"",
    );
    let src = replace_once(
        &src,
        "item = \"eye_exam\", months",
        "item = \"eye_scan\", months",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 6, "{}", show(&d));
    expect(
        &d,
        "goals[1].target.item",
        line_of(&src, "item = \"walk_cat\""),
        "needs a numeric item, `walk_cat` is not",
    );
    expect(
        &d,
        "goals[3].target.item",
        line_of(&src, "item = \"mrs\", values"),
        "needs a choice item, `mrs` is not",
    );
    expect(
        &d,
        "goals[5].target.from_item",
        line_of(&src, "from_item"),
        "needs a datetime item, `onset_date` is not",
    );
    let change = line_of(&src, "kind = \"change\"");
    expect(
        &d,
        "goals[2].target.from.item",
        change,
        "a change goal needs a numeric item, `memo` is not",
    );
    expect(
        &d,
        "goals[2].target.to.stage",
        change,
        "`fim_total` is not recordable in stage `home`",
    );
    expect(
        &d,
        "goals[6].target.item",
        line_of(&src, "eye_scan"),
        "unknown item `eye_scan`",
    );
}

#[test]
fn goal_bounds_and_membership_values() {
    let src = replace_once(LINEAR, "min = 7.0, max = 8.0", "min = 8.0, max = 8.0");
    let src = replace_once(
        &src,
        "values = [\"home\", \"residential\"]",
        "values = [\"home\", \"castle\"]",
    );
    let src = replace_once(&src, "op = \"<=\", days = 21", "op = \"<=\", days = 0");
    let src = replace_once(&src, "max_hours = 48", "max_hours = 0");
    let src = replace_once(&src, "months = 12", "months = 0");
    let src = replace_once(
        &src,
        "due = { stage = \"recovery\"",
        "due = { stage = \"rehab\"",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 6, "{}", show(&d));
    expect(
        &d,
        "goals[1].target.min",
        line_of(&src, "min = 8.0"),
        "range min 8 must be below max 8",
    );
    expect(
        &d,
        "goals[3].target.values[1]",
        line_of(&src, "castle"),
        "`castle` is not an option of `destination`",
    );
    expect(
        &d,
        "goals[4].target.days",
        line_of(&src, "days = 0"),
        "days must be 1 or more",
    );
    expect(
        &d,
        "goals[5].target.max_hours",
        line_of(&src, "max_hours = 0"),
        "max_hours must be 1 or more",
    );
    expect(
        &d,
        "goals[6].target.months",
        line_of(&src, "months = 0"),
        "months must be 1 or more",
    );
    expect(
        &d,
        "goals[3].due.stage",
        line_of(&src, "\"rehab\""),
        "due names unknown stage `rehab`",
    );
}

#[test]
fn min_greater_than_max() {
    let src = replace_once(LINEAR, "min = 0\nmax = 6\n", "min = 7\nmax = 6\n");
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    expect(
        &d,
        "items[0].min",
        line_is(&src, "min = 7", 0),
        "min 7 is greater than max 6",
    );
    assert_eq!(d[0].column, 1);
}

#[test]
fn item_shape_rules() {
    // A range on a boolean, a fractional bound on an integer, options on a non-choice,
    // components on a non-composite, an empty stage list, expected > max days.
    let src = replace_once(
        LINEAR,
        "type = \"boolean\"\nstages = [\"acute\", \"recovery\"]\n",
        "type = \"boolean\"\nmax = 1\nstages = [\"acute\", \"recovery\"]\n",
    );
    let src = replace_once(&src, "max = 6\n", "max = 6.5\n");
    let src = replace_once(
        &src,
        "type = \"date\"\n",
        "type = \"date\"\noptions = []\ncomponents = [\"mrs\"]\n",
    );
    let src = replace_once(
        &src,
        "type = \"text\"\nstages = [\"acute\", \"recovery\", \"home\"]\n",
        "type = \"text\"\nstages = []\n",
    );
    let src = replace_once(&src, "expected_days = 90\n", "expected_days = 151\n");
    let d = errors(&src);
    assert_eq!(d.len(), 6, "{}", show(&d));
    expect(
        &d,
        "items[2].max",
        line_is(&src, "max = 1", 0),
        "a range applies only to numeric items",
    );
    expect(
        &d,
        "items[0].max",
        line_of(&src, "max = 6.5"),
        "must be a whole number",
    );
    expect(
        &d,
        "items[5].options",
        line_of(&src, "options = []"),
        "options apply only to choice items",
    );
    expect(
        &d,
        "items[5].components",
        line_of(&src, "components = [\"mrs\"]"),
        "components apply only to composite items",
    );
    expect(
        &d,
        "items[8].stages",
        line_of(&src, "stages = []"),
        "at least one stage",
    );
    expect(
        &d,
        "stages[1].expected_days",
        line_of(&src, "expected_days = 151"),
        "expected_days 151 is greater than max_days 150",
    );
}

#[test]
fn choice_without_options() {
    let opts = "options = [\n  { code = \"independent\", title = { ja = \"自立\", en = \"Independent\" } },\n  { code = \"supervised\", title = { ja = \"見守り\", en = \"Supervised\" } },\n  { code = \"assisted\", title = { ja = \"介助\", en = \"Assisted\" } },\n  { code = \"unable\", title = { ja = \"不能\", en = \"Unable\" } },\n]\n";
    let missing = replace_once(LINEAR, opts, "");
    let d = errors(&missing);
    assert_eq!(d.len(), 1, "{}", show(&d));
    expect(
        &d,
        "items[3].type",
        line_is(&missing, "type = \"choice\"", 0),
        "choice item `walk_cat` has no options",
    );
    let empty = replace_once(LINEAR, opts, "options = []\n");
    let d = errors(&empty);
    assert_eq!(d.len(), 1, "{}", show(&d));
    expect(
        &d,
        "items[3].options",
        line_of(&empty, "options = []"),
        "choice item `walk_cat` has no options",
    );
}

#[test]
fn schedule_interval_of_zero_days() {
    let src = replace_once(LINEAR, "interval_days = 365", "interval_days = 0");
    let src = replace_once(
        &src,
        "items = [\"eye_exam\"]",
        "items = [\"eye_exam\", \"retina\"]",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 2, "{}", show(&d));
    expect(
        &d,
        "schedule[0].interval_days",
        line_of(&src, "interval_days = 0"),
        "schedule interval must be 1 day or more",
    );
    expect(
        &d,
        "schedule[0].items[1]",
        line_of(&src, "retina"),
        "schedule `eye_check` names unknown item `retina`",
    );
}

#[test]
fn composite_naming_a_missing_item() {
    let src = replace_once(
        LINEAR,
        "components = [\"fim_eating\", \"fim_grooming\"]",
        "components = [\"fim_eating\", \"fim_groom\"]",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    let line = line_of(&src, "fim_groom\"");
    expect(
        &d,
        "items[14].components[1]",
        line,
        "composite `fim_motor` names missing item `fim_groom`",
    );
    assert_eq!(d[0].column, column_of(&src, line, "\"fim_groom\""));
}

#[test]
fn composite_of_non_numeric_or_no_items() {
    let src = replace_once(
        LINEAR,
        "components = [\"fim_comprehension\", \"fim_memory\"]",
        "components = [\"fim_comprehension\", \"memo\"]",
    );
    let src = replace_once(
        &src,
        "components = [\"barthel_feeding\", \"barthel_transfer\"]\n",
        "",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 2, "{}", show(&d));
    expect(
        &d,
        "items[15].components[1]",
        line_of(&src, "\"memo\"]"),
        "must be an integer or decimal item, not text",
    );
    expect(
        &d,
        "items[19].type",
        line_is(&src, "type = \"composite\"", 3),
        "composite item `barthel_total` lists no components",
    );
}

#[test]
fn stage_leading_backwards_in_a_linear_pathway() {
    let src = replace_once(
        LINEAR,
        "max_days = 150\n",
        "max_days = 150\nnext = [\"acute\"]\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 2, "{}", show(&d));
    expect(
        &d,
        "stages[1].next[0]",
        line_of(&src, "next = [\"acute\"]"),
        "stage order broken: `recovery` may not lead back to earlier stage `acute`",
    );
    // With recovery leading back, home is no longer reachable.
    expect(
        &d,
        "stages[2].code",
        line_is(&src, "code = \"home\"", 0),
        "stage order broken: stage `home` cannot be reached from the first stage `acute`",
    );
}

#[test]
fn unreachable_stage_and_unknown_next() {
    let src = replace_once(
        LINEAR,
        "max_days = 60\n",
        "max_days = 60\nnext = [\"home\", \"icu\"]\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 2, "{}", show(&d));
    expect(
        &d,
        "stages[1].code",
        line_is(&src, "code = \"recovery\"", 0),
        "stage `recovery` cannot be reached from the first stage `acute`",
    );
    let next = line_of(&src, "\"icu\"");
    expect(
        &d,
        "stages[0].next[1]",
        next,
        "next names unknown stage `icu`",
    );
    assert_eq!(
        at(&d, "stages[0].next[1]").column,
        column_of(&src, next, "\"icu\"")
    );
}

#[test]
fn self_loop_in_a_linear_pathway() {
    let src = replace_once(
        LINEAR,
        "max_days = 60\n",
        "max_days = 60\nnext = [\"acute\", \"recovery\"]\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    expect(
        &d,
        "stages[0].next[0]",
        line_of(&src, "next ="),
        "may not lead back to earlier stage `acute`",
    );
}

#[test]
fn unknown_stage_in_item_stages_and_required_lists() {
    let src = replace_once(
        LINEAR,
        "stages = [\"acute\", \"recovery\", \"home\"]\nrequired_at_end = [\"acute\"]\n",
        "stages = [\"acute\", \"recovery\", \"hoem\"]\nrequired_at_end = [\"rehab\"]\n",
    );
    let src = replace_once(
        &src,
        "type = \"date\"\nstages = [\"acute\"]\n",
        "type = \"date\"\nstages = [\"acute\"]\nrequired_at_start = [\"recovery\"]\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 3, "{}", show(&d));
    let stages = line_of(&src, "\"hoem\"");
    expect(&d, "items[0].stages[2]", stages, "unknown stage `hoem`");
    assert_eq!(
        at(&d, "items[0].stages[2]").column,
        column_of(&src, stages, "\"hoem\"")
    );
    expect(
        &d,
        "items[0].required_at_end[0]",
        line_of(&src, "\"rehab\""),
        "unknown stage `rehab`",
    );
    expect(
        &d,
        "items[5].required_at_start[0]",
        line_of(&src, "required_at_start"),
        "item `onset_date` is required in stage `recovery` but not recordable there",
    );
}

#[test]
fn bad_variance_codes() {
    let src = replace_once(LINEAR, "\"NEG.VAR.CO.RECEIVE\"", "\"NEG.VAR.CO.NOPE\"");
    let src = replace_once(&src, "\"NEG.VAR.PT.COMPLICATION\"", "\"NEG.VAR\"");
    let src = replace_once(&src, "\"POS.VAR.PT.CONDITION\"", "\"UP.VAR.PT.CONDITION\"");
    let d = errors(&src);
    assert_eq!(d.len(), 3, "{}", show(&d));
    expect(
        &d,
        "variances[0].code",
        line_of(&src, "NEG.VAR.CO.NOPE"),
        "variance detail `NOPE` is not defined for category CO",
    );
    expect(
        &d,
        "variances[1].code",
        line_of(&src, "\"NEG.VAR\""),
        "must have four parts",
    );
    expect(
        &d,
        "variances[2].code",
        line_of(&src, "UP.VAR"),
        "variance direction `UP` must be one of POS, NEG",
    );
}

#[test]
fn code_style_rules() {
    let src = replace_once(LINEAR, "code = \"test-path\"", "code = \"Test_Path\"");
    let src = replace_once(&src, "code = \"dysphagia\"", "code = \"Dysphagia\"");
    let src = replace_once(&src, "code = \"fim_gain\"", "code = \"fim-gain\"");
    let src = replace_once(&src, "{ code = \"unable\"", "{ code = \"Unable\"");
    let src = replace_once(&src, "code = \"eye_check\"", "code = \"eye check\"");
    let d = errors(&src);
    assert_eq!(d.len(), 5, "{}", show(&d));
    expect(
        &d,
        "code",
        line_of(&src, "Test_Path"),
        "pathway code `Test_Path` must be kebab-case",
    );
    expect(
        &d,
        "items[2].code",
        line_of(&src, "code = \"Dysphagia\""),
        "item code `Dysphagia` must be snake_case",
    );
    expect(
        &d,
        "goals[2].code",
        line_of(&src, "fim-gain"),
        "goal code `fim-gain` must be snake_case",
    );
    expect(
        &d,
        "items[3].options[3].code",
        line_of(&src, "\"Unable\""),
        "option code `Unable` must be snake_case",
    );
    expect(
        &d,
        "schedule[0].code",
        line_of(&src, "eye check\""),
        "schedule code `eye check` must be snake_case",
    );
}

#[test]
fn code_and_version_must_match_the_file_location() {
    let d = parse_template(LINEAR, Some(("other-path", 2))).unwrap_err();
    assert_eq!(d.len(), 2, "{}", show(&d));
    expect(
        &d,
        "code",
        2,
        "code `test-path` does not match its directory `other-path`",
    );
    expect(
        &d,
        "version",
        3,
        "version 1 does not match the file name v2.toml",
    );
    assert_eq!(line_of(LINEAR, "code = \"test-path\""), 2);
    assert_eq!(line_of(LINEAR, "version = 1"), 3);
    let only_version = parse_template(LINEAR, Some(("test-path", 7))).unwrap_err();
    assert_eq!(only_version.len(), 1);
    assert_eq!(only_version[0].path, "version");
    assert!(only_version[0].message.contains("v7.toml"));
}

#[test]
fn version_zero_is_rejected() {
    let src = replace_once(LINEAR, "version = 1", "version = 0");
    let d = errors(&src);
    expect(&d, "version", 3, "version must be 1 or more");
}

#[test]
fn toml_syntax_error_names_its_line() {
    let src = replace_once(LINEAR, "max = 6\n", "max = \n");
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    assert_eq!(d[0].line, line_is(&src, "max =", 0), "{}", show(&d));
    assert!(d[0].path.is_empty());
    assert!(!d[0].message.is_empty());

    // An unterminated string: the line and the column where the closing quote is missing.
    let src = replace_once(LINEAR, "every goal kind\"", "every goal kind");
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    let line = line_of(&src, "every goal kind");
    assert_eq!(
        (d[0].line, d[0].column),
        (line, column_of(&src, line, "kind") + 4),
        "{}",
        show(&d)
    );
    assert!(d[0].message.contains("string"), "{}", d[0].message);

    let src = replace_once(
        LINEAR,
        "[[goals]]\ncode = \"hba1c_band\"",
        "[[goals]\ncode = \"hba1c_band\"",
    );
    let d = errors(&src);
    assert_eq!(d[0].line, line_is(&src, "[[goals]", 0), "{}", show(&d));
}

#[test]
fn duplicate_toml_key_names_the_second_line() {
    let src = replace_once(LINEAR, "max = 6\n", "max = 6\nmax = 7\n");
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    assert_eq!(d[0].line, line_is(&src, "max = 7", 0), "{}", show(&d));
    assert!(d[0].message.contains("duplicate"), "{}", d[0].message);
}

#[test]
fn unknown_fields_before_a_type_error_are_reported_with_it() {
    let src = replace_once(LINEAR, "version = 1\n", "version = 1\ncolour = \"red\"\n");
    let src = replace_once(&src, "min = 0\nmax = 6\n", "min = \"zero\"\nmax = 6\n");
    let d = errors(&src);
    assert_eq!(d.len(), 2, "{}", show(&d));
    assert_eq!(
        (d[0].path.as_str(), d[0].line),
        ("colour", line_of(&src, "colour"))
    );
    assert_eq!(
        (d[1].path.as_str(), d[1].line),
        ("", line_of(&src, "\"zero\""))
    );
}

#[test]
fn toml_type_error_names_its_line() {
    let src = replace_once(LINEAR, "min = 0\nmax = 6\n", "min = \"zero\"\nmax = 6\n");
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    assert_eq!(d[0].line, line_of(&src, "\"zero\""), "{}", show(&d));
    let src = replace_once(LINEAR, "type = \"date\"", "type = \"calendar\"");
    let d = errors(&src);
    assert_eq!(d[0].line, line_of(&src, "calendar"), "{}", show(&d));
    assert!(d[0].message.contains("calendar"), "{}", d[0].message);
    let src = replace_once(LINEAR, "kind = \"done_within\"", "kind = \"sometime\"");
    let d = errors(&src);
    assert_eq!(d[0].line, line_of(&src, "sometime"), "{}", show(&d));
    let src = replace_once(LINEAR, "code = \"mrs\"\n", "");
    let d = errors(&src);
    assert!(d[0].message.contains("code"), "{}", d[0].message);
    assert_eq!(d[0].line, line_is(&src, "[[items]]", 0), "{}", show(&d));
}

#[test]
fn every_semantic_error_is_reported_at_once() {
    let mut src = replace_once(LINEAR, "version = 1\n", "version = 1\ncolour = \"red\"\n");
    for (from, to) in [
        ("max_days = 60\n", "max_days = 60\nwards = 3\n"),
        ("min = 0\nmax = 6\n", "min = 7\nmax = 6\n"),
        (
            "\"acute\", \"recovery\", \"home\"]\nrequired_at_end",
            "\"acute\", \"recovery\", \"hoem\"]\nrequired_at_end",
        ),
        (
            "components = [\"fim_eating\", \"fim_grooming\"]",
            "components = [\"fim_eating\", \"fim_groom\"]",
        ),
        ("item = \"mrs\", op", "item = \"mrz\", op"),
        (
            "kind = \"range\", item = \"hba1c\"",
            "kind = \"range\", item = \"walk_cat\"",
        ),
        ("\"NEG.VAR.CO.RECEIVE\"", "\"NEG.VAR.CO.NOPE\""),
        ("interval_days = 365", "interval_days = 0"),
        ("max_days = 150\n", "max_days = 150\nnext = [\"acute\"]\n"),
    ] {
        src = replace_once(&src, from, to);
    }
    let d = parse_template(&src, Some(("test-path", 2))).unwrap_err();
    let want = [
        ("version", line_of(&src, "version = 1")),
        ("colour", line_of(&src, "colour")),
        ("stages[0].wards", line_of(&src, "wards")),
        ("stages[1].next[0]", line_of(&src, "next = [\"acute\"]")),
        ("stages[2].code", line_is(&src, "code = \"home\"", 0)),
        ("items[0].min", line_is(&src, "min = 7", 0)),
        ("items[0].stages[2]", line_of(&src, "hoem")),
        ("items[14].components[1]", line_of(&src, "fim_groom\"")),
        ("goals[0].target.item", line_of(&src, "mrz")),
        ("goals[1].target.item", line_of(&src, "item = \"walk_cat\"")),
        ("variances[0].code", line_of(&src, "NOPE")),
        (
            "schedule[0].interval_days",
            line_of(&src, "interval_days = 0"),
        ),
    ];
    assert_eq!(d.len(), want.len(), "{}", show(&d));
    for (path, line) in want {
        assert_eq!(at(&d, path).line, line, "line of {path}:\n{}", show(&d));
    }
    // Sorted by position in the file.
    assert!(
        d.windows(2)
            .all(|w| (w[0].line, w[0].column) <= (w[1].line, w[1].column)),
        "{}",
        show(&d)
    );
    // Display is `line:column: path: message`.
    let shown = at(&d, "items[0].min").to_string();
    assert_eq!(
        shown,
        format!(
            "{}:1: items[0].min: min 7 is greater than max 6",
            line_is(&src, "min = 7", 0)
        )
    );
}

#[test]
fn empty_pathway_needs_stages_and_provider_kinds() {
    let src = "code = \"empty\"\nversion = 1\ntitle = { ja = \"空\", en = \"Empty\" }\nstages = []\nitems = []\n";
    let d = errors(src);
    expect(&d, "stages", 4, "at least one stage");
    assert_eq!(d.len(), 1, "{}", show(&d));
    let src = replace_once(
        LINEAR,
        "provider_kinds = [\"recovery_hosp\"]",
        "provider_kinds = []",
    );
    let d = errors(&src);
    expect(
        &d,
        "stages[1].provider_kinds",
        line_of(&src, "provider_kinds = []"),
        "at least one provider kind",
    );
}

// ---------------------------------------------------------------------------------------
// File names and the schema.

#[test]
fn version_from_file_names() {
    for (name, want) in [
        ("v1.toml", Some(1)),
        ("v2.toml", Some(2)),
        ("v12.toml", Some(12)),
        ("v0.toml", None),
        ("v01.toml", None),
        ("v.toml", None),
        ("1.toml", None),
        ("v1.json", None),
        ("v1.toml.bak", None),
        ("vx.toml", None),
        ("v-1.toml", None),
        ("V1.toml", None),
        ("v99999999999.toml", None),
    ] {
        assert_eq!(version_from_file_name(name), want, "{name}");
    }
}

#[test]
fn json_schema_describes_the_template() {
    let schema = json_schema();
    let text = schema.to_string();
    let props = schema
        .get("properties")
        .and_then(|p| p.as_object())
        .unwrap_or_else(|| panic!("no properties: {text}"));
    for key in [
        "code",
        "version",
        "title",
        "stages",
        "items",
        "goals",
        "variances",
        "schedule",
        "cyclical",
    ] {
        assert!(props.contains_key(key), "schema lacks `{key}`");
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for key in ["code", "version", "title", "stages", "items"] {
        assert!(
            required.contains(&key),
            "`{key}` should be required: {required:?}"
        );
    }
    assert!(!required.contains(&"goals"));
    assert_eq!(
        schema["additionalProperties"],
        serde_json::json!(false),
        "{text}"
    );
    // The goal kinds and comparators appear as their TOML spellings.
    for word in [
        "stage_length",
        "time_between",
        "done_within",
        "\"<=\"",
        "composite",
        "ophthal",
    ] {
        assert!(text.contains(word), "schema lacks {word}");
    }
}

#[test]
fn a_goals_automatic_variance_code_is_of_the_scheme_listed_and_of_a_system_or_unknown_cause() {
    let goal_line = "target = { kind = \"threshold\", item = \"mrs\", op = \"<=\", value = 2 }\n";
    let with = |code: &str| {
        let src = replace_once(
            LINEAR,
            goal_line,
            &format!("{goal_line}variance = \"{code}\"\n"),
        );
        insert_before(
            &src,
            "[[schedule]]",
            "[[variances]]\ncode = \"NEG.VAR.SY.BED\"\ntitle = { ja = \"空床待ち\", en = \"Waiting for a bed\" }\n\n",
        )
    };
    let ok = parse_template(&with("NEG.VAR.SY.BED"), None).expect("a listed system code");
    assert_eq!(ok.goals[0].variance.as_deref(), Some("NEG.VAR.SY.BED"));

    for (code, text) in [
        ("NEG.VAR.SY", "four parts"),
        ("NEG.VAR.SY.SCHED", "not listed in [[variances]]"),
        (
            "NEG.VAR.PT.COMPLICATION",
            "must have cause category SY or UN",
        ),
    ] {
        let src = with(code);
        let d = errors(&src);
        assert_eq!(d.len(), 1, "{code}: {}", show(&d));
        expect(
            &d,
            "goals[0].variance",
            line_of(&src, &format!("variance = \"{code}\"")),
            text,
        );
    }
}
