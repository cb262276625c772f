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

// ---------------------------------------------------------------------------------------
// Version 2 of the three templates (issue 12 points 14–16).

use renkei_domain::template::{Condition, Goal, GoalMode, GoalTarget, Scope, StagePart};
use sha2::{Digest, Sha256};

fn goal<'a>(t: &'a PathwayTemplate, code: &str) -> &'a Goal {
    t.goals
        .iter()
        .find(|g| g.code == code)
        .unwrap_or_else(|| panic!("{} v{} lacks goal `{code}`", t.code, t.version))
}

fn threshold(g: &Goal) -> (&str, f64) {
    match &g.target {
        GoalTarget::Threshold { item, value, .. } => (item.as_str(), *value),
        other => panic!("goal `{}` is not a threshold: {other:?}", g.code),
    }
}

fn choice_condition<'a>(g: &'a Goal, item: &str) -> Vec<&'a str> {
    g.applies_when
        .iter()
        .find_map(|c| match c {
            Condition::Choice { item: i, values } if i == item => {
                Some(values.iter().map(String::as_str).collect())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("goal `{}` does not apply by `{item}`", g.code))
}

/// The published v1 files, as bytes and as meaning: plans enrolled on them are pinned.
#[test]
fn published_v1_files_are_unchanged() {
    for (code, file_sha256, content_hash) in [
        (
            "stroke",
            "abd1500e3c844d4f59cd275cf83ddd1aa878922a76a8a1c352e0a7c042e915c1",
            "sha256:cda92acdb9ceae35c366be51c4cd50b827a3c9923e0acd36c1ed3aedd933aef0",
        ),
        (
            "femur-fracture",
            "68a2223f9b271600e5ff13a9a3817c3868bc832d7c33bf6d855fbcb757352cef",
            "sha256:7869852f8c19d991399d6aa4ee0a39d53f96c300db7e0f4f14c8f77abd4ebf28",
        ),
        (
            "diabetes",
            "e9259d7e99e321c2777569c6bc30ac2fe57689d6e782029fc523c0d5aa309270",
            "sha256:928325df7162907d25f892aaa4e943d31147f946c01f0d186d02db64392a9f13",
        ),
    ] {
        let bytes = std::fs::read(pathways_dir().join(code).join("v1.toml")).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            file_sha256,
            "pathways/{code}/v1.toml changed: a published version is immutable"
        );
        assert_eq!(load(code, 1).content_hash(), content_hash, "{code} v1");
    }
}

#[test]
fn v2_of_every_template_parses_clean_and_keeps_the_canonical_codes() {
    for code in ["stroke", "femur-fracture", "diabetes"] {
        let v1 = load(code, 1);
        let v2 = load(code, 2);
        assert_eq!(v2.version, 2);
        assert_ne!(
            v2.content_hash(),
            v1.content_hash(),
            "{code}: v2 changes meaning"
        );
        // Every v1 item is still there with its type (v2 only adds, except femur's renamed clocks).
        for i in &v1.items {
            if code == "femur-fracture" && ["injury_date", "arrival_at"].contains(&i.code.as_str())
            {
                continue;
            }
            assert_eq!(
                item(&v2, &i.code).item_type,
                i.item_type,
                "{code}: {}",
                i.code
            );
        }
        // Every goal speaks to the patient too.
        for g in &v2.goals {
            let p = g
                .patient_title
                .as_ref()
                .unwrap_or_else(|| panic!("{code}: goal `{}` has no patient_title", g.code));
            assert!(!p.ja.is_empty() && !p.en.is_empty(), "{code}: {}", g.code);
            assert!(
                !p.ja.contains("FIM") && !p.ja.contains('>') && !p.ja.contains("mmHg"),
                "{code}: patient wording of `{}` reads like a staff target: {}",
                g.code,
                p.ja
            );
        }
    }
    let stroke = load("stroke", 2);
    assert_three_linear_stages(&stroke);
    numeric(&stroke, "mrs", ItemType::Integer, 0.0, 6.0);
    numeric(&stroke, "nihss_total", ItemType::Integer, 0.0, 42.0);
    assert_fim_and_barthel(&stroke);
    assert_discharge_items(&stroke);
    let femur = load("femur-fracture", 2);
    assert_three_linear_stages(&femur);
    assert_fim_and_barthel(&femur);
    assert_discharge_items(&femur);
}

