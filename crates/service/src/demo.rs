//! The demo region: one acute hospital, one recovery hospital, one clinic and one
//! home-nursing station in one secondary medical area, a user each, and patients on each
//! pathway with realistic entries. Loading it twice adds nothing the second time.
//!
//! The demo tokens are fixed, well-known strings: never load the demo into a database
//! that holds real patients.

use crate::auth::tokens::DEMO_TOKENS;
use chrono::{DateTime, Duration, Utc};
use renkei_domain::calendar;
use renkei_domain::entry::{EntryKind, VarianceInput};
use renkei_domain::template::{BARTHEL_TOTAL, FIM_TOTAL, PathwayTemplate};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::access::NewConsent;
use crate::admin::{self, NewOrganization, NewPractitioner};
use crate::audit::RequestMeta;
use crate::patients::{self, NewPatient};
use crate::plans::AppendEntry;
use crate::{Actor, ServiceError, Services};

/// Password of every demo user (they must change it at first login).
pub const DEMO_PASSWORD: &str = "Renkei-demo-2026";

struct DemoOrg {
    code: &'static str,
    name: &'static str,
    kind: &'static str,
    login: &'static str,
    user: &'static str,
    profession: &'static str,
    token: &'static str,
    /// Reviews the audit log and break-glass grants of the region.
    regional_admin: bool,
}

const AREA: &str = "千葉";

const ORGS: [DemoOrg; 5] = [
    DemoOrg {
        code: "acute-1",
        name: "千葉中央総合病院",
        kind: "acute_hospital",
        login: "sato",
        user: "佐藤 花子",
        profession: "nurse",
        token: DEMO_TOKENS[0],
        regional_admin: false,
    },
    DemoOrg {
        code: "recovery-1",
        name: "ちば回復期リハビリテーション病院",
        kind: "recovery_hospital",
        login: "tanaka",
        user: "田中 一郎",
        profession: "nurse",
        token: DEMO_TOKENS[1],
        regional_admin: false,
    },
    DemoOrg {
        code: "clinic-1",
        name: "みなと内科クリニック",
        kind: "clinic",
        login: "suzuki",
        user: "鈴木 健",
        profession: "physician",
        token: DEMO_TOKENS[2],
        regional_admin: false,
    },
    DemoOrg {
        code: "homecare-1",
        name: "訪問看護ステーションさくら",
        kind: "home_nursing",
        login: "takahashi",
        user: "高橋 由美",
        profession: "nurse",
        token: DEMO_TOKENS[3],
        regional_admin: false,
    },
    DemoOrg {
        code: "region-1",
        name: "千葉県 地域医療連携推進室",
        kind: "municipality",
        login: "kanri",
        user: "県 管理者",
        profession: "liaison_staff",
        token: DEMO_TOKENS[4],
        regional_admin: true,
    },
];

#[derive(Debug, Default)]
pub struct DemoReport {
    pub created: bool,
    pub patients: usize,
    pub care_plans: usize,
    pub entries: usize,
}

impl DemoReport {
    /// What `serve --demo` prints.
    pub fn instructions(&self, listen: &str) -> String {
        let mut s = String::new();
        if self.created {
            s.push_str(&format!(
                "Demo region loaded: {} organizations, {} patients, {} care plans, {} entries.\n",
                ORGS.len(),
                self.patients,
                self.care_plans,
                self.entries
            ));
        } else {
            s.push_str("Demo region already present; nothing added.\n");
        }
        s.push_str(&format!(
            "Web UI: http://{listen}/  — ブラウザで開き、下の利用者名とパスワードでログインしてください\n"
        ));
        s.push_str(&format!(
            "API: http://{listen}/api/v1  (OpenAPI: http://{listen}/api/openapi.json)\n"
        ));
        s.push_str("Demo users (password for all: ");
        s.push_str(DEMO_PASSWORD);
        s.push_str(") and their API tokens:\n");
        for o in &ORGS {
            s.push_str(&format!(
                "  {:<10} {:<12} {}  ({})\n",
                o.login, o.code, o.token, o.name
            ));
        }
        s.push_str(
            "Access: 訪問看護ステーションさくら (takahashi) is on no care team and sees no plan; \
             高木 正男's consent was withdrawn, so ちば回復期リハビリテーション病院 (tanaka) no longer sees his plan; \
             kanri is the regional administrator (GET /api/v1/audit).\n",
        );
        s.push_str(&format!(
            "Try: curl -H 'Authorization: Bearer {}' 'http://{listen}/api/v1/patients?kana=ヤマダ'\n",
            ORGS[0].token
        ));
        s
    }
}

enum Consent {
    Active,
    Withdrawn,
    Missing,
}

