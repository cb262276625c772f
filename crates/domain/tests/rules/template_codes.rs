//! Template checks of item `codes` and `carry_over` and of schedule `interval_by` and
//! `applies_when`: each problem is reported with its path and line, alongside the others.

use renkei_domain::template::{Diagnostic, parse_template};

use super::fixture::{LINEAR, line_of, replace_once, show};

fn errors(src: &str) -> Vec<Diagnostic> {
    match parse_template(src, None) {
        Ok(_) => panic!("expected the template to be rejected"),
        Err(d) => d,
    }
}

/// Asserts one diagnostic at `path` on `line` whose message contains `text`.
fn expect(diags: &[Diagnostic], path: &str, line: usize, text: &str) {
    let hits: Vec<&Diagnostic> = diags.iter().filter(|d| d.path == path).collect();
    assert_eq!(
        hits.len(),
        1,
        "one diagnostic at `{path}`:\n{}",
        show(diags)
    );
    assert_eq!(hits[0].line, line, "line of `{path}`:\n{}", show(diags));
    assert!(
        hits[0].message.contains(text),
        "message of `{path}` should contain `{text}`: {}",
        hits[0].message
    );
}

/// The fixture's HbA1c item with `codes` and the eye schedule with a grade item.
fn with(codes: &str, schedule_extra: &str) -> String {
    let src = replace_once(
        LINEAR,
        "unit = \"%\"\nmin = 3.0\nmax = 20.0\nstages = [\"acute\", \"recovery\", \"home\"]\n",
        &format!(
            "unit = \"%\"\nmin = 3.0\nmax = 20.0\nstages = [\"acute\", \"recovery\", \"home\"]\n{codes}"
        ),
    );
    replace_once(
        &src,
        "grace_days = 30\nowner = \"ophthal\"\n",
        &format!("grace_days = 30\nowner = \"ophthal\"\n{schedule_extra}"),
    )
}

#[test]
fn item_codes_and_schedule_bands_that_are_right_parse() {
    let src = with(
        "codes = [\n  { system = \"http://loinc.org\", code = \"4548-4\", display = \"Hemoglobin A1c/Hemoglobin.total in Blood\" },\n  { system = \"urn:oid:1.2.392.200119.4.504\", code = \"3D046000001999902\" },\n]\ncarry_over = true\n",
        "interval_by = { item = \"walk_cat\", bands = [{ in = [\"independent\"], days = 365 }, { in = [\"assisted\", \"unable\"], days = 60 }] }\napplies_when = [{ kind = \"choice\", item = \"walk_cat\", in = [\"assisted\"] }, { kind = \"flag\", item = \"dysphagia\", value = true }, { kind = \"number\", item = \"mrs\", op = \">=\", value = 3 }, { kind = \"age\", op = \">=\", value = 65 }]\n",
    );
    let t = parse_template(&src, None).unwrap_or_else(|d| panic!("{}", show(&d)));
    let hba1c = t.item("hba1c").unwrap();
    assert_eq!(hba1c.codes.len(), 2);
    assert_eq!(hba1c.codes[0].system, "http://loinc.org");
    assert_eq!(hba1c.codes[0].code, "4548-4");
    assert!(hba1c.carry_over);
    let rule = &t.schedule[0];
    let by = rule.interval_by.as_ref().unwrap();
    assert_eq!(by.item, "walk_cat");
    assert_eq!(by.bands[1].days, 60);
    assert_eq!(rule.applies_when.len(), 4);
}