#[test]
fn v2_has_no_two_month_admission_rule_and_v1_still_has_it() {
    for code in ["stroke", "femur-fracture"] {
        let v1 = load(code, 1);
        let v2 = load(code, 2);
        let text = |t: &PathwayTemplate| {
            let mut s = t.description.clone();
            for st in &t.stages {
                s.push_str(st.exit_criteria.as_deref().unwrap_or_default());
            }
            s
        };
        assert!(
            v1.stages.iter().any(|s| s
                .exit_criteria
                .as_deref()
                .unwrap_or_default()
                .contains("2か月以内")),
            "{code} v1 is expected to carry the old rule"
        );
        for st in &v2.stages {
            assert!(
                !st.exit_criteria
                    .as_deref()
                    .unwrap_or_default()
                    .contains("2か月以内"),
                "{code} v2 stage `{}` still limits admission to 2 months",
                st.code
            );
        }
        assert!(
            text(&v2).contains("廃止"),
            "{code} v2 says the rule was removed"
        );
    }
}

#[test]
fn v2_blood_pressure_targets_are_jsh2025_for_every_adult() {
    for (code, office, home) in [
        (
            "stroke",
            ["g5_bp_sys", "g5_bp_dia"],
            ["g5_bp_sys_home", "g5_bp_dia_home"],
        ),
        (
            "diabetes",
            ["m2_bp_sys", "m2_bp_dia"],
            ["m2_bp_sys_home", "m2_bp_dia_home"],
        ),
    ] {
        let t = load(code, 2);
        assert_eq!(threshold(goal(&t, office[0])), ("bp_sys", 130.0), "{code}");
        assert_eq!(threshold(goal(&t, office[1])), ("bp_dia", 80.0), "{code}");
        assert_eq!(
            threshold(goal(&t, home[0])),
            ("bp_sys_home", 125.0),
            "{code}"
        );
        assert_eq!(
            threshold(goal(&t, home[1])),
            ("bp_dia_home", 75.0),
            "{code}"
        );
        for g in office.iter().chain(home.iter()) {
            let g = goal(&t, g);
            assert!(
                g.applies_when.is_empty(),
                "{code}: `{}` has no exceptions",
                g.code
            );
            assert!(!g.title.ja.contains("140") && !g.title.ja.contains("頸動脈"));
        }
    }
    // The life-stage BP goal reads life-stage values only.
    let stroke = load("stroke", 2);
    assert_eq!(
        goal(&stroke, "g5_bp_sys").scope,
        Some(Scope::Stage {
            stage: "home".into(),
            at: StagePart::During
        })
    );
}