/// Puts organisations on the care team and records (and maybe withdraws) consent.
async fn share(
    services: &Services,
    planner: &Actor,
    meta: &RequestMeta,
    plan: Uuid,
    team: &[(&str, &str)],
    consent: Consent,
) -> Result<(), ServiceError> {
    for (org, stage) in team {
        services
            .add_team_member(
                planner,
                meta,
                plan,
                org,
                vec![(*stage).to_owned()],
                "stage_owner",
            )
            .await?;
    }
    if matches!(consent, Consent::Missing) {
        return Ok(());
    }
    let c = services
        .record_consent(
            planner,
            meta,
            plan,
            NewConsent {
                scope: "care_team".into(),
                organizations: Vec::new(),
                purposes: vec!["care".into(), "statistics".into()],
                method: "paper".into(),
                signer: "self".into(),
                proxy_relationship: None,
                obtained_at: services.now(),
            },
        )
        .await?;
    if matches!(consent, Consent::Withdrawn) {
        services
            .withdraw_consent(planner, meta, c.id, "本人の希望により同意撤回")
            .await?;
    }
    Ok(())
}

fn values(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// The 18 FIM items (the components of `fim_total` in `t`) with the given scores.
fn fim(t: &PathwayTemplate, scores: [i64; 18]) -> Map<String, Value> {
    t.scale_values_of(FIM_TOTAL, &scores).unwrap_or_default()
}

/// The 10 Barthel items (the components of `barthel_total` in `t`) with the given scores.
fn barthel(t: &PathwayTemplate, s: [i64; 10]) -> Map<String, Value> {
    t.scale_values_of(BARTHEL_TOTAL, &s).unwrap_or_default()
}

struct Writer<'a> {
    services: &'a Services,
    report: &'a mut DemoReport,
}

impl Writer<'_> {
    #[expect(
        clippy::too_many_arguments,
        reason = "one call per demo entry reads best flat"
    )]
    async fn add(
        &mut self,
        actor: &Actor,
        plan: Uuid,
        stage: &str,
        kind: EntryKind,
        at: DateTime<Utc>,
        values: Map<String, Value>,
        note: Option<&str>,
        variance: Option<&str>,
    ) -> Result<(), ServiceError> {
        self.services
            .append_entry(
                actor,
                &RequestMeta::default(),
                plan,
                AppendEntry {
                    stage: stage.to_owned(),
                    kind,
                    effective_at: at,
                    values,
                    note: note.map(str::to_owned),
                    variance: variance.map(|c| VarianceInput {
                        code: c.to_owned(),
                        note: None,
                        goal: None,
                    }),
                    amends: None,
                    reason: None,
                },
                None,
            )
            .await?;
        self.report.entries += 1;
        Ok(())
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call per demo patient reads best flat"
)]
fn patient(
    family: &str,
    given: &str,
    fk: &str,
    gk: &str,
    birth: &str,
    sex: &str,
    org: &str,
    id: &str,
) -> NewPatient {
    NewPatient {
        family: family.into(),
        given: given.into(),
        family_kana: fk.into(),
        given_kana: gk.into(),
        birth_date: birth.into(),
        sex: sex.into(),
        identifiers: vec![(org.into(), id.into())],
    }
}