#[test]
fn a_code_system_must_be_a_uri_and_a_code_non_empty() {
    let src = with(
        "codes = [\n  { system = \"LOINC\", code = \"4548-4\" },\n  { system = \"http://loinc.org\", code = \"\" },\n  { system = \"http://loinc .org\", code = \" 4548-4\" },\n  { system = \"http://loinc.org\", code = \"4548-4\" },\n  { system = \"http://loinc.org\", code = \"4548-4\" },\n]\n",
        "",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 5, "{}", show(&d));
    expect(
        &d,
        "items[1].codes[0].system",
        line_of(&src, "system = \"LOINC\""),
        "code system `LOINC` of item `hba1c` must be a URI",
    );
    expect(
        &d,
        "items[1].codes[1].code",
        line_of(&src, "code = \"\""),
        "must be non-empty",
    );
    expect(
        &d,
        "items[1].codes[2].system",
        line_of(&src, "loinc .org"),
        "must be a URI",
    );
    expect(
        &d,
        "items[1].codes[2].code",
        line_of(&src, "loinc .org"),
        "without surrounding spaces",
    );
    assert!(
        d.iter()
            .any(|x| x.path == "items[1].codes[4].code"
                && x.message.contains("duplicate code `4548-4`")),
        "{}",
        show(&d)
    );
}

#[test]
fn a_carried_over_item_must_be_recordable_in_two_stages() {
    let src = replace_once(
        LINEAR,
        "code = \"onset_date\"\ntitle = { ja = \"発症日\", en = \"Onset date\" }\ntype = \"date\"\nstages = [\"acute\"]\n",
        "code = \"onset_date\"\ntitle = { ja = \"発症日\", en = \"Onset date\" }\ntype = \"date\"\nstages = [\"acute\"]\ncarry_over = true\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    expect(
        &d,
        "items[5].carry_over",
        line_of(&src, "carry_over = true"),
        "item `onset_date` is carried over but recordable in one stage only",
    );
}