#[test]
fn v2_stroke_ldl_and_hba1c_apply_by_subtype_and_diabetes() {
    let t = load("stroke", 2);
    let subtype = item(&t, "stroke_subtype");
    let opts: Vec<&str> = subtype
        .options
        .as_deref()
        .unwrap()
        .iter()
        .map(|o| o.code.as_str())
        .collect();
    assert_eq!(
        opts,
        [
            "atherothrombotic",
            "cardioembolic",
            "lacunar",
            "other_infarction",
            "ich",
            "sah"
        ]
    );
    assert!(subtype.carry_over);
    assert_eq!(item(&t, "diabetes").item_type, ItemType::Boolean);
    let ldl = goal(&t, "g6_ldl");
    assert_eq!(threshold(ldl), ("ldl", 100.0));
    assert_eq!(
        choice_condition(ldl, "stroke_subtype"),
        ["atherothrombotic"]
    );
    assert!(ldl.applies_when.contains(&Condition::Flag {
        item: "diabetes".into(),
        value: false
    }));
    let ldl_dm = goal(&t, "g6_ldl_diabetes");
    assert_eq!(threshold(ldl_dm), ("ldl", 70.0));
    assert!(ldl_dm.applies_when.contains(&Condition::Flag {
        item: "diabetes".into(),
        value: true
    }));
    let hba1c = goal(&t, "g7_hba1c");
    assert_eq!(threshold(hba1c), ("hba1c", 7.0));
    assert_eq!(
        hba1c.applies_when,
        [Condition::Flag {
            item: "diabetes".into(),
            value: true
        }]
    );
    // The return-home goal reads the recovery stage's end, never the acute transfer.
    assert_eq!(
        goal(&t, "g3_return_home").scope,
        Some(Scope::Stage {
            stage: "recovery".into(),
            at: StagePart::End
        })
    );
}

#[test]
fn v2_diabetes_kidney_monitoring_by_dkd_stage() {
    let t = load("diabetes", 2);
    let uacr = goal(&t, "m9_uacr");
    assert_eq!(
        uacr.target,
        GoalTarget::DoneWithin {
            item: "uacr".into(),
            months: 3
        }
    );
    assert_eq!(choice_condition(uacr, "dkd_stage"), ["stage_1", "stage_2"]);
    let upcr = goal(&t, "m9_upcr");
    assert_eq!(
        upcr.target,
        GoalTarget::DoneWithin {
            item: "upcr".into(),
            months: 3
        }
    );
    assert_eq!(choice_condition(upcr, "dkd_stage"), ["stage_3", "stage_4"]);
    let rule = t.schedule.iter().find(|r| r.code == "uacr_test").unwrap();
    assert_eq!(
        (rule.items.as_slice(), rule.interval_days),
        (&["uacr".to_owned()][..], 90)
    );
    assert_eq!(
        rule.applies_when,
        [Condition::Choice {
            item: "dkd_stage".into(),
            values: vec!["stage_1".into(), "stage_2".into()]
        }]
    );
    // UACR left the 6-monthly panel that applied to everyone.
    let panel = t.schedule.iter().find(|r| r.code == "lab_panel").unwrap();
    assert!(!panel.items.iter().any(|i| i == "uacr"));
}

#[test]
fn v2_diabetes_targets_eye_interval_and_codes() {
    let t = load("diabetes", 2);
    // TG by fasting state (JAS 2022).
    for (code, value, fasting) in [("m5_tg", 150.0, true), ("m5_tg_nonfasting", 175.0, false)] {
        let g = goal(&t, code);
        assert_eq!(threshold(g), ("tg", value));
        assert_eq!(
            g.applies_when,
            [Condition::Flag {
                item: "tg_fasting".into(),
                value: fasting
            }]
        );
    }
    // Non-HDL follows the LDL goal (+30).
    let nonhdl = goal(&t, "m4_nonhdl");
    let f = nonhdl.follows.as_ref().unwrap();
    assert_eq!((f.goal.as_str(), f.offset), ("m3_ldl", 30.0));
    assert_eq!(threshold(nonhdl).1, threshold(goal(&t, "m3_ldl")).1 + 30.0);
    // Elderly bands with a lower bound when hypoglycaemia-risk drugs are used (JDS/JGS 2016).
    for (code, min, max) in [
        ("m1_hba1c_elderly_drugs_1_65_74", 6.5, 7.5),
        ("m1_hba1c_elderly_drugs_1_75", 7.0, 8.0),
        ("m1_hba1c_elderly_drugs_2", 7.0, 8.0),
        ("m1_hba1c_elderly_drugs_3", 7.5, 8.5),
    ] {
        let g = goal(&t, code);
        assert_eq!(
            g.target,
            GoalTarget::Range {
                item: "hba1c".into(),
                min,
                max
            }
        );
        assert!(g.applies_when.contains(&Condition::Flag {
            item: "hypo_risk_drugs".into(),
            value: true
        }));
    }
    // No severe hypoglycaemia over a window.
    let hypo = goal(&t, "m11_no_severe_hypo");
    assert_eq!(hypo.mode, GoalMode::None);
    assert_eq!(
        hypo.scope,
        Some(Scope::Rolling {
            months: 12,
            days: 0
        })
    );
    // Eye exams by retinopathy grade.
    let eye = t.schedule.iter().find(|r| r.code == "eye_exam").unwrap();
    let by = eye.interval_by.as_ref().unwrap();
    assert_eq!(by.item, "retinopathy_grade");
    let days = |grade: &str| {
        by.bands
            .iter()
            .find(|b| b.values.iter().any(|v| v == grade))
            .map(|b| b.days)
    };
    assert_eq!(days("none"), Some(365));
    assert_eq!(days("mild_simple"), Some(365));
    assert_eq!(days("moderate_simple"), Some(180));
    assert_eq!(days("pre_proliferative"), Some(60));
    assert_eq!(days("proliferative"), Some(30));
    // HbA1c is coded as the NGSP-era LOINC, never the JDS one.
    let codes: Vec<&str> = item(&t, "hba1c")
        .codes
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    assert_eq!(codes, ["4548-4"]);
    assert!(
        item(&t, "egfr")
            .codes
            .iter()
            .all(|c| c.system != "http://loinc.org")
    );
}