/// Whether the demo accounts exist in this database (then `serve` without `--demo`
/// warns: their tokens are refused, but their logins and known password remain).
pub async fn accounts_exist(db: &sea_orm::DatabaseConnection) -> Result<bool, ServiceError> {
    for o in &ORGS {
        if renkei_store::queries::practitioner_by_login(db, o.login)
            .await?
            .is_some()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Loads the demo region unless it is already there.
pub async fn load(services: &Services) -> Result<DemoReport, ServiceError> {
    let db = &services.db;
    let scales = services
        .pathways
        .latest("stroke")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the stroke pathway is not published"))?;
    let scales = &scales.template;
    let mut report = DemoReport::default();
    let exists = renkei_store::queries::organization_by_code(db, ORGS[0].code)
        .await?
        .is_some();
    if !exists {
        for o in &ORGS {
            admin::add_organization(
                services,
                NewOrganization {
                    code: o.code.into(),
                    name: o.name.into(),
                    kind: o.kind.into(),
                    area: AREA.into(),
                },
            )
            .await?;
            admin::add_practitioner(
                services,
                NewPractitioner {
                    organization_code: o.code.into(),
                    login: o.login.into(),
                    name: o.user.into(),
                    profession: o.profession.into(),
                    roles: if o.regional_admin {
                        vec!["regional_admin".into()]
                    } else {
                        Vec::new()
                    },
                    password: Some(DEMO_PASSWORD.into()),
                },
            )
            .await?;
        }
    }
    // The liaison offices' telephones for the patient's copy of the plan (043-000-…:
    // an exchange number never assigned, so no real line is printed).
    for (i, o) in ORGS.iter().enumerate() {
        admin::set_organization_phone(services, o.code, Some(&format!("043-000-{:04}", i + 1)))
            .await?;
    }
    for o in &ORGS {
        admin::store_token(services, o.login, "demo", o.token, None).await?;
    }
    if exists {
        return Ok(report);
    }
    report.created = true;
    let mut actors = Vec::new();
    for o in &ORGS {
        actors.push(admin::authenticate_token(services, o.token).await?);
    }
    let (acute, recovery, clinic, _home) = (&actors[0], &actors[1], &actors[2], &actors[3]);
    let meta = RequestMeta::default();
    // Demo times hang off 09:00 in Tokyo today, not the hour the demo is loaded at: a stay
    // counted in Tokyo days (入院日を1日目) then has the same length whatever the hour, so the
    // same goals are met and unmet every time (an onset at 22:00 would move the 02:00 stage start
    // to the next day and shorten the acute stay by one).
    let today = calendar::tokyo_midnight(calendar::tokyo_date(services.now())) + Duration::hours(9);
    let days = |d: i64| today - Duration::days(d);

    // Stroke: acute stay, transfer, recovery in progress.
    let p = patients::create_patient(
        services,
        acute,
        &meta,
        patient(
            "山田",
            "太郎",
            "ヤマダ",
            "タロウ",
            "1948-04-01",
            "male",
            "acute-1",
            "0012345",
        ),
    )
    .await?;
    let plan = services
        .enrol(
            acute,
            &meta,
            p.id,
            "stroke",
            None,
            Some("standard"),
            Some(days(40)),
        )
        .await?;
    share(
        services,
        acute,
        &meta,
        plan.id,
        &[("recovery-1", "recovery"), ("clinic-1", "home")],
        Consent::Active,
    )
    .await?;
    report.patients += 1;
    report.care_plans += 1;
    let mut w = Writer {
        services,
        report: &mut report,
    };
    let onset = days(40);
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::StageStart,
        onset + Duration::hours(2),
        values(&[
            ("onset_at", json!(onset.to_rfc3339())),
            ("nihss_total", json!(12)),
            ("mrs_premorbid", json!(0)),
            ("stroke_subtype", json!("atherothrombotic")),
            ("diabetes", json!(true)),
            ("paralysis_side", json!("right")),
        ]),
        Some("左中大脳動脈領域の脳梗塞。rt-PA 投与後に入院。"),
        None,
    )
    .await?;
    let mut v = fim(
        scales,
        [5, 4, 2, 4, 3, 3, 5, 5, 4, 4, 2, 2, 1, 6, 5, 5, 4, 5],
    );
    v.insert("nihss_total".into(), json!(6));
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::Assessment,
        days(22),
        v,
        None,
        None,
    )
    .await?;
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::Variance,
        days(21),
        Map::new(),
        Some("回復期病棟の空床待ち"),
        Some("NEG.VAR.CO.RECEIVE"),
    )
    .await?;
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::StageEnd,
        days(19),
        values(&[("mrs", json!(4))]),
        Some("回復期リハビリテーション病院へ転院"),
        None,
    )
    .await?;
    let mut v = fim(
        scales,
        [5, 4, 2, 4, 3, 4, 5, 5, 4, 4, 2, 3, 1, 6, 5, 5, 4, 5],
    );
    v.insert("walk_cat".into(), json!("assisted"));
    v.insert("food_form".into(), json!("soft"));
    v.insert("jisseki_exclusion".into(), json!("included"));
    w.add(
        recovery,
        plan.id,
        "recovery",
        EntryKind::StageStart,
        days(19),
        v,
        Some("回復期リハ病棟に入院"),
        None,
    )
    .await?;
    w.add(
        recovery,
        plan.id,
        "recovery",
        EntryKind::Assessment,
        days(5),
        fim(
            scales,
            [6, 5, 3, 5, 4, 5, 6, 6, 5, 5, 3, 4, 2, 6, 6, 6, 5, 5],
        ),
        Some("FIM 月次評価"),
        None,
    )
    .await?;

    // Stroke: acute stage in progress.
    let p = patients::create_patient(
        services,
        acute,
        &meta,
        patient(
            "佐々木",
            "花子",
            "ササキ",
            "ハナコ",
            "1952-11-03",
            "female",
            "acute-1",
            "0012400",
        ),
    )
    .await?;
    let plan = services
        .enrol(
            acute,
            &meta,
            p.id,
            "stroke",
            None,
            Some("severe_higher_brain_dysfunction"),
            Some(days(6)),
        )
        .await?;
    share(services, acute, &meta, plan.id, &[], Consent::Active).await?;
    w.report.patients += 1;
    w.report.care_plans += 1;
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::StageStart,
        days(6),
        values(&[
            ("nihss_total", json!(4)),
            ("mrs_premorbid", json!(1)),
            ("stroke_subtype", json!("lacunar")),
            ("diabetes", json!(false)),
            ("paralysis_side", json!("left")),
        ]),
        None,
        None,
    )
    .await?;
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::Note,
        days(5),
        Map::new(),
        Some("嚥下評価後に食事開始予定"),
        None,
    )
    .await?;

    // Femur fracture: surgery, transfer, recovery in progress.
    let p = patients::create_patient(
        services,
        acute,
        &meta,
        patient(
            "鈴木",
            "ヨシ",
            "スズキ",
            "ヨシ",
            "1939-02-14",
            "female",
            "acute-1",
            "0012501",
        ),
    )
    .await?;
    let plan = services
        .enrol(
            acute,
            &meta,
            p.id,
            "femur-fracture",
            None,
            Some("hemiarthroplasty"),
            Some(days(30)),
        )
        .await?;
    share(
        services,
        acute,
        &meta,
        plan.id,
        &[("recovery-1", "recovery")],
        Consent::Active,
    )
    .await?;
    w.report.patients += 1;
    w.report.care_plans += 1;
    let arrival = days(30);
    let v = values(&[
        (
            "injury_at",
            json!((arrival - Duration::hours(3)).to_rfc3339()),
        ),
        ("er_arrival_at", json!(arrival.to_rfc3339())),
        ("fracture_type", json!("neck")),
        ("walk_cat_preinjury", json!("cane")),
        ("residence_preinjury", json!("home")),
        ("barthel_preinjury_total", json!(85)),
    ]);
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::StageStart,
        arrival,
        v,
        Some("自宅で転倒し救急搬送"),
        None,
    )
    .await?;
    let surgery = arrival + Duration::hours(30);
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::Assessment,
        surgery,
        values(&[("surgery_at", json!(surgery.to_rfc3339()))]),
        Some("人工骨頭置換術"),
        None,
    )
    .await?;
    let loading = surgery + Duration::hours(40);
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::Assessment,
        loading,
        values(&[
            ("loading_started_at", json!(loading.to_rfc3339())),
            ("pain_nrs", json!(5)),
        ]),
        None,
        None,
    )
    .await?;
    let mut v = barthel(scales, [10, 10, 5, 5, 0, 10, 0, 5, 10, 5]);
    v.insert("walk_cat".into(), json!("walker"));
    v.insert("osteoporosis_tx".into(), json!("active"));
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::StageEnd,
        days(16),
        v,
        None,
        None,
    )
    .await?;
    w.add(
        recovery,
        plan.id,
        "recovery",
        EntryKind::StageStart,
        days(16),
        {
            let mut v = barthel(scales, [10, 10, 5, 5, 0, 10, 0, 5, 10, 5]);
            v.insert("jisseki_exclusion".into(), json!("included"));
            v
        },
        None,
        None,
    )
    .await?;
    let mut v = barthel(scales, [10, 15, 5, 10, 5, 15, 5, 10, 10, 10]);
    v.insert("walk_cat".into(), json!("cane"));
    v.insert("destination".into(), json!("home"));
    v.insert("osteoporosis_tx".into(), json!("active"));
    w.add(
        recovery,
        plan.id,
        "recovery",
        EntryKind::StageEnd,
        days(2),
        v,
        Some("杖歩行で自宅退院"),
        None,
    )
    .await?;

    // Femur fracture: acute in progress, surgery delayed.
    let p = patients::create_patient(
        services,
        acute,
        &meta,
        patient(
            "高木",
            "正男",
            "タカギ",
            "マサオ",
            "1944-07-20",
            "male",
            "acute-1",
            "0012502",
        ),
    )
    .await?;
    let plan = services
        .enrol(
            acute,
            &meta,
            p.id,
            "femur-fracture",
            None,
            Some("osteosynthesis"),
            Some(days(4)),
        )
        .await?;
    share(
        services,
        acute,
        &meta,
        plan.id,
        &[("recovery-1", "recovery")],
        Consent::Withdrawn,
    )
    .await?;
    w.report.patients += 1;
    w.report.care_plans += 1;
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::StageStart,
        days(4),
        values(&[
            (
                "injury_at",
                json!((days(4) - Duration::hours(5)).to_rfc3339()),
            ),
            ("er_arrival_at", json!(days(4).to_rfc3339())),
            ("fracture_type", json!("trochanteric")),
            ("residence_preinjury", json!("home")),
        ]),
        None,
        None,
    )
    .await?;
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::Variance,
        days(3),
        Map::new(),
        Some("手術枠の都合で手術待ち"),
        Some("NEG.VAR.SY.SCHED"),
    )
    .await?;

    // Diabetes: introduction at the specialist, then the clinic cycle.
    let p = patients::create_patient(
        services,
        acute,
        &meta,
        patient(
            "伊藤",
            "誠",
            "イトウ",
            "マコト",
            "1960-09-09",
            "male",
            "acute-1",
            "0013001",
        ),
    )
    .await?;
    let plan = services
        .enrol(acute, &meta, p.id, "diabetes", None, None, Some(days(200)))
        .await?;
    share(
        services,
        acute,
        &meta,
        plan.id,
        &[("clinic-1", "clinic")],
        Consent::Active,
    )
    .await?;
    w.report.patients += 1;
    w.report.care_plans += 1;
    w.add(
        acute,
        plan.id,
        "intro",
        EntryKind::StageStart,
        days(200),
        values(&[
            ("hba1c", json!(8.4)),
            ("bp_sys", json!(142)),
            ("bp_dia", json!(88)),
            ("weight", json!(78.5)),
            ("ldl", json!(146)),
            ("hdl", json!(42)),
            ("tg", json!(168)),
            ("tg_fasting", json!(true)),
            ("nonhdl", json!(178)),
            ("egfr", json!(72.0)),
            ("uacr", json!(45.0)),
            ("dkd_stage", json!("stage_2")),
            ("hypo_risk_drugs", json!(false)),
            ("elderly_category", json!("category_1")),
        ]),
        Some("教育入院。個別目標を設定"),
        None,
    )
    .await?;
    w.add(
        acute,
        plan.id,
        "intro",
        EntryKind::StageEnd,
        days(190),
        values(&[
            ("eye_exam_done", json!(true)),
            ("retinopathy_l", json!("ndr")),
            ("retinopathy_r", json!("ndr")),
            ("retinopathy_grade", json!("none")),
        ]),
        None,
        None,
    )
    .await?;
    w.add(
        clinic,
        plan.id,
        "clinic",
        EntryKind::StageStart,
        days(160),
        values(&[
            ("hba1c", json!(7.6)),
            ("bp_sys", json!(134)),
            ("bp_dia", json!(82)),
        ]),
        None,
        None,
    )
    .await?;
    for (d, a1c, sys) in [
        (130, 7.3, 132),
        (100, 7.1, 128),
        (70, 6.9, 126),
        (40, 6.8, 124),
        (10, 6.9, 127),
    ] {
        w.add(
            clinic,
            plan.id,
            "clinic",
            EntryKind::Assessment,
            days(d),
            values(&[
                ("hba1c", json!(a1c)),
                ("bp_sys", json!(sys)),
                ("bp_dia", json!(78)),
                ("weight", json!(76.0)),
                ("severe_hypo", json!(0)),
                ("bp_sys_home", json!(sys - 6)),
                ("bp_dia_home", json!(74)),
            ]),
            None,
            None,
        )
        .await?;
    }
    w.add(
        clinic,
        plan.id,
        "clinic",
        EntryKind::Assessment,
        days(40),
        values(&[
            ("uacr", json!(38.0)),
            ("ldl", json!(112)),
            ("hdl", json!(46)),
            ("tg", json!(160)),
            ("tg_fasting", json!(false)),
            ("nonhdl", json!(140)),
            ("egfr", json!(70.0)),
        ]),
        Some("脂質・腎機能検査(随時採血)"),
        None,
    )
    .await?;

    // Diabetes: recently enrolled.
    let p = patients::create_patient(
        services,
        acute,
        &meta,
        patient(
            "渡辺",
            "京子",
            "ワタナベ",
            "キョウコ",
            "1955-01-30",
            "female",
            "acute-1",
            "0013002",
        ),
    )
    .await?;
    // Enrolled ten days ago and still without consent: the planner's reminder.
    services.clock.advance(-Duration::days(10));
    let plan = services
        .enrol(acute, &meta, p.id, "diabetes", None, None, Some(days(20)))
        .await;
    services.clock.advance(Duration::days(10));
    let plan = plan?;
    share(
        services,
        acute,
        &meta,
        plan.id,
        &[("clinic-1", "clinic")],
        Consent::Missing,
    )
    .await?;
    w.report.patients += 1;
    w.report.care_plans += 1;
    w.add(
        acute,
        plan.id,
        "intro",
        EntryKind::StageStart,
        days(20),
        values(&[
            ("hba1c", json!(9.1)),
            ("bp_sys", json!(128)),
            ("bp_dia", json!(76)),
            ("smoking", json!("current")),
            ("hypo_risk_drugs", json!(true)),
            ("elderly_category", json!("category_1")),
            ("dkd_stage", json!("stage_1")),
        ]),
        None,
        None,
    )
    .await?;

    // Diabetes: no visit for four months (治療中断).
    let p = patients::create_patient(
        services,
        acute,
        &meta,
        patient(
            "小林",
            "勇",
            "コバヤシ",
            "イサム",
            "1951-06-12",
            "male",
            "acute-1",
            "0013003",
        ),
    )
    .await?;
    let plan = services
        .enrol(acute, &meta, p.id, "diabetes", None, None, Some(days(300)))
        .await?;
    share(
        services,
        acute,
        &meta,
        plan.id,
        &[("clinic-1", "clinic")],
        Consent::Active,
    )
    .await?;
    w.report.patients += 1;
    w.report.care_plans += 1;
    w.add(
        acute,
        plan.id,
        "intro",
        EntryKind::StageStart,
        days(300),
        values(&[
            ("hba1c", json!(8.8)),
            ("bp_sys", json!(150)),
            ("bp_dia", json!(92)),
            ("hypo_risk_drugs", json!(true)),
            ("elderly_category", json!("category_2")),
            ("dkd_stage", json!("stage_3")),
            ("upcr", json!(0.8)),
        ]),
        None,
        None,
    )
    .await?;
    w.add(
        acute,
        plan.id,
        "intro",
        EntryKind::StageEnd,
        days(290),
        Map::new(),
        None,
        None,
    )
    .await?;
    w.add(
        clinic,
        plan.id,
        "clinic",
        EntryKind::StageStart,
        days(260),
        values(&[("hba1c", json!(8.1))]),
        None,
        None,
    )
    .await?;
    w.add(
        clinic,
        plan.id,
        "clinic",
        EntryKind::Assessment,
        days(120),
        values(&[("hba1c", json!(8.3)), ("weight", json!(70.5))]),
        Some("次回受診予約なし"),
        None,
    )
    .await?;

    // Acute myocardial infarction: PCI, then outpatient cardiac rehabilitation at the
    // acute hospital; the clinic takes over after it.
    let p = patients::create_patient(
        services,
        acute,
        &meta,
        patient(
            "中村",
            "修",
            "ナカムラ",
            "オサム",
            "1958-08-15",
            "male",
            "acute-1",
            "0014001",
        ),
    )
    .await?;
    let plan = services
        .enrol(acute, &meta, p.id, "ami", None, None, Some(days(60)))
        .await?;
    share(
        services,
        acute,
        &meta,
        plan.id,
        &[("clinic-1", "clinic")],
        Consent::Active,
    )
    .await?;
    w.report.patients += 1;
    w.report.care_plans += 1;
    let onset = days(60) - Duration::hours(3);
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::StageStart,
        days(60),
        values(&[
            ("onset_at", json!(onset.to_rfc3339())),
            ("revascularization", json!("pci")),
            ("culprit_vessel", json!("lad")),
            ("stent", json!(true)),
            ("peak_ck", json!(2850)),
            ("ldl", json!(148)),
            ("bp_sys", json!(146)),
            ("bp_dia", json!(88)),
            ("diabetes", json!(false)),
            ("smoking", json!("current")),
        ]),
        Some("前壁の急性心筋梗塞。緊急PCIでLADにステント留置。"),
        None,
    )
    .await?;
    let dapt_end = calendar::tokyo_date(days(60) + Duration::days(365));
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::StageEnd,
        days(48),
        values(&[
            ("lvef", json!(45.0)),
            ("nt_probnp", json!(1240.0)),
            ("dapt_end_date", json!(dapt_end.to_string())),
            ("smoking", json!("former")),
        ]),
        Some("退院。外来心臓リハビリテーションへ。"),
        None,
    )
    .await?;
    w.add(
        acute,
        plan.id,
        "cardiac_rehab",
        EntryKind::StageStart,
        days(45),
        values(&[
            ("bp_sys", json!(128)),
            ("bp_dia", json!(78)),
            ("weight", json!(71.4)),
        ]),
        Some("外来心臓リハビリテーション開始(週3回)"),
        None,
    )
    .await?;
    w.add(
        acute,
        plan.id,
        "cardiac_rehab",
        EntryKind::Assessment,
        days(15),
        values(&[
            ("ldl", json!(66)),
            ("bp_sys", json!(124)),
            ("bp_dia", json!(76)),
            ("bp_sys_home", json!(118)),
            ("bp_dia_home", json!(72)),
            ("bnp", json!(58.0)),
            ("cpx_done", json!(true)),
            ("peak_vo2", json!(19.8)),
            ("exercise_capacity_mets", json!(5.7)),
            ("readmission", json!("none")),
        ]),
        Some("CPX再評価。運動処方を更新。"),
        None,
    )
    .await?;

    // Heart failure: admitted with decompensation, home with the clinic.
    let p = patients::create_patient(
        services,
        acute,
        &meta,
        patient(
            "木村",
            "トメ",
            "キムラ",
            "トメ",
            "1938-12-05",
            "female",
            "acute-1",
            "0014101",
        ),
    )
    .await?;
    let plan = services
        .enrol(
            acute,
            &meta,
            p.id,
            "heart-failure",
            None,
            None,
            Some(days(50)),
        )
        .await?;
    share(
        services,
        acute,
        &meta,
        plan.id,
        &[("clinic-1", "home")],
        Consent::Active,
    )
    .await?;
    w.report.patients += 1;
    w.report.care_plans += 1;
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::StageStart,
        days(50),
        values(&[
            ("weight", json!(52.8)),
            ("bp_sys", json!(164)),
            ("bp_dia", json!(92)),
            ("pulse", json!(108)),
            ("nyha", json!("class_4")),
            ("bnp", json!(1320.0)),
            ("lvef", json!(35.0)),
            ("hf_type", json!("hfref")),
            ("symptom_dyspnea", json!(true)),
            ("symptom_edema", json!(true)),
        ]),
        Some("急性心不全で入院。利尿薬静注。"),
        None,
    )
    .await?;
    w.add(
        acute,
        plan.id,
        "acute",
        EntryKind::StageEnd,
        days(38),
        values(&[
            ("weight", json!(48.6)),
            ("nyha", json!("class_2")),
            ("bnp", json!(310.0)),
            ("symptom_dyspnea", json!(false)),
            ("symptom_edema", json!(false)),
            ("gdmt_arni_acei_arb", json!(true)),
            ("gdmt_beta_blocker", json!(true)),
            ("gdmt_mra", json!(true)),
            ("gdmt_sglt2i", json!(true)),
            ("selfcare_daily_weight", json!(true)),
            ("selfcare_medication", json!(true)),
        ]),
        Some("自宅退院。心不全手帳を渡し、毎日の体重記録を指導。"),
        None,
    )
    .await?;
    w.add(
        clinic,
        plan.id,
        "home",
        EntryKind::StageStart,
        days(37),
        values(&[
            ("weight", json!(48.8)),
            ("bp_sys", json!(122)),
            ("bp_dia", json!(70)),
            ("pulse", json!(68)),
        ]),
        None,
        None,
    )
    .await?;
    w.add(
        clinic,
        plan.id,
        "home",
        EntryKind::Assessment,
        days(20),
        values(&[
            ("weight", json!(49.0)),
            ("nyha", json!("class_2")),
            ("nt_probnp", json!(820.0)),
            ("symptom_edema", json!(false)),
            ("selfcare_daily_weight", json!(true)),
            ("selfcare_bp_pulse", json!(true)),
            ("selfcare_medication", json!(true)),
            ("readmission", json!("none")),
        ]),
        Some("退院後の外来。体重安定、むくみなし。"),
        None,
    )
    .await?;

    // Colorectal cancer: operated at the designated cancer hospital, five years of
    // follow-up shared with the clinic (markers at the clinic, CT at the hospital).
    let p = patients::create_patient(
        services,
        acute,
        &meta,
        patient(
            "山本",
            "和夫",
            "ヤマモト",
            "カズオ",
            "1952-04-18",
            "male",
            "acute-1",
            "0014201",
        ),
    )
    .await?;
    let plan = services
        .enrol(
            acute,
            &meta,
            p.id,
            "cancer-colorectal",
            None,
            None,
            Some(days(220)),
        )
        .await?;
    share(
        services,
        acute,
        &meta,
        plan.id,
        &[("clinic-1", "follow_up")],
        Consent::Active,
    )
    .await?;
    w.report.patients += 1;
    w.report.care_plans += 1;
    let surgery = calendar::tokyo_date(days(218));
    let discharge = calendar::tokyo_date(days(206));
    w.add(
        acute,
        plan.id,
        "treatment",
        EntryKind::StageStart,
        days(220),
        values(&[("cea", json!(8.2)), ("ca19_9", json!(31.0))]),
        Some("S状結腸癌。腹腔鏡下S状結腸切除術の予定で入院。"),
        None,
    )
    .await?;
    w.add(
        acute,
        plan.id,
        "treatment",
        EntryKind::StageEnd,
        days(206),
        values(&[
            ("surgery_date", json!(surgery.to_string())),
            ("discharge_date", json!(discharge.to_string())),
            ("tumor_site", json!("colon")),
            ("pstage", json!("stage_3")),
            ("tnm", json!("pT3N1aM0")),
            ("adjuvant_chemo", json!(true)),
            ("plan_provided_date", json!(discharge.to_string())),
        ]),
        Some("退院。治療計画を説明し文書で渡した。術後補助化学療法(CAPOX)を外来で行う。"),
        None,
    )
    .await?;
    w.add(
        clinic,
        plan.id,
        "follow_up",
        EntryKind::StageStart,
        days(200),
        values(&[("cea", json!(2.6)), ("ca19_9", json!(12.0))]),
        None,
        None,
    )
    .await?;
    w.add(
        clinic,
        plan.id,
        "follow_up",
        EntryKind::Assessment,
        days(60),
        values(&[
            ("cea", json!(2.4)),
            ("ca19_9", json!(10.0)),
            ("adverse_event", json!("末梢神経障害(手足のしびれ)")),
            ("adverse_event_grade", json!(1)),
            ("info_to_planner", json!(true)),
        ]),
        Some("しびれは軽度。計画策定病院へ診療情報を提供。"),
        None,
    )
    .await?;
    w.add(
        acute,
        plan.id,
        "follow_up",
        EntryKind::Assessment,
        days(40),
        values(&[
            ("imaging_done", json!(true)),
            ("imaging_finding", json!("no_recurrence")),
            ("recurrence", json!("none")),
        ]),
        Some("術後6か月の胸腹部CT。再発所見なし。"),
        None,
    )
    .await?;

    // Facility directory (手挙げ).
    let liaison_decl = [
        (
            recovery,
            "recovery-1",
            "stroke",
            vec!["recovery"],
            "脳卒中・大腿骨とも受入可。高次脳機能障害は要相談。",
        ),
        (
            recovery,
            "recovery-1",
            "femur-fracture",
            vec!["recovery"],
            "人工骨頭術後は翌週から受入可。",
        ),
        (
            clinic,
            "clinic-1",
            "stroke",
            vec!["home"],
            "生活期の外来フォロー。",
        ),
        (
            clinic,
            "clinic-1",
            "diabetes",
            vec!["clinic"],
            "月1回の定期受診。眼科・歯科は近隣と連携。",
        ),
        (
            acute,
            "acute-1",
            "diabetes",
            vec!["intro", "specialist"],
            "教育入院・年1回の合併症評価。",
        ),
    ];
    for (who, org, pathway, stages, note) in liaison_decl {
        let declarer = Actor {
            roles: vec!["org_admin".into()],
            ..who.clone()
        };
        services
            .declare(
                &declarer,
                &meta,
                org,
                pathway,
                stages.into_iter().map(str::to_owned).collect(),
                note,
            )
            .await?;
    }

    // 佐々木 花子 (stroke, acute): a hand-over proposed to the recovery hospital.
    let sasaki = patients::search_patients(
        services,
        acute,
        &meta,
        crate::patients::PatientQuery {
            kana: Some("ササキ".into()),
            ..Default::default()
        },
    )
    .await?;
    if let Some(p) = sasaki.first() {
        let plans = services.plans_of_patient(acute, &meta, p.id).await?;
        if let Some(plan) = plans.first() {
            services
                .propose_handover(
                    acute,
                    &meta,
                    plan.id,
                    "recovery-1",
                    "recovery",
                    Some("転院調整をお願いします。嚥下評価済み。".into()),
                    Default::default(),
                )
                .await?;
        }
    }

    // 伊藤 誠 (diabetes, clinic): the clinic asks the specialist for the yearly review.
    let ito = patients::search_patients(
        services,
        acute,
        &meta,
        crate::patients::PatientQuery {
            kana: Some("イトウ".into()),
            ..Default::default()
        },
    )
    .await?;
    if let Some(p) = ito.first() {
        let plans = services.plans_of_patient(clinic, &meta, p.id).await?;
        if let Some(plan) = plans.first() {
            services
                .propose_handover(
                    clinic,
                    &meta,
                    plan.id,
                    "acute-1",
                    "specialist",
                    Some("年1回の合併症評価をお願いします。".into()),
                    Default::default(),
                )
                .await?;
        }
    }

    // Goals past their due time get a system variance (e.g. 高木 正男's delayed surgery).
    services.sweep_automatic_variances().await?;
    Ok(report)
}
