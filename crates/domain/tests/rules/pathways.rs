//! The published templates under `pathways/`: every file parses where it lives, and the
//! first three carry the canonical codes of domain.md §C.

use std::path::{Path, PathBuf};

use renkei_domain::entry::{EntryKind, validate_entry};
use renkei_domain::template::{ItemType, PathwayTemplate, parse_template, version_from_file_name};
use serde_json::{Map, Value, json};

use super::fixture::{new_entry, show, state, t};

fn pathways_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pathways")
}

/// Parses `pathways/<code>/v<version>.toml`, failing with the file's name when it is
/// missing or invalid.
fn load(code: &str, version: u32) -> PathwayTemplate {
    let path = pathways_dir().join(code).join(format!("v{version}.toml"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "missing pathway template {} ({e}); domain.md §C requires it",
            path.display()
        )
    });
    parse_template(&src, Some((code, version)))
        .unwrap_or_else(|d| panic!("{} is invalid:\n{}", path.display(), show(&d)))
}

const FIM_MOTOR: [&str; 13] = [
    "fim_eating",
    "fim_grooming",
    "fim_bathing",
    "fim_dressing_upper",
    "fim_dressing_lower",
    "fim_toileting",
    "fim_bladder",
    "fim_bowel",
    "fim_transfer_bed",
    "fim_transfer_toilet",
    "fim_transfer_tub",
    "fim_locomotion",
    "fim_stairs",
];
const FIM_COGNITIVE: [&str; 5] = [
    "fim_comprehension",
    "fim_expression",
    "fim_social",
    "fim_problem_solving",
    "fim_memory",
];
/// The Barthel items with their allowed sets (domain.md §2.4).
const BARTHEL: [(&str, &[i64]); 10] = [
    ("barthel_feeding", &[0, 5, 10]),
    ("barthel_transfer", &[0, 5, 10, 15]),
    ("barthel_grooming", &[0, 5]),
    ("barthel_toilet", &[0, 5, 10]),
    ("barthel_bathing", &[0, 5]),
    ("barthel_mobility", &[0, 5, 10, 15]),
    ("barthel_stairs", &[0, 5, 10]),
    ("barthel_dressing", &[0, 5, 10]),
    ("barthel_bowels", &[0, 5, 10]),
    ("barthel_bladder", &[0, 5, 10]),
];

fn item<'a>(t: &'a PathwayTemplate, code: &str) -> &'a renkei_domain::template::Item {
    t.item(code)
        .unwrap_or_else(|| panic!("{} v{} lacks item `{code}`", t.code, t.version))
}

/// Asserts type and inclusive range of a numeric item.
fn numeric(t: &PathwayTemplate, code: &str, ty: ItemType, min: f64, max: f64) {
    let i = item(t, code);
    assert_eq!(i.item_type, ty, "{}: type of {code}", t.code);
    assert_eq!(
        (i.min, i.max),
        (Some(min), Some(max)),
        "{}: range of {code}",
        t.code
    );
}

fn recordable_in(t: &PathwayTemplate, code: &str, stages: &[&str]) {
    let i = item(t, code);
    for s in stages {
        assert!(
            i.stages.iter().any(|x| x == s),
            "{}: `{code}` must be recordable in `{s}` (has {:?})",
            t.code,
            i.stages
        );
    }
}

fn stage_codes(t: &PathwayTemplate) -> Vec<&str> {
    t.stages.iter().map(|s| s.code.as_str()).collect()
}

#[test]
fn every_template_file_parses_where_it_lives() {
    let dir = pathways_dir();
    let mut found = Vec::new();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("missing pathways directory {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_dir() {
            continue;
        }
        let code = entry.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(entry.path()).unwrap() {
            let file = file.unwrap();
            let name = file.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".toml") {
                continue;
            }
            let version = version_from_file_name(&name).unwrap_or_else(|| {
                panic!(
                    "{}: template files are named v<N>.toml",
                    file.path().display()
                )
            });
            let src = std::fs::read_to_string(file.path()).unwrap();
            let t = parse_template(&src, Some((&code, version)))
                .unwrap_or_else(|d| panic!("{}:\n{}", file.path().display(), show(&d)));
            assert_eq!((t.code.as_str(), t.version), (code.as_str(), version));
            // The content hash is a function of the meaning: parsing twice agrees.
            let again = parse_template(&src, None).unwrap();
            assert_eq!(again.content_hash(), t.content_hash());
            found.push(format!("{code}/{name}"));
        }
    }
    found.sort();
    for required in [
        "diabetes/v1.toml",
        "femur-fracture/v1.toml",
        "stroke/v1.toml",
    ] {
        assert!(
            found.iter().any(|f| f == required),
            "missing pathway template pathways/{required} (found {found:?})"
        );
    }
}