#[test]
fn v2_femur_clocks_run_from_arrival_injury_and_surgery() {
    let t = load("femur-fracture", 2);
    for code in [
        "injury_at",
        "er_arrival_at",
        "surgery_at",
        "loading_started_at",
    ] {
        assert_eq!(item(&t, code).item_type, ItemType::Datetime, "{code}");
    }
    let age_75 = Condition::Age {
        op: renkei_domain::template::Comparator::Ge,
        value: 75,
    };
    let h1 = goal(&t, "h1_early_surgery");
    assert_eq!(
        h1.target,
        GoalTarget::TimeBetween {
            from_item: "er_arrival_at".into(),
            to_item: "surgery_at".into(),
            max_hours: 48
        }
    );
    assert_eq!(h1.applies_when, std::slice::from_ref(&age_75));
    let addon = goal(&t, "h1_fixation_within_48h_of_injury");
    assert_eq!(
        addon.target,
        GoalTarget::TimeBetween {
            from_item: "injury_at".into(),
            to_item: "surgery_at".into(),
            max_hours: 48
        }
    );
    assert_eq!(addon.applies_when, [age_75]);
    assert_eq!(
        goal(&t, "h2_early_loading").target,
        GoalTarget::DaysBetween {
            from_item: "surgery_at".into(),
            to_item: "loading_started_at".into(),
            op: renkei_domain::template::Comparator::Lt,
            days: 3
        }
    );
    assert_eq!(
        goal(&t, "h8_osteoporosis_acute").scope,
        Some(Scope::Stage {
            stage: "acute".into(),
            at: StagePart::End
        })
    );
}

fn fact(seq: i64, stage: &str, values: Value) -> renkei_domain::goals::EntryFacts {
    let at = t("2026-11-20T10:00:00+09:00");
    renkei_domain::goals::EntryFacts {
        id: uuid::Uuid::from_u128(seq as u128),
        seq,
        stage: stage.to_owned(),
        kind: EntryKind::Assessment,
        effective_at: at,
        recorded_at: at,
        values: values.as_object().cloned().unwrap_or_default(),
        amends: None,
    }
}