#[test]
fn interval_by_needs_a_choice_item_and_its_options() {
    let src = with(
        "",
        "interval_by = { item = \"walk_cat\", bands = [{ in = [\"independent\", \"flying\"], days = 365 }, { in = [\"independent\"], days = 0 }, { in = [], days = 30 }] }\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 4, "{}", show(&d));
    let line = line_of(&src, "interval_by");
    expect(
        &d,
        "schedule[0].interval_by.bands[0].in[1]",
        line,
        "`flying` is not an option of `walk_cat`",
    );
    expect(
        &d,
        "schedule[0].interval_by.bands[1].in[0]",
        line,
        "`independent` is in more than one band",
    );
    expect(
        &d,
        "schedule[0].interval_by.bands[1].days",
        line,
        "an interval must be 1 day or more",
    );
    expect(
        &d,
        "schedule[0].interval_by.bands[2].in",
        line,
        "a band lists no values",
    );

    let src = with(
        "",
        "interval_by = { item = \"hba1c\", bands = [{ in = [\"x\"], days = 30 }] }\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    expect(
        &d,
        "schedule[0].interval_by.item",
        line_of(&src, "interval_by"),
        "schedule `eye_check` needs a choice item for its interval, `hba1c` is not",
    );

    let src = with(
        "",
        "interval_by = { item = \"retina_grade\", bands = [{ in = [\"x\"], days = 30 }] }\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    expect(
        &d,
        "schedule[0].interval_by.item",
        line_of(&src, "interval_by"),
        "schedule `eye_check` names unknown item `retina_grade`",
    );
}

#[test]
fn schedule_conditions_name_existing_items_of_the_right_kind() {
    let src = with(
        "",
        "applies_when = [\n  { kind = \"choice\", item = \"dkd_stage\", in = [\"stage_1\"] },\n  { kind = \"flag\", item = \"hba1c\", value = true },\n  { kind = \"choice\", item = \"walk_cat\", in = [\"running\"] },\n  { kind = \"number\", item = \"walk_cat\", op = \"<\", value = 2 },\n  { kind = \"age\", op = \">=\", value = 75 },\n]\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 4, "{}", show(&d));
    expect(
        &d,
        "schedule[0].applies_when[0]",
        line_of(&src, "dkd_stage"),
        "schedule `eye_check`: condition names unknown item `dkd_stage`",
    );
    expect(
        &d,
        "schedule[0].applies_when[1]",
        line_of(&src, "kind = \"flag\""),
        "condition needs a boolean item, `hba1c` is decimal",
    );
    expect(
        &d,
        "schedule[0].applies_when[2]",
        line_of(&src, "running"),
        "`running` is not an option of `walk_cat`",
    );
    expect(
        &d,
        "schedule[0].applies_when[3]",
        line_of(&src, "kind = \"number\""),
        "condition needs a numeric item, `walk_cat` is choice",
    );
}

#[test]
fn interval_since_counts_from_a_date_item_in_increasing_bands() {
    let src = with(
        "",
        "interval_since = { item = \"onset_date\", bands = [{ until_months = 36, days = 90 }, { until_months = 60, days = 180 }] }\n",
    );
    let t = parse_template(&src, None).unwrap_or_else(|d| panic!("{}", show(&d)));
    let since = t.schedule[0].interval_since.as_ref().unwrap();
    assert_eq!(since.item, "onset_date");
    assert_eq!(
        since
            .bands
            .iter()
            .map(|b| (b.until_months, b.days))
            .collect::<Vec<_>>(),
        [(36, 90), (60, 180)]
    );
    // The canonical form (and so the hash) carries the bands.
    assert!(t.canonical_json().contains("\"until_months\":36"));

    let src = with(
        "",
        "interval_since = { item = \"onset_date\", bands = [{ until_months = 36, days = 0 }, { until_months = 36, days = 180 }, { until_months = 12, days = 30 }] }\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 3, "{}", show(&d));
    let line = line_of(&src, "interval_since");
    expect(
        &d,
        "schedule[0].interval_since.bands[0].days",
        line,
        "an interval must be 1 day or more",
    );
    expect(
        &d,
        "schedule[0].interval_since.bands[1].until_months",
        line,
        "bands must end in increasing months: 36 is not after 36",
    );
    expect(
        &d,
        "schedule[0].interval_since.bands[2].until_months",
        line,
        "12 is not after 36",
    );

    let src = with("", "interval_since = { item = \"hba1c\", bands = [] }\n");
    let d = errors(&src);
    assert_eq!(d.len(), 2, "{}", show(&d));
    expect(
        &d,
        "schedule[0].interval_since.item",
        line_of(&src, "interval_since"),
        "schedule `eye_check` counts time from a date or datetime item, `hba1c` is decimal",
    );
    expect(
        &d,
        "schedule[0].interval_since.bands",
        line_of(&src, "interval_since"),
        "interval_since lists no bands",
    );
    let src = with(
        "",
        "interval_since = { item = \"surgery_day\", bands = [{ until_months = 12, days = 30 }] }\n",
    );
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{}", show(&d));
    expect(
        &d,
        "schedule[0].interval_since.item",
        line_of(&src, "interval_since"),
        "schedule `eye_check` names unknown item `surgery_day`",
    );
}

#[test]
fn planner_kinds_must_take_the_first_stage() {
    let ok = replace_once(
        LINEAR,
        "description = \"three stages",
        "planner_kinds = [\"acute_hosp\"]\ndescription = \"three stages",
    );
    let t = parse_template(&ok, None).unwrap_or_else(|d| panic!("{}", show(&d)));
    assert_eq!(
        t.planner_kinds,
        [renkei_domain::template::ProviderKind::AcuteHosp]
    );
    assert!(
        t.canonical_json()
            .contains("\"planner_kinds\":[\"acute_hosp\"]")
    );
    // Without it the canonical form (and every published hash) is unchanged.
    let plain = parse_template(LINEAR, None).unwrap_or_else(|d| panic!("{}", show(&d)));
    assert!(!plain.canonical_json().contains("planner_kinds"));

    let bad = replace_once(
        LINEAR,
        "description = \"three stages",
        "planner_kinds = [\"acute_hosp\", \"clinic\"]\ndescription = \"three stages",
    );
    let d = errors(&bad);
    assert_eq!(d.len(), 1, "{}", show(&d));
    expect(
        &d,
        "planner_kinds[1]",
        line_of(&bad, "planner_kinds"),
        "planner kind `clinic` does not take the first stage `acute`",
    );
}