/// FIM and Barthel items and totals, recordable in acute and recovery.
fn assert_fim_and_barthel(t: &PathwayTemplate) {
    let both = ["acute", "recovery"];
    for code in FIM_MOTOR.iter().chain(FIM_COGNITIVE.iter()) {
        numeric(t, code, ItemType::Integer, 1.0, 7.0);
        recordable_in(t, code, &both);
    }
    for (code, parts, min, max) in [
        ("fim_motor", FIM_MOTOR.to_vec(), 13.0, 91.0),
        ("fim_cognitive", FIM_COGNITIVE.to_vec(), 5.0, 35.0),
        (
            "fim_total",
            FIM_MOTOR
                .iter()
                .chain(FIM_COGNITIVE.iter())
                .copied()
                .collect(),
            18.0,
            126.0,
        ),
    ] {
        numeric(t, code, ItemType::Composite, min, max);
        recordable_in(t, code, &both);
        let mut got: Vec<&str> = item(t, code)
            .components
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(String::as_str)
            .collect();
        got.sort();
        let mut want = parts;
        want.sort();
        assert_eq!(got, want, "{}: components of {code}", t.code);
    }
    for (code, allowed) in BARTHEL {
        let i = item(t, code);
        assert_eq!(i.item_type, ItemType::Integer, "{}: {code}", t.code);
        assert_eq!(
            i.allowed.as_deref(),
            Some(allowed),
            "{}: allowed set of {code}",
            t.code
        );
        recordable_in(t, code, &both);
    }
    let total = item(t, "barthel_total");
    assert_eq!(total.item_type, ItemType::Composite);
    assert_eq!(
        (total.min, total.max, total.step),
        (Some(0.0), Some(100.0), Some(5.0))
    );
    let mut got: Vec<&str> = total
        .components
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .collect();
    got.sort();
    let mut want: Vec<&str> = BARTHEL.iter().map(|(c, _)| *c).collect();
    want.sort();
    assert_eq!(got, want, "{}: components of barthel_total", t.code);
    recordable_in(t, "barthel_total", &both);

    // The server computes the totals from a full set of items in either stage.
    for stage in both {
        let mut values = Map::new();
        for (i, code) in FIM_MOTOR.iter().chain(FIM_COGNITIVE.iter()).enumerate() {
            values.insert((*code).into(), json!(1 + (i as i64 % 7)));
        }
        for (code, allowed) in BARTHEL {
            values.insert(code.into(), json!(allowed[allowed.len() - 1]));
        }
        let motor: i64 = (0..13).map(|i| 1 + i % 7).sum();
        let cognitive: i64 = (13..18).map(|i| 1 + i % 7).sum();
        let entry = new_entry(stage, EntryKind::Assessment, Value::Object(values));
        let v =
            validate_entry(t, &state(stage, true, false), &entry, t0_now()).unwrap_or_else(|e| {
                panic!(
                    "{}: full FIM/Barthel set in {stage} rejected: {e:?}",
                    t.code
                )
            });
        assert_eq!(v.values["fim_motor"], json!(motor), "{}", t.code);
        assert_eq!(v.values["fim_cognitive"], json!(cognitive), "{}", t.code);
        assert_eq!(
            v.values["fim_total"],
            json!(motor + cognitive),
            "{}",
            t.code
        );
        assert_eq!(v.values["barthel_total"], json!(100), "{}", t.code);
    }
}

fn t0_now() -> chrono::DateTime<chrono::Utc> {
    t("2026-11-20T12:00:00+09:00")
}