#[test]
fn migration_preview_of_a_running_stroke_plan_names_what_v2_changes_and_needs() {
    use renkei_domain::diff::{ChangeKind, migration_preview};
    let v1 = load("stroke", 1);
    let v2 = load("stroke", 2);
    let entries = [fact(
        1,
        "acute",
        json!({"nihss_total": 4, "mrs_premorbid": 0}),
    )];
    let p = migration_preview(&v1, &v2, &entries, t0_now());
    assert_eq!((p.from_version, p.to_version), (1, 2));
    for added in [
        "stroke_subtype",
        "diabetes",
        "bp_sys_home",
        "jisseki_exclusion",
    ] {
        assert!(
            p.diff.items.added.iter().any(|c| c == added),
            "{added}: {:?}",
            p.diff.items
        );
    }
    assert!(p.diff.items.removed.is_empty());
    for added in ["g5_bp_sys_home", "g5_bp_dia_home", "g6_ldl_diabetes"] {
        assert!(p.diff.goals.added.iter().any(|c| c == added), "{added}");
    }
    // The BP goal changed its wording (the JSH2019 exceptions are gone) and gained a scope.
    let bp = p
        .diff
        .goals
        .details
        .iter()
        .find(|d| d.code == "g5_bp_sys")
        .unwrap();
    assert_eq!(bp.change, ChangeKind::Changed);
    let title = bp.fields.iter().find(|f| f.field == "title").unwrap();
    assert!(title.before["ja"].as_str().unwrap().contains("140"));
    assert!(!title.after["ja"].as_str().unwrap().contains("140"));
    let scope = bp.fields.iter().find(|f| f.field == "scope").unwrap();
    assert_eq!(scope.before, Value::Null);
    assert_eq!(scope.after["kind"], "stage");
    // The acute stage's exit criteria lost the 2-month rule.
    let acute = p
        .diff
        .stages
        .details
        .iter()
        .find(|d| d.code == "acute")
        .unwrap();
    let exit = acute
        .fields
        .iter()
        .find(|f| f.field == "exit_criteria")
        .unwrap();
    assert!(exit.before.as_str().unwrap().contains("2か月以内"));
    assert!(!exit.after.as_str().unwrap().contains("2か月以内"));
    // The plan has recorded neither the subtype nor the diabetes flag: the LDL and HbA1c
    // goals will not apply until it does.
    let need = |item: &str| p.needs_recording.iter().find(|n| n.item == item);
    let subtype = need("stroke_subtype").expect("stroke_subtype is needed");
    assert_eq!(subtype.read_by, ["g6_ldl", "g6_ldl_diabetes"]);
    assert_eq!(subtype.title["ja"], "病型");
    assert_eq!(
        need("diabetes").unwrap().read_by,
        ["g6_ldl", "g6_ldl_diabetes", "g7_hba1c"]
    );
    assert!(p.recorded_items_removed.is_empty());
    // Once recorded, nothing is missing.
    let entries = [
        fact(1, "acute", json!({"nihss_total": 4})),
        fact(
            2,
            "acute",
            json!({"stroke_subtype": "lacunar", "diabetes": false}),
        ),
    ];
    assert!(
        migration_preview(&v1, &v2, &entries, t0_now())
            .needs_recording
            .is_empty()
    );
}

#[test]
fn migration_preview_of_femur_names_recorded_items_v2_drops() {
    let v1 = load("femur-fracture", 1);
    let v2 = load("femur-fracture", 2);
    let entries = [fact(
        1,
        "acute",
        json!({"arrival_at": "2026-11-20T09:00:00+09:00", "injury_date": "2026-11-19"}),
    )];
    let p = renkei_domain::diff::migration_preview(&v1, &v2, &entries, t0_now());
    assert_eq!(p.recorded_items_removed, ["arrival_at", "injury_date"]);
    assert_eq!(p.diff.items.removed, ["injury_date", "arrival_at"]);
    assert!(p.diff.items.added.iter().any(|c| c == "er_arrival_at"));
    assert_eq!(
        p.needs_recording
            .iter()
            .map(|n| n.item.as_str())
            .collect::<Vec<_>>(),
        ["residence_preinjury"]
    );
}