fn assert_three_linear_stages(t: &PathwayTemplate) {
    assert_eq!(stage_codes(t), ["acute", "recovery", "home"], "{}", t.code);
    assert!(!t.cyclical, "{} is not cyclical", t.code);
    assert_eq!(t.next_stages("acute"), ["recovery"], "{}", t.code);
    assert_eq!(t.next_stages("recovery"), ["home"], "{}", t.code);
    assert!(t.next_stages("home").is_empty(), "{}", t.code);
}

fn assert_discharge_items(t: &PathwayTemplate) {
    numeric(t, "pain_nrs", ItemType::Integer, 0.0, 10.0);
    assert_eq!(
        item(t, "walk_cat").item_type,
        ItemType::Choice,
        "{}",
        t.code
    );
    let dest = item(t, "destination");
    assert_eq!(dest.item_type, ItemType::Choice, "{}", t.code);
    assert!(
        dest.options
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|o| o.code == "home"),
        "{}: destination must offer `home`",
        t.code
    );
}

#[test]
fn stroke_has_the_canonical_codes() {
    let t = load("stroke", 1);
    assert_three_linear_stages(&t);
    numeric(&t, "mrs", ItemType::Integer, 0.0, 6.0);
    numeric(&t, "mrs_premorbid", ItemType::Integer, 0.0, 5.0);
    numeric(&t, "nihss_total", ItemType::Integer, 0.0, 42.0);
    recordable_in(&t, "mrs", &["acute"]);
    recordable_in(&t, "nihss_total", &["acute"]);
    assert_fim_and_barthel(&t);
    assert_discharge_items(&t);
}

#[test]
fn femur_fracture_has_the_canonical_codes() {
    let t = load("femur-fracture", 1);
    assert_three_linear_stages(&t);
    assert_fim_and_barthel(&t);
    assert_discharge_items(&t);
}

#[test]
fn diabetes_has_the_canonical_codes() {
    let t = load("diabetes", 1);
    assert_eq!(stage_codes(&t), ["intro", "clinic", "specialist"]);
    assert!(t.cyclical, "diabetes is cyclical");
    assert_eq!(t.next_stages("intro"), ["clinic"]);
    assert!(t.next_stages("clinic").contains(&"specialist".to_owned()));
    assert!(t.next_stages("specialist").contains(&"clinic".to_owned()));
    assert!(!t.next_stages("clinic").contains(&"intro".to_owned()));
    let every = ["intro", "clinic", "specialist"];
    for (code, ty, min, max) in [
        ("hba1c", Some(ItemType::Decimal), 3.0, 20.0),
        ("bp_sys", None, 50.0, 300.0),
        ("bp_dia", None, 20.0, 200.0),
        ("ldl", None, 10.0, 500.0),
        ("egfr", None, 0.0, 200.0),
        ("uacr", None, 0.0, 20000.0),
        ("weight", None, 20.0, 250.0),
    ] {
        let i = item(&t, code);
        match ty {
            Some(ty) => assert_eq!(i.item_type, ty, "type of {code}"),
            None => assert!(
                matches!(i.item_type, ItemType::Integer | ItemType::Decimal),
                "{code} must be numeric, is {:?}",
                i.item_type
            ),
        }
        assert_eq!((i.min, i.max), (Some(min), Some(max)), "range of {code}");
        recordable_in(&t, code, &every);
    }
    // Ending any stage never completes a cyclical plan.
    for stage in every {
        let end = new_entry(stage, EntryKind::StageEnd, json!({}));
        let next = renkei_domain::entry::next_state(&t, &state(stage, true, false), &end);
        assert_eq!(
            next.status,
            renkei_domain::entry::PlanStatus::Active,
            "after ending {stage}"
        );
    }
    // A clinic visit records them all.
    let entry = new_entry(
        "clinic",
        EntryKind::Assessment,
        json!({"hba1c": 7.2, "bp_sys": 128, "bp_dia": 76, "ldl": 98, "egfr": 61.5, "uacr": 25, "weight": 64.3}),
    );
    validate_entry(&t, &state("clinic", true, false), &entry, t0_now())
        .unwrap_or_else(|e| panic!("clinic visit rejected: {e:?}"));
    let too_high = new_entry("clinic", EntryKind::Assessment, json!({"hba1c": 20.1}));
    assert!(validate_entry(&t, &state("clinic", true, false), &too_high, t0_now()).is_err());
}
