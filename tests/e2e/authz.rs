//! Need-to-know access over HTTP (quality.md S1, S3, S4; issue 3 point 7).
//!
//! - `authorization_matrix`: every patient-data endpoint × every profession (and an
//!   organisation administrator, a regional administrator) × every relationship to the
//!   plan (planning organisation, care-team organisation with consent, the same after
//!   consent was withdrawn, an organisation outside the team, an outsider holding a
//!   break-glass grant, a disabled practitioner). The expected outcome of each cell comes
//!   from [`expect`], a small table written from README's access model — not from
//!   `renkei_domain::access::decide`. Refusals must leak nothing, and a 404 for a plan
//!   that exists but is hidden must be byte-identical to the 404 for a random id.
//! - `every_patient_data_call_leaves_exactly_one_audit_event`: S3.
//! - `tampering_with_the_audit_log_is_caught_by_verify`: S4, with `renkei verify` run
//!   as a process.
//! - `break_glass_is_read_only_expires_and_is_listed_for_review`.
//!
//! Every test runs the real server over its own fresh database: SQLite, or PostgreSQL
//! when `RENKEI_TEST_DATABASE_URL` is set.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use renkei_testkit::access::{TestPractitioner, disable_practitioner, practitioner};
use renkei_testkit::app::send;
use renkei_testkit::builders::days_ago;
use renkei_testkit::{ApiResponse, TestApp, rows, run_renkei};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

// ------------------------------------------------------------------ the expected outcomes

const PROFESSIONS: [&str; 7] = [
    "physician",
    "nurse",
    "therapist",
    "msw",
    "liaison_staff",
    "care_manager",
    "pharmacist",
];

/// Who may ask for break-glass access (README: physician, nurse, pharmacist).
const BREAK_GLASS: [&str; 3] = ["physician", "nurse", "pharmacist"];
/// Who may enrol, propose hand-overs, complete or withdraw plans, manage the care team
/// and consent (README: enrolment — physician, nurse, liaison staff, MSW; the planner's
/// process and management actions go to the same professions, or an organisation admin
/// for team and consent).
const PROCESS: [&str; 4] = ["physician", "nurse", "liaison_staff", "msw"];

/// Which professions write which entry kinds (README, "Within a visible plan …").
fn writes(profession: &str, kind: &str) -> bool {
    match kind {
        "note" => true,
        "assessment" => [
            "physician",
            "nurse",
            "therapist",
            "pharmacist",
            "care_manager",
        ]
        .contains(&profession),
        "variance" => {
            ["physician", "nurse", "therapist", "msw", "liaison_staff"].contains(&profession)
        }
        "stage_start" | "stage_end" => {
            ["physician", "nurse", "liaison_staff"].contains(&profession)
        }
        other => panic!("no rule for entry kind {other}"),
    }
}

/// The caller's relationship to the plan under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    /// acute-1, the enrolling organisation (計画管理病院).
    Planner,
    /// recovery-1: on the care team (stage owner of `recovery`), consent active.
    TeamConsent,
    /// recovery-1 on a plan whose consent was withdrawn.
    TeamWithdrawn,
    /// clinic-1: not on the care team (and the regional administrator's pref-1).
    Outsider,
    /// clinic-1 practitioners who asked for break-glass access (granted only to
    /// physicians, nurses and pharmacists; the others were refused and stay outsiders).
    BreakGlass,
    /// acute-1 practitioners whose accounts were disabled.
    Disabled,
}

impl Rel {
    const ALL: [Rel; 6] = [
        Rel::Planner,
        Rel::TeamConsent,
        Rel::TeamWithdrawn,
        Rel::Outsider,
        Rel::BreakGlass,
        Rel::Disabled,
    ];

    fn label(self) -> &'static str {
        match self {
            Rel::Planner => "planner org (acute-1)",
            Rel::TeamConsent => "team org, consent (recovery-1)",
            Rel::TeamWithdrawn => "team org, consent withdrawn",
            Rel::Outsider => "outsider org (clinic-1)",
            Rel::BreakGlass => "outsider + break-glass",
            Rel::Disabled => "disabled user (acute-1)",
        }
    }
}

/// Every patient-data endpoint of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Ep {
    GetPlan,
    GetEntries,
    PostAssessment,
    PostNote,
    PostVariance,
    PostStageStart,
    PostStageEnd,
    AmendPlannerEntry,
    AmendTeamEntry,
    GetGoals,
    GetCareTeam,
    PostCareTeam,
    GetConsents,
    PostConsent,
    WithdrawConsent,
    PostBreakGlass,
    GetHandovers,
    PostHandover,
    GetHandover,
    GetSchedule,
    GetReports,
    GetReport,
    SendReport,
    Individualize,
    MigrationPreview,
    Complete,
    WithdrawPlan,
    GetPatient,
    SearchPatients,
    ListCarePlans,
    Enrol,
    GetAudit,
    AccessReport,
    ListBreakGlass,
    Worklist,
}

impl Ep {
    const ALL: [Ep; 35] = [
        Ep::GetPlan,
        Ep::GetEntries,
        Ep::PostAssessment,
        Ep::PostNote,
        Ep::PostVariance,
        Ep::PostStageStart,
        Ep::PostStageEnd,
        Ep::AmendPlannerEntry,
        Ep::AmendTeamEntry,
        Ep::GetGoals,
        Ep::GetCareTeam,
        Ep::PostCareTeam,
        Ep::GetConsents,
        Ep::PostConsent,
        Ep::WithdrawConsent,
        Ep::PostBreakGlass,
        Ep::GetHandovers,
        Ep::PostHandover,
        Ep::GetHandover,
        Ep::GetSchedule,
        Ep::GetReports,
        Ep::GetReport,
        Ep::SendReport,
        Ep::Individualize,
        Ep::MigrationPreview,
        Ep::Complete,
        Ep::WithdrawPlan,
        Ep::GetPatient,
        Ep::SearchPatients,
        Ep::ListCarePlans,
        Ep::Enrol,
        Ep::GetAudit,
        Ep::AccessReport,
        Ep::ListBreakGlass,
        Ep::Worklist,
    ];

    /// A short column label and the route it stands for.
    fn label(self) -> (&'static str, &'static str) {
        match self {
            Ep::GetPlan => ("plan", "GET /care-plans/{id}"),
            Ep::GetEntries => ("entries", "GET /care-plans/{id}/entries"),
            Ep::PostAssessment => ("+assess", "POST /care-plans/{id}/entries (assessment)"),
            Ep::PostNote => ("+note", "POST /care-plans/{id}/entries (note)"),
            Ep::PostVariance => ("+var", "POST /care-plans/{id}/entries (variance)"),
            Ep::PostStageStart => ("+start", "POST /care-plans/{id}/entries (stage_start)"),
            Ep::PostStageEnd => ("+end", "POST /care-plans/{id}/entries (stage_end)"),
            Ep::AmendPlannerEntry => ("amendA", "POST …/entries amending an acute-1 entry"),
            Ep::AmendTeamEntry => ("amendR", "POST …/entries amending a recovery-1 entry"),
            Ep::GetGoals => ("goals", "GET /care-plans/{id}/goals"),
            Ep::GetCareTeam => ("team", "GET /care-plans/{id}/care-team"),
            Ep::PostCareTeam => ("+team", "POST /care-plans/{id}/care-team"),
            Ep::GetConsents => ("consent", "GET /care-plans/{id}/consents"),
            Ep::PostConsent => ("+consnt", "POST /care-plans/{id}/consents"),
            Ep::WithdrawConsent => ("-consnt", "POST /consents/{id}/withdraw"),
            Ep::PostBreakGlass => ("+bglass", "POST /break-glass"),
            Ep::GetHandovers => ("hovers", "GET /care-plans/{id}/handovers"),
            Ep::PostHandover => ("+hover", "POST /care-plans/{id}/handovers"),
            Ep::GetHandover => ("hover", "GET /handovers/{id}"),
            Ep::GetSchedule => ("sched", "GET /care-plans/{id}/schedule"),
            Ep::GetReports => ("reports", "GET /care-plans/{id}/reports"),
            Ep::GetReport => ("report", "GET /reports/{id}"),
            Ep::SendReport => ("+report", "POST /reports/{id}/send"),
            Ep::Individualize => ("+indiv", "POST /care-plans/{id}/individualize"),
            Ep::MigrationPreview => ("migr", "GET /care-plans/{id}/migration"),
            Ep::Complete => ("complet", "POST /care-plans/{id}/complete"),
            Ep::WithdrawPlan => ("withdrw", "POST /care-plans/{id}/withdraw"),
            Ep::GetPatient => ("patient", "GET /patients/{id}"),
            Ep::SearchPatients => ("search", "GET /patients?kana=…"),
            Ep::ListCarePlans => ("plans", "GET /care-plans?patient_id=…"),
            Ep::Enrol => ("+enrol", "POST /care-plans"),
            Ep::GetAudit => ("audit", "GET /audit?patient=…"),
            Ep::AccessReport => ("acc-rep", "GET /patients/{id}/access-report"),
            Ep::ListBreakGlass => ("bg-list", "GET /break-glass"),
            Ep::Worklist => ("worklst", "GET /worklist"),
        }
    }

    /// Whether an allowed call changes the plan's state so that the next cell could not
    /// make the same request (those allowed cells get a fresh plan of their own).
    fn stateful(self) -> bool {
        matches!(
            self,
            Ep::PostStageStart
                | Ep::PostStageEnd
                | Ep::PostCareTeam
                | Ep::PostConsent
                | Ep::WithdrawConsent
                | Ep::PostBreakGlass
                | Ep::PostHandover
                | Ep::SendReport
                | Ep::Complete
                | Ep::WithdrawPlan
                | Ep::Enrol
        )
    }
}

/// What a cell must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 200 / 201 / 204.
    Allow(u16),
    /// 404, byte-identical to the answer for a random id.
    Hidden,
    /// 403 with the generic body.
    Forbidden,
    /// 401: the token's practitioner is disabled.
    Unauthenticated,
    /// 422 like an unknown patient (enrolling a patient the organisation does not see).
    NotVisible,
    /// 200, listing the patient / plan (`Some(true)`), not listing them and leaking
    /// nothing about them (`Some(false)`), or either (`None`).
    Listing(Option<bool>),
}

/// A caller in the matrix.
#[derive(Debug, Clone)]
struct Subj {
    label: String,
    p: TestPractitioner,
    org_admin: bool,
    regional_admin: bool,
}

impl Subj {
    fn profession(&self) -> &str {
        &self.p.profession
    }
}

/// The expected outcome of `ep` for `s` in relationship `rel`, from README's access
/// model (written independently of `renkei_domain::access::decide`).
fn expect(rel: Rel, s: &Subj, ep: Ep) -> Expect {
    use Expect::*;
    if rel == Rel::Disabled {
        return Unauthenticated;
    }
    let prof = s.profession();
    // The organisation sees the plan: the planner always; a team member with consent.
    let org_sees = matches!(rel, Rel::Planner | Rel::TeamConsent);
    // The practitioner holds an unexpired break-glass grant: read only.
    let grant = rel == Rel::BreakGlass && BREAK_GLASS.contains(&prof);
    let reads = org_sees || grant;
    let planner = rel == Rel::Planner;
    let read = if reads { Allow(200) } else { Hidden };
    // A write inside the plan: hidden plans answer 404, except to a break-glass reader
    // (who sees the plan, so a refusal reveals nothing): 403.
    let write = |allowed: bool, code: u16| {
        if !org_sees {
            if grant { Forbidden } else { Hidden }
        } else if allowed {
            Allow(code)
        } else {
            Forbidden
        }
    };
    // The plan is in `recovery`. Stage entries there (assessments, variances, start, end)
    // and proposing its hand-over are for recovery-1, its stage owner; the planner writes
    // stage entries only in its own stage, `acute`. Notes: any writing member, any stage.
    let stage_owner = rel == Rel::TeamConsent;
    match ep {
        Ep::GetPlan
        | Ep::GetEntries
        | Ep::GetGoals
        | Ep::GetCareTeam
        | Ep::GetConsents
        | Ep::GetHandovers
        | Ep::GetSchedule
        | Ep::GetReports
        | Ep::MigrationPreview => read,
        // recovery-1 sent this hand-over; after the consent's withdrawal it is no more
        // theirs to read than the rest of the plan ("withdrawal stops every other
        // organisation's access").
        Ep::GetHandover => read,
        // recovery-1 owes acute-1 this report back; the same holds for it.
        Ep::GetReport => read,
        Ep::SendReport => write(stage_owner && PROCESS.contains(&prof), 200),
        Ep::PostAssessment => write(stage_owner && writes(prof, "assessment"), 201),
        Ep::PostNote => write(writes(prof, "note"), 201),
        Ep::PostVariance => write(stage_owner && writes(prof, "variance"), 201),
        Ep::PostStageStart => write(stage_owner && writes(prof, "stage_start"), 201),
        Ep::PostStageEnd => write(stage_owner && writes(prof, "stage_end"), 201),
        // Only the author's organisation amends, in a stage it writes in.
        Ep::AmendPlannerEntry => write(
            s.p.organization == "acute-1" && writes(prof, "assessment"),
            201,
        ),
        Ep::AmendTeamEntry => write(
            s.p.organization == "recovery-1" && writes(prof, "assessment"),
            201,
        ),
        Ep::PostCareTeam | Ep::PostConsent => {
            write(planner && (s.org_admin || PROCESS.contains(&prof)), 201)
        }
        Ep::WithdrawConsent => write(planner && (s.org_admin || PROCESS.contains(&prof)), 200),
        Ep::PostHandover => write(stage_owner && PROCESS.contains(&prof), 201),
        Ep::Individualize => write(prof == "physician", 204),
        Ep::Complete | Ep::WithdrawPlan => write(planner && PROCESS.contains(&prof), 204),
        // Break-glass is for those who do not see the plan.
        Ep::PostBreakGlass => {
            if org_sees {
                Forbidden
            } else if BREAK_GLASS.contains(&prof) {
                Allow(201)
            } else {
                Hidden
            }
        }
        // The planner holds the patient's number; the team sees a plan; a break-glass
        // reader sees one too.
        Ep::GetPatient => read,
        Ep::SearchPatients | Ep::ListCarePlans => Listing(Some(reads)),
        // Enrolment needs the profession, then an organisation that sees the patient
        // (a personal break-glass grant is read-only and does not count).
        Ep::Enrol => {
            if !PROCESS.contains(&prof) {
                Forbidden
            } else if org_sees {
                Allow(201)
            } else {
                NotVisible
            }
        }
        Ep::GetAudit | Ep::ListBreakGlass => {
            if s.regional_admin {
                Allow(200)
            } else {
                Forbidden
            }
        }
        // Regional admin; or an organisation admin whose organisation sees the patient.
        Ep::AccessReport => {
            if s.regional_admin || (s.org_admin && org_sees) {
                Allow(200)
            } else {
                Hidden
            }
        }
        Ep::Worklist => Listing(if org_sees { None } else { Some(false) }),
    }
}

// ------------------------------------------------------------------ fixtures

#[derive(Debug, Clone)]
struct PatientFix {
    id: String,
    family: String,
    given: String,
    family_kana: String,
    given_kana: String,
    identifier: String,
}

#[derive(Debug, Clone)]
struct PlanFix {
    id: String,
    patient: PatientFix,
    consent_id: Option<String>,
    handover_id: Option<String>,
    report_id: Option<String>,
    /// An acute assessment written by acute-1 (never amended), and more of them for the
    /// cells allowed to amend one.
    planner_entry: Option<String>,
    planner_pool: Vec<String>,
    /// A recovery assessment written by recovery-1.
    team_entry: Option<String>,
    entry_ids: Vec<String>,
}

impl PlanFix {
    /// Strings no refusal may contain.
    fn secrets(&self) -> Vec<String> {
        let p = &self.patient;
        let mut out = vec![
            self.id.clone(),
            p.id.clone(),
            p.family.clone(),
            p.given.clone(),
            p.family_kana.clone(),
            p.given_kana.clone(),
            p.identifier.clone(),
            "entry_count".into(),
            "sha256:".into(),
        ];
        out.extend(self.consent_id.iter().cloned());
        out.extend(self.handover_id.iter().cloned());
        out.extend(self.report_id.iter().cloned());
        out.extend(self.entry_ids.iter().cloned());
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// acute started and ended: `recovery` may start.
    AcuteEnded,
    /// `recovery` in progress: assessments, variances and its end are due there.
    RecoveryStarted,
    /// `recovery` ended by recovery-1: a report back to acute-1 is due.
    RecoveryEnded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConsentKind {
    None,
    Active,
    Withdrawn,
}

struct World {
    app: TestApp,
    /// acute-1 physician doing the set-up.
    acute: TestPractitioner,
    /// recovery-1 physician doing the set-up.
    recovery: TestPractitioner,
    n: AtomicUsize,
}

/// A request, so that it can be repeated with a random id.
#[derive(Debug, Clone)]
struct Req {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
}

impl Req {
    fn get(path: impl Into<String>) -> Req {
        Req {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    fn post(path: impl Into<String>, body: Value) -> Req {
        Req {
            method: Method::POST,
            path: path.into(),
            query: Vec::new(),
            body: Some(body),
        }
    }

    fn query(mut self, k: &str, v: &str) -> Req {
        self.query.push((k.to_owned(), v.to_owned()));
        self
    }
}

async fn call(app: &TestApp, token: &str, r: &Req) -> ApiResponse {
    let mut b = app.request(r.method.clone(), &r.path).bearer_auth(token);
    if !r.query.is_empty() {
        b = b.query(&r.query);
    }
    if let Some(body) = &r.body {
        b = b.json(body);
    }
    send(b).await
}

fn kana_digits(n: usize) -> String {
    const K: [char; 10] = ['ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ'];
    format!("{n:04}")
        .chars()
        .map(|d| K[d.to_digit(10).unwrap_or(0) as usize])
        .collect()
}

fn entry_body(stage: &str, kind: &str, at: &str, values: Value) -> Value {
    json!({"stage": stage, "kind": kind, "effective_at": at, "values": values})
}

/// Acute assessments kept for the cells allowed to amend one of acute-1's entries.
const PLANNER_POOL: usize = 12;

const BG_REASON: &str = "救急外来に意識障害で搬送、既往歴の確認のため";

impl World {
    async fn new() -> Option<World> {
        let app = TestApp::spawn().await?;
        for (code, kind) in [
            ("acute-1", "acute_hospital"),
            ("recovery-1", "recovery_hospital"),
            ("clinic-1", "clinic"),
            ("home-1", "clinic"),
            ("pref-1", "municipality"),
        ] {
            app.ensure_org(code, kind).await;
        }
        let acute = practitioner(
            &app,
            "acute-1",
            "acute_hospital",
            "setup-acute",
            "physician",
            &[],
        )
        .await;
        let recovery = practitioner(
            &app,
            "recovery-1",
            "recovery_hospital",
            "setup-recovery",
            "physician",
            &[],
        )
        .await;
        Some(World {
            app,
            acute,
            recovery,
            n: AtomicUsize::new(1),
        })
    }

    /// A request that must answer `status`.
    async fn must(&self, token: &str, req: Req, status: u16) -> ApiResponse {
        let res = call(&self.app, token, &req).await;
        assert_eq!(
            res.status.as_u16(),
            status,
            "set-up {} {} answered {}: {}",
            req.method,
            req.path,
            res.status,
            res.text
        );
        res
    }

    /// A patient registered at acute-1, with names no other patient has.
    async fn patient(&self) -> PatientFix {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        let fix = PatientFix {
            id: String::new(),
            family: format!("秘匿{n:04}"),
            given: format!("花子{n:04}"),
            family_kana: format!("ヒトク{}", kana_digits(n)),
            given_kana: "ハナコ".into(),
            identifier: format!("K-AUTHZ-{n:05}"),
        };
        let res = self
            .must(
                &self.acute.token,
                Req::post(
                    "/api/v1/patients",
                    json!({
                        "name": {"family": fix.family, "given": fix.given,
                                 "family_kana": fix.family_kana, "given_kana": fix.given_kana},
                        "birth_date": "1946-02-11",
                        "sex": "female",
                        "identifiers": [{"organization": "acute-1", "value": fix.identifier}],
                    }),
                ),
                201,
            )
            .await;
        PatientFix {
            id: res.body["id"].as_str().expect("patient id").to_owned(),
            ..fix
        }
    }

    /// A stroke plan enrolled by acute-1 with recovery-1 on its care team (stage owner of
    /// `recovery`); acute-1 runs `acute`, recovery-1 starts `recovery`. `extras` adds what
    /// the shared plans need: acute assessments by acute-1 and a recovery assessment by
    /// recovery-1 to amend, and a hand-over to home-1 that recovery-1 proposed and withdrew.
    async fn plan(&self, shape: Shape, consent: ConsentKind, extras: bool) -> PlanFix {
        let acute = &self.acute.token;
        let patient = self.patient().await;
        let res = self
            .must(
                acute,
                Req::post(
                    "/api/v1/care-plans",
                    json!({"patient_id": patient.id, "pathway": "stroke", "variant": "standard", "started_at": days_ago(31)}),
                ),
                201,
            )
            .await;
        let id = res.body["id"].as_str().expect("plan id").to_owned();
        let base = format!("/api/v1/care-plans/{id}");
        self.must(
            acute,
            Req::post(
                format!("{base}/care-team"),
                json!({"organization": "recovery-1", "stages": ["recovery"], "role": "stage_owner"}),
            ),
            201,
        )
        .await;
        let consent_id = if consent == ConsentKind::None {
            None
        } else {
            let res = self
                .must(
                    acute,
                    Req::post(
                        format!("{base}/consents"),
                        json!({"scope": "care_team", "purposes": ["care", "statistics"],
                               "method": "paper", "signer": "self", "obtained_at": days_ago(30)}),
                    ),
                    201,
                )
                .await;
            Some(res.body["id"].as_str().expect("consent id").to_owned())
        };
        let entries = format!("{base}/entries");
        let mut fix = PlanFix {
            id,
            patient,
            consent_id,
            handover_id: None,
            report_id: None,
            planner_entry: None,
            planner_pool: Vec::new(),
            team_entry: None,
            entry_ids: Vec::new(),
        };
        self.must(
            acute,
            Req::post(
                &entries,
                entry_body(
                    "acute",
                    "stage_start",
                    &days_ago(30),
                    json!({"nihss_total": 8}),
                ),
            ),
            201,
        )
        .await;
        if extras {
            // Acute assessments by acute-1: one that stays unamended, and a pool for the
            // cells allowed to amend one.
            for i in 0..=PLANNER_POOL {
                let res = self
                    .must(
                        acute,
                        Req::post(
                            &entries,
                            entry_body("acute", "assessment", &days_ago(25), json!({"mrs": 4})),
                        ),
                        201,
                    )
                    .await;
                let eid = res.body["id"].as_str().expect("entry id").to_owned();
                if i == 0 {
                    fix.planner_entry = Some(eid);
                } else {
                    fix.planner_pool.push(eid);
                }
            }
        }
        self.must(
            acute,
            Req::post(
                &entries,
                entry_body("acute", "stage_end", &days_ago(20), json!({"mrs": 3})),
            ),
            201,
        )
        .await;
        if shape != Shape::AcuteEnded {
            assert_ne!(
                consent,
                ConsentKind::None,
                "recovery-1 starts recovery under consent"
            );
            self.must(
                &self.recovery.token,
                Req::post(
                    &entries,
                    entry_body("recovery", "stage_start", &days_ago(19), json!({})),
                ),
                201,
            )
            .await;
        }
        if extras {
            assert_ne!(shape, Shape::AcuteEnded);
            fix.team_entry = Some(self.assessment(&fix, &self.recovery).await);
            let recovery = &self.recovery.token;
            let res = self
                .must(
                    recovery,
                    Req::post(
                        format!("{base}/handovers"),
                        json!({"to_organization": "home-1", "stage": "home", "note": "退院調整中"}),
                    ),
                    201,
                )
                .await;
            let hid = res.body["id"].as_str().expect("hand-over id").to_owned();
            let etag = res
                .headers
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .expect("ETag")
                .to_owned();
            let res = send(
                self.app
                    .request(Method::POST, &format!("/api/v1/handovers/{hid}/withdraw"))
                    .bearer_auth(recovery)
                    .header("If-Match", etag),
            )
            .await;
            res.assert_status(200);
            fix.handover_id = Some(hid);
        }
        if shape == Shape::RecoveryEnded {
            self.must(
                &self.recovery.token,
                Req::post(
                    &entries,
                    entry_body(
                        "recovery",
                        "stage_end",
                        &days_ago(5),
                        json!({"destination": "home"}),
                    ),
                ),
                201,
            )
            .await;
            let res = self
                .must(acute, Req::get(format!("{base}/reports")), 200)
                .await;
            fix.report_id = Some(
                res.body["reports"][0]["id"]
                    .as_str()
                    .expect("a report back is due")
                    .to_owned(),
            );
        }
        if consent == ConsentKind::Withdrawn {
            let cid = fix.consent_id.clone().expect("consent");
            self.must(
                acute,
                Req::post(
                    format!("/api/v1/consents/{cid}/withdraw"),
                    json!({"reason": "本人の希望"}),
                ),
                200,
            )
            .await;
        }
        let res = self.must(acute, Req::get(&entries), 200).await;
        fix.entry_ids = res.body["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["id"].as_str().map(str::to_owned))
            .collect();
        fix
    }

    /// A new recovery assessment on `plan` by `by` (recovery-1); returns its id.
    async fn assessment(&self, plan: &PlanFix, by: &TestPractitioner) -> String {
        let res = self
            .must(
                &by.token,
                Req::post(
                    format!("/api/v1/care-plans/{}/entries", plan.id),
                    entry_body("recovery", "assessment", &days_ago(10), json!({"mrs": 3})),
                ),
                201,
            )
            .await;
        res.body["id"].as_str().expect("entry id").to_owned()
    }
}

/// The request a cell makes on `plan`; `random` swaps the id that names the resource for
/// a random one (to compare the answers).
fn request(ep: Ep, plan: &PlanFix, amend_target: Option<&str>, random: bool) -> Req {
    let rnd = Uuid::now_v7().to_string();
    let pick = |real: &str| if random { rnd.clone() } else { real.to_owned() };
    let plan_id = pick(&plan.id);
    let base = format!("/api/v1/care-plans/{plan_id}");
    let entries = format!("{base}/entries");
    let patient_id = pick(&plan.patient.id);
    match ep {
        Ep::GetPlan => Req::get(base),
        Ep::GetEntries => Req::get(entries),
        Ep::PostAssessment => Req::post(
            entries,
            entry_body("recovery", "assessment", &days_ago(1), json!({"mrs": 2})),
        ),
        Ep::PostNote => {
            let mut b = entry_body("recovery", "note", &days_ago(1), json!({}));
            b["note"] = json!("家族へ病状説明");
            Req::post(entries, b)
        }
        Ep::PostVariance => {
            let mut b = entry_body("recovery", "variance", &days_ago(1), json!({}));
            b["variance"] = json!({"code": "NEG.VAR.CO.CARE_INS", "note": "要介護認定待ち"});
            Req::post(entries, b)
        }
        Ep::PostStageStart => Req::post(
            entries,
            entry_body("recovery", "stage_start", &days_ago(18), json!({})),
        ),
        Ep::PostStageEnd => Req::post(
            entries,
            entry_body(
                "recovery",
                "stage_end",
                &days_ago(1),
                json!({"destination": "home"}),
            ),
        ),
        Ep::AmendPlannerEntry | Ep::AmendTeamEntry => {
            // An amendment keeps the stage of the entry it corrects.
            let stage = if ep == Ep::AmendPlannerEntry {
                "acute"
            } else {
                "recovery"
            };
            let mut b = entry_body(stage, "assessment", &days_ago(10), json!({"mrs": 2}));
            b["amends"] = json!(amend_target.expect("amend target"));
            b["reason"] = json!("入力誤り");
            Req::post(entries, b)
        }
        Ep::GetGoals => Req::get(format!("{base}/goals")),
        Ep::GetCareTeam => Req::get(format!("{base}/care-team")),
        Ep::PostCareTeam => Req::post(
            format!("{base}/care-team"),
            json!({"organization": "clinic-1", "stages": ["home"], "role": "contributor"}),
        ),
        Ep::GetConsents => Req::get(format!("{base}/consents")),
        Ep::PostConsent => Req::post(
            format!("{base}/consents"),
            json!({"scope": "listed", "organizations": ["recovery-1"], "purposes": ["care"],
                   "method": "electronic", "signer": "proxy", "proxy_relationship": "長女",
                   "obtained_at": days_ago(1)}),
        ),
        Ep::WithdrawConsent => {
            let cid = pick(plan.consent_id.as_deref().expect("a plan with a consent"));
            Req::post(
                format!("/api/v1/consents/{cid}/withdraw"),
                json!({"reason": "本人の申し出"}),
            )
        }
        Ep::PostBreakGlass => Req::post(
            "/api/v1/break-glass",
            json!({"care_plan": plan_id, "reason": BG_REASON}),
        ),
        Ep::GetHandovers => Req::get(format!("{base}/handovers")),
        Ep::PostHandover => Req::post(
            format!("{base}/handovers"),
            json!({"to_organization": "clinic-1", "stage": "home", "note": "在宅へ"}),
        ),
        Ep::GetHandover => {
            let hid = pick(
                plan.handover_id
                    .as_deref()
                    .expect("a plan with a hand-over"),
            );
            Req::get(format!("/api/v1/handovers/{hid}"))
        }
        Ep::GetSchedule => Req::get(format!("{base}/schedule")),
        Ep::GetReports => Req::get(format!("{base}/reports")),
        Ep::GetReport => {
            let rid = pick(plan.report_id.as_deref().expect("a plan with a report"));
            Req::get(format!("/api/v1/reports/{rid}"))
        }
        Ep::SendReport => {
            let rid = pick(plan.report_id.as_deref().expect("a plan with a report"));
            Req::post(
                format!("/api/v1/reports/{rid}/send"),
                json!({"note": "FIM 54→90、自宅退院"}),
            )
        }
        Ep::Individualize => Req::post(
            format!("{base}/individualize"),
            json!({"goal": "g5_bp_sys", "target": {"kind": "threshold", "item": "bp_sys", "op": "<", "value": 140},
                   "reason": "両側頸動脈狭窄"}),
        ),
        Ep::MigrationPreview => Req::get(format!("{base}/migration")).query("version", "1"),
        Ep::Complete => Req {
            method: Method::POST,
            path: format!("{base}/complete"),
            query: Vec::new(),
            body: None,
        },
        Ep::WithdrawPlan => Req::post(format!("{base}/withdraw"), json!({"reason": "死亡"})),
        Ep::GetPatient => Req::get(format!("/api/v1/patients/{patient_id}")),
        Ep::SearchPatients => Req::get("/api/v1/patients").query(
            "kana",
            &format!("{}{}", plan.patient.family_kana, plan.patient.given_kana),
        ),
        Ep::ListCarePlans => Req::get("/api/v1/care-plans").query("patient_id", &patient_id),
        Ep::Enrol => Req::post(
            "/api/v1/care-plans",
            json!({"patient_id": patient_id, "pathway": "stroke", "variant": "standard"}),
        ),
        Ep::GetAudit => Req::get("/api/v1/audit").query("patient", &patient_id),
        Ep::AccessReport => Req::get(format!("/api/v1/patients/{patient_id}/access-report")),
        Ep::ListBreakGlass => Req::get("/api/v1/break-glass"),
        Ep::Worklist => Req::get("/api/v1/worklist"),
    }
}

/// Whether an answer to a refused `ep` is compared with the answer for a random id.
fn has_random_twin(ep: Ep) -> bool {
    !matches!(
        ep,
        Ep::SearchPatients | Ep::ListCarePlans | Ep::GetAudit | Ep::ListBreakGlass | Ep::Worklist
    )
}

/// A problem body without what differs per request.
fn normalized(body: &Value) -> Value {
    let mut b = body.clone();
    if let Some(o) = b.as_object_mut() {
        for k in ["request_id", "instance", "trace_id"] {
            o.remove(k);
        }
    }
    b
}

fn lists(body: &Value, key: &str, id: &str) -> bool {
    body[key]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["id"].as_str() == Some(id)))
}

/// Checks one answer against its expectation; returns what is wrong.
async fn check(
    app: &TestApp,
    token: &str,
    ep: Ep,
    exp: Expect,
    res: &ApiResponse,
    plan: &PlanFix,
    forbidden_body: &mut Option<Value>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    let status = res.status.as_u16();
    let leaks = |res: &ApiResponse| -> Vec<String> {
        plan.secrets()
            .into_iter()
            .filter(|s| res.text.contains(s.as_str()))
            .collect()
    };
    let refusal = |wrong: &mut Vec<String>, code: u16| {
        if status != code {
            wrong.push(format!("status {status}, expected {code}: {}", res.text));
            return false;
        }
        if !res.content_type().starts_with("application/problem+json") {
            wrong.push(format!("content type {:?}", res.content_type()));
        }
        let l = leaks(res);
        if !l.is_empty() {
            wrong.push(format!("refusal leaks {l:?}: {}", res.text));
        }
        true
    };
    match exp {
        Expect::Allow(code) => {
            if status != code {
                wrong.push(format!("status {status}, expected {code}: {}", res.text));
            }
        }
        Expect::Unauthenticated => {
            refusal(&mut wrong, 401);
        }
        Expect::Forbidden => {
            if refusal(&mut wrong, 403) {
                match forbidden_body {
                    None => *forbidden_body = Some(normalized(&res.body)),
                    Some(b) if *b != normalized(&res.body) => {
                        wrong.push(format!("403 body differs from other 403s: {}", res.text));
                    }
                    Some(_) => {}
                }
            }
        }
        Expect::Hidden | Expect::NotVisible => {
            let code = if exp == Expect::Hidden { 404 } else { 422 };
            if refusal(&mut wrong, code) && has_random_twin(ep) {
                let twin = call(
                    app,
                    token,
                    &request(ep, plan, Some(&Uuid::now_v7().to_string()), true),
                )
                .await;
                if twin.status != res.status || normalized(&twin.body) != normalized(&res.body) {
                    wrong.push(format!(
                        "existing-but-hidden answers {} {} but a random id answers {} {}",
                        res.status, res.text, twin.status, twin.text
                    ));
                }
            }
        }
        Expect::Listing(includes) => {
            if status != 200 {
                wrong.push(format!("status {status}, expected 200: {}", res.text));
            } else {
                let listed = match ep {
                    Ep::SearchPatients => lists(&res.body, "patients", &plan.patient.id),
                    Ep::ListCarePlans => lists(&res.body, "care_plans", &plan.id),
                    _ => false,
                };
                match includes {
                    Some(true) if !listed => wrong.push(format!("not listed: {}", res.text)),
                    Some(false) => {
                        let l = leaks(res);
                        if !l.is_empty() {
                            wrong.push(format!("lists what it may not see {l:?}: {}", res.text));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    wrong
}

fn code_of(exp: Expect) -> String {
    match exp {
        Expect::Allow(c) => c.to_string(),
        Expect::Hidden => "404".into(),
        Expect::Forbidden => "403".into(),
        Expect::Unauthenticated => "401".into(),
        Expect::NotVisible => "422".into(),
        Expect::Listing(Some(true)) => "200+".into(),
        Expect::Listing(Some(false)) => "200-".into(),
        Expect::Listing(None) => "200".into(),
    }
}

// ------------------------------------------------------------------ S1: the matrix

#[tokio::test(flavor = "multi_thread")]
async fn authorization_matrix() {
    let Some(w) = World::new().await else {
        return;
    };
    let app = &w.app;

    // Callers: every profession in each organisation, an organisation administrator (a
    // therapist, so that only the role can allow team and consent changes), a regional
    // administrator, break-glass askers and disabled accounts.
    let mut subjects: HashMap<&str, Vec<Subj>> = HashMap::new();
    for (group, org, kind) in [
        ("acute", "acute-1", "acute_hospital"),
        ("recovery", "recovery-1", "recovery_hospital"),
        ("clinic", "clinic-1", "clinic"),
        ("bg", "clinic-1", "clinic"),
        ("off", "acute-1", "acute_hospital"),
    ] {
        let mut list = Vec::new();
        for prof in PROFESSIONS {
            let login = format!("{group}-{}", prof.replace('_', "-"));
            list.push(Subj {
                label: prof.to_owned(),
                p: practitioner(app, org, kind, &login, prof, &[]).await,
                org_admin: false,
                regional_admin: false,
            });
        }
        list.push(Subj {
            label: "org_admin (therapist)".into(),
            p: practitioner(
                app,
                org,
                kind,
                &format!("{group}-admin"),
                "therapist",
                &["org_admin"],
            )
            .await,
            org_admin: true,
            regional_admin: false,
        });
        subjects.insert(group, list);
    }
    subjects.get_mut("clinic").expect("clinic").push(Subj {
        label: "regional_admin (physician, pref-1)".into(),
        p: practitioner(
            app,
            "pref-1",
            "municipality",
            "pref-admin",
            "physician",
            &["regional_admin"],
        )
        .await,
        org_admin: false,
        regional_admin: true,
    });

    // The two shared plans, in `recovery`, with entries, a withdrawn hand-over and consent.
    let main = w
        .plan(Shape::RecoveryEnded, ConsentKind::Active, true)
        .await;
    let withdrawn = w
        .plan(Shape::RecoveryEnded, ConsentKind::Withdrawn, true)
        .await;

    // Break-glass on the main plan: granted to physicians, nurses and pharmacists.
    for s in &subjects["bg"] {
        let res = call(
            app,
            &s.p.token,
            &Req::post(
                "/api/v1/break-glass",
                json!({"care_plan": main.id, "reason": BG_REASON}),
            ),
        )
        .await;
        let want = if BREAK_GLASS.contains(&s.profession()) && !s.org_admin {
            201
        } else {
            404
        };
        assert_eq!(
            res.status.as_u16(),
            want,
            "break-glass for {}: {}",
            s.label,
            res.text
        );
    }
    for s in &subjects["off"] {
        disable_practitioner(app, s.p.id).await;
    }

    let group_of = |rel: Rel| match rel {
        Rel::Planner => "acute",
        Rel::TeamConsent | Rel::TeamWithdrawn => "recovery",
        Rel::Outsider => "clinic",
        Rel::BreakGlass => "bg",
        Rel::Disabled => "off",
    };
    let mut cells: Vec<(Rel, Subj, Ep)> = Vec::new();
    for rel in Rel::ALL {
        for s in &subjects[group_of(rel)] {
            for ep in Ep::ALL {
                cells.push((rel, s.clone(), ep));
            }
        }
    }
    let planned = cells.len();
    let rows = planned / Ep::ALL.len();
    println!(
        "authorization matrix: {} relationships, {rows} caller rows, {} endpoints = {planned} cells",
        Rel::ALL.len(),
        Ep::ALL.len()
    );

    let mut checked = 0usize;
    let mut failures: Vec<String> = Vec::new();
    let mut table: Vec<(String, Vec<String>)> = Vec::new();
    let mut forbidden_body: Option<Value> = None;
    let mut fresh_plans = 0usize;
    let mut planner_pool = main.planner_pool.clone();
    for (rel, s, ep) in cells {
        if table
            .last()
            .is_none_or(|(label, _)| *label != format!("{} / {}", rel.label(), s.label))
        {
            table.push((format!("{} / {}", rel.label(), s.label), Vec::new()));
        }
        let exp = expect(rel, &s, ep);
        let shared = if rel == Rel::TeamWithdrawn {
            &withdrawn
        } else {
            &main
        };
        let allowed = matches!(exp, Expect::Allow(_));
        // A grant holder asking again changes nothing that matters; everyone else's
        // allowed state change gets a plan of its own, in the state the request needs.
        let fresh = if allowed && ep.stateful() && rel != Rel::BreakGlass {
            fresh_plans += 1;
            let consent = match (ep, rel) {
                (Ep::PostConsent, _) => ConsentKind::None,
                (_, Rel::TeamWithdrawn) => ConsentKind::Withdrawn,
                _ => ConsentKind::Active,
            };
            let shape = match ep {
                Ep::PostStageStart | Ep::PostConsent => Shape::AcuteEnded,
                Ep::SendReport => Shape::RecoveryEnded,
                _ => Shape::RecoveryStarted,
            };
            Some(w.plan(shape, consent, false).await)
        } else {
            None
        };
        let plan = fresh.as_ref().unwrap_or(shared);
        let target = match ep {
            Ep::AmendPlannerEntry if allowed => Some(
                planner_pool
                    .pop()
                    .expect("enough acute assessments to amend"),
            ),
            Ep::AmendTeamEntry if allowed => Some(w.assessment(plan, &w.recovery).await),
            Ep::AmendPlannerEntry => plan.planner_entry.clone(),
            Ep::AmendTeamEntry => plan.team_entry.clone(),
            _ => None,
        };
        let req = request(ep, plan, target.as_deref(), false);
        let res = call(app, &s.p.token, &req).await;
        let wrong = check(app, &s.p.token, ep, exp, &res, plan, &mut forbidden_body).await;
        let mark = if wrong.is_empty() { "" } else { "!" };
        if let Some((_, row)) = table.last_mut() {
            row.push(format!("{}{mark}", res.status.as_u16()));
        }
        for problem in wrong {
            failures.push(format!(
                "[{} / {} ({})] {} {} — expected {}: {problem}",
                rel.label(),
                s.label,
                s.p.login,
                req.method,
                ep.label().1,
                code_of(exp)
            ));
        }
        checked += 1;
    }

    // The matrix as answered (a `!` marks a cell that disagreed with the expectation).
    let mut out = String::new();
    out.push_str("\ncolumns:\n");
    for ep in Ep::ALL {
        let (short, route) = ep.label();
        out.push_str(&format!("  {short:<8} {route}\n"));
    }
    out.push_str(&format!("{:<58}", "relationship / caller"));
    for ep in Ep::ALL {
        out.push_str(&format!("{:>8}", ep.label().0));
    }
    out.push('\n');
    for (label, row) in &table {
        out.push_str(&format!("{label:<58}"));
        for c in row {
            out.push_str(&format!("{c:>8}"));
        }
        out.push('\n');
    }
    println!("{out}");
    println!(
        "authorization matrix: {checked} of {planned} cells checked ({fresh_plans} fresh plans for allowed state changes), {} disagreement(s)",
        failures.len()
    );
    assert_eq!(checked, planned, "every cell is checked");
    assert!(
        failures.is_empty(),
        "{} cell(s) disagree with README's access model:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ------------------------------------------------------------------ S3: audit completeness

/// Stands for the patient a call creates (its id is in the answer).
const CREATED: &str = "(the patient created by the call)";

struct Audited<'a> {
    label: &'a str,
    who: &'a TestPractitioner,
    req: Req,
    status: u16,
    action: &'a str,
    outcome: &'a str,
    patient: Option<&'a str>,
}

/// Makes the call and asserts it left exactly one audit event, the right one.
async fn audited(w: &World, orgs: &HashMap<String, Uuid>, a: Audited<'_>) -> ApiResponse {
    let db = &w.app.services.db;
    let before = rows::count(db, rows::Table::AuditEvents)
        .await
        .expect("count");
    let last_seq = rows::audit_events(db)
        .await
        .expect("last event")
        .last()
        .map_or(0, |e| e.seq);
    let res = call(&w.app, &a.who.token, &a.req).await;
    assert_eq!(
        res.status.as_u16(),
        a.status,
        "{}: {} {} answered {}",
        a.label,
        a.req.method,
        a.req.path,
        res.text
    );
    let after = rows::count(db, rows::Table::AuditEvents)
        .await
        .expect("count");
    let new: Vec<_> = rows::audit_events(db)
        .await
        .expect("new events")
        .into_iter()
        .filter(|e| e.seq > last_seq)
        .collect();
    assert_eq!(
        after - before,
        1,
        "{}: expected exactly one new audit event, got {:?}",
        a.label,
        new.iter()
            .map(|e| (&e.action, &e.outcome))
            .collect::<Vec<_>>()
    );
    let e = &new[0];
    let request_id = res
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id");
    assert_eq!(e.action, a.action, "{}: action", a.label);
    assert_eq!(e.outcome, a.outcome, "{}: outcome", a.label);
    assert_eq!(
        e.practitioner_id,
        Some(a.who.id),
        "{}: practitioner",
        a.label
    );
    assert_eq!(
        e.organization_id,
        Some(orgs[&a.who.organization]),
        "{}: organization",
        a.label
    );
    let patient = match a.patient {
        Some(CREATED) => res.body["id"].as_str().map(str::to_owned),
        other => other.map(str::to_owned),
    };
    assert_eq!(
        e.patient_id.map(|p| p.to_string()),
        patient,
        "{}: patient",
        a.label
    );
    assert_eq!(
        e.request_id.as_deref(),
        Some(request_id),
        "{}: request id",
        a.label
    );
    assert_eq!(
        e.client_addr.as_deref(),
        Some("127.0.0.1"),
        "{}: client address",
        a.label
    );
    res
}

#[tokio::test(flavor = "multi_thread")]
async fn every_patient_data_call_leaves_exactly_one_audit_event() {
    let Some(w) = World::new().await else {
        return;
    };
    let app = &w.app;
    let nurse = practitioner(app, "acute-1", "acute_hospital", "a-nurse", "nurse", &[]).await;
    let therapist = practitioner(
        app,
        "recovery-1",
        "recovery_hospital",
        "r-pt",
        "therapist",
        &[],
    )
    .await;
    let cm = practitioner(
        app,
        "acute-1",
        "acute_hospital",
        "a-cm",
        "care_manager",
        &[],
    )
    .await;
    let r_nurse = practitioner(
        app,
        "recovery-1",
        "recovery_hospital",
        "r-nurse",
        "nurse",
        &[],
    )
    .await;
    let outsider = practitioner(app, "clinic-1", "clinic", "c-doc", "physician", &[]).await;
    let c_msw = practitioner(app, "clinic-1", "clinic", "c-msw", "msw", &[]).await;
    let regional = practitioner(
        app,
        "pref-1",
        "municipality",
        "pref-admin",
        "msw",
        &["regional_admin"],
    )
    .await;
    let orgs: HashMap<String, Uuid> = renkei_service::admin::list_organizations(&app.services.db)
        .await
        .expect("organizations")
        .into_iter()
        .map(|o| (o.code, o.id))
        .collect();
    let main = w
        .plan(Shape::RecoveryEnded, ConsentKind::Active, true)
        .await;
    let p = Some(main.patient.id.as_str());
    let n = |ep| request(ep, &main, None, false);

    // Reads.
    for (ep, action) in [
        (Ep::GetPlan, "care_plan.read"),
        (Ep::GetEntries, "entry.list"),
        (Ep::GetGoals, "goal.read"),
        (Ep::GetCareTeam, "care_team.read"),
        (Ep::GetConsents, "consent.read"),
        (Ep::GetHandovers, "handover.list"),
        (Ep::GetHandover, "handover.read"),
        (Ep::GetSchedule, "schedule.read"),
        (Ep::GetReports, "report.list"),
        (Ep::MigrationPreview, "care_plan.migration_preview"),
        (Ep::GetPatient, "patient.read"),
    ] {
        for who in [&nurse, &r_nurse] {
            audited(
                &w,
                &orgs,
                Audited {
                    label: ep.label().1,
                    who,
                    req: n(ep),
                    status: 200,
                    action,
                    outcome: "allowed",
                    patient: p,
                },
            )
            .await;
        }
    }
    // Searches.
    let res = audited(
        &w,
        &orgs,
        Audited {
            label: "search",
            who: &nurse,
            req: n(Ep::SearchPatients),
            status: 200,
            action: "patient.search",
            outcome: "allowed",
            patient: None,
        },
    )
    .await;
    assert!(lists(&res.body, "patients", &main.patient.id));
    audited(
        &w,
        &orgs,
        Audited {
            label: "plans of patient",
            who: &r_nurse,
            req: n(Ep::ListCarePlans),
            status: 200,
            action: "care_plan.list",
            outcome: "allowed",
            patient: p,
        },
    )
    .await;
    let res = audited(
        &w,
        &orgs,
        Audited {
            label: "search, outsider",
            who: &outsider,
            req: n(Ep::SearchPatients),
            status: 200,
            action: "patient.search",
            outcome: "allowed",
            patient: None,
        },
    )
    .await;
    assert!(!lists(&res.body, "patients", &main.patient.id));
    audited(
        &w,
        &orgs,
        Audited {
            label: "plans of patient, outsider",
            who: &outsider,
            req: n(Ep::ListCarePlans),
            status: 200,
            action: "care_plan.list",
            outcome: "denied",
            patient: None,
        },
    )
    .await;

    // Writes.
    audited(
        &w,
        &orgs,
        Audited {
            label: "append",
            who: &r_nurse,
            req: n(Ep::PostAssessment),
            status: 201,
            action: "entry.append",
            outcome: "allowed",
            patient: p,
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "append a note by the planner",
            who: &nurse,
            req: n(Ep::PostNote),
            status: 201,
            action: "entry.append",
            outcome: "allowed",
            patient: p,
        },
    )
    .await;
    let target = w.assessment(&main, &w.recovery).await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "amend",
            who: &r_nurse,
            req: request(Ep::AmendTeamEntry, &main, Some(&target), false),
            status: 201,
            action: "entry.amend",
            outcome: "allowed",
            patient: p,
        },
    )
    .await;
    let mut bad = n(Ep::PostAssessment);
    bad.body = Some(entry_body(
        "recovery",
        "assessment",
        &days_ago(1),
        json!({"mrs": 9}),
    ));
    audited(
        &w,
        &orgs,
        Audited {
            label: "append rejected (422)",
            who: &r_nurse,
            req: bad,
            status: 422,
            action: "entry.append",
            outcome: "allowed",
            patient: p,
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "individualize",
            who: &w.acute,
            req: n(Ep::Individualize),
            status: 204,
            action: "care_plan.individualize",
            outcome: "allowed",
            patient: p,
        },
    )
    .await;
    let pat = w.patient().await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "enrol",
            who: &nurse,
            req: Req::post(
                "/api/v1/care-plans",
                json!({"patient_id": pat.id, "pathway": "stroke", "variant": "standard"}),
            ),
            status: 201,
            action: "care_plan.enrol",
            outcome: "allowed",
            patient: Some(&pat.id),
        },
    )
    .await;
    audited(&w, &orgs, Audited {
        label: "register patient", who: &nurse,
        req: Req::post("/api/v1/patients", json!({
            "name": {"family": "監査", "given": "一郎", "family_kana": "カンサ", "given_kana": "イチロウ"},
            "birth_date": "1950-01-01", "sex": "male",
            "identifiers": [{"organization": "acute-1", "value": "AUDIT-1"}]})),
        // The new patient's id is only known from the answer: `audited` checks it.
        status: 201, action: "patient.create", outcome: "allowed", patient: Some(CREATED),
    }).await;
    for (ep, who, action, status) in [
        (Ep::PostCareTeam, &nurse, "care_team.add", 201),
        (Ep::PostConsent, &nurse, "consent.record", 201),
        (Ep::WithdrawConsent, &nurse, "consent.withdraw", 200),
        (Ep::PostHandover, &r_nurse, "handover.propose", 201),
        (Ep::PostStageEnd, &r_nurse, "entry.append", 201),
        (Ep::Complete, &nurse, "care_plan.lifecycle", 204),
        (Ep::WithdrawPlan, &nurse, "care_plan.lifecycle", 204),
    ] {
        let (shape, consent) = if ep == Ep::PostConsent {
            (Shape::AcuteEnded, ConsentKind::None)
        } else {
            (Shape::RecoveryStarted, ConsentKind::Active)
        };
        let fresh = w.plan(shape, consent, false).await;
        audited(
            &w,
            &orgs,
            Audited {
                label: ep.label().1,
                who,
                req: request(ep, &fresh, None, false),
                status,
                action,
                outcome: "allowed",
                patient: Some(&fresh.patient.id),
            },
        )
        .await;
    }
    let fresh = w
        .plan(Shape::RecoveryStarted, ConsentKind::Active, false)
        .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "break-glass",
            who: &outsider,
            req: request(Ep::PostBreakGlass, &fresh, None, false),
            status: 201,
            action: "break_glass.grant",
            outcome: "allowed",
            patient: Some(&fresh.patient.id),
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "break-glass read",
            who: &outsider,
            req: request(Ep::GetEntries, &fresh, None, false),
            status: 200,
            action: "entry.list",
            outcome: "allowed",
            patient: Some(&fresh.patient.id),
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "break-glass write",
            who: &outsider,
            req: request(Ep::PostNote, &fresh, None, false),
            status: 403,
            action: "entry.append",
            outcome: "denied",
            patient: Some(&fresh.patient.id),
        },
    )
    .await;

    // Denials: outside the care team every plan call answers 404.
    for (ep, action) in [
        (Ep::GetPlan, "care_plan.read"),
        // Every plan read is checked as a plan read before its own audit action.
        (Ep::GetEntries, "care_plan.read"),
        (Ep::PostNote, "entry.append"),
        (Ep::PostHandover, "handover.propose"),
        (Ep::Complete, "care_plan.lifecycle"),
        (Ep::WithdrawConsent, "consent.withdraw"),
        (Ep::PostCareTeam, "care_team.add"),
    ] {
        audited(
            &w,
            &orgs,
            Audited {
                label: ep.label().1,
                who: &outsider,
                req: n(ep),
                status: 404,
                action,
                outcome: "denied",
                patient: p,
            },
        )
        .await;
    }
    audited(
        &w,
        &orgs,
        Audited {
            label: "random plan id",
            who: &nurse,
            req: request(Ep::GetPlan, &main, None, true),
            status: 404,
            action: "care_plan.read",
            outcome: "denied",
            patient: None,
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "outsider reads patient",
            who: &outsider,
            req: n(Ep::GetPatient),
            status: 404,
            action: "patient.read",
            outcome: "denied",
            patient: p,
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "team adds to care team",
            who: &r_nurse,
            req: n(Ep::PostCareTeam),
            status: 403,
            action: "care_team.add",
            outcome: "denied",
            patient: p,
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "therapist ends a stage",
            who: &therapist,
            req: n(Ep::PostStageEnd),
            status: 403,
            action: "entry.append",
            outcome: "denied",
            patient: p,
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "team amends planner's entry",
            who: &r_nurse,
            req: request(
                Ep::AmendPlannerEntry,
                &main,
                main.planner_entry.as_deref(),
                false,
            ),
            status: 403,
            action: "entry.amend",
            outcome: "denied",
            patient: p,
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "msw asks for break-glass",
            who: &c_msw,
            req: n(Ep::PostBreakGlass),
            status: 404,
            action: "break_glass.grant",
            outcome: "denied",
            patient: p,
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "outsider enrols",
            who: &outsider,
            req: n(Ep::Enrol),
            status: 422,
            action: "care_plan.enrol",
            outcome: "denied",
            patient: p,
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "care manager enrols",
            who: &cm,
            req: n(Ep::Enrol),
            status: 403,
            action: "care_plan.enrol",
            outcome: "denied",
            patient: None,
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "nurse reads the audit log",
            who: &nurse,
            req: n(Ep::GetAudit),
            status: 403,
            action: "audit.read",
            outcome: "denied",
            patient: None,
        },
    )
    .await;
    audited(
        &w,
        &orgs,
        Audited {
            label: "nurse asks for an access report",
            who: &nurse,
            req: n(Ep::AccessReport),
            status: 404,
            action: "patient.access_report",
            outcome: "denied",
            patient: p,
        },
    )
    .await;
    // The regional administrator.
    audited(
        &w,
        &orgs,
        Audited {
            label: "audit log",
            who: &regional,
            req: n(Ep::GetAudit),
            status: 200,
            action: "audit.read",
            outcome: "allowed",
            patient: p,
        },
    )
    .await;
    let res = audited(
        &w,
        &orgs,
        Audited {
            label: "access report",
            who: &regional,
            req: n(Ep::AccessReport),
            status: 200,
            action: "patient.access_report",
            outcome: "allowed",
            patient: p,
        },
    )
    .await;
    // The report names who read the patient's plan.
    let readers: Vec<&str> = res.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "care_plan.read" && e["outcome"] == "allowed")
        .filter_map(|e| e["practitioner_id"].as_str())
        .collect();
    assert!(readers.contains(&nurse.id.to_string().as_str()));
    assert!(readers.contains(&r_nurse.id.to_string().as_str()));
}

// ------------------------------------------------------------------ S4: tampering

#[tokio::test(flavor = "multi_thread")]
async fn tampering_with_the_audit_log_is_caught_by_verify() {
    let Some(w) = World::new().await else {
        return;
    };
    let app = &w.app;
    let outsider = practitioner(app, "clinic-1", "clinic", "c-doc", "physician", &[]).await;
    let main = w
        .plan(Shape::RecoveryEnded, ConsentKind::Active, true)
        .await;
    // A denied read, then a few allowed ones after it.
    call(
        app,
        &outsider.token,
        &request(Ep::GetPlan, &main, None, false),
    )
    .await
    .assert_status(404);
    let db = &app.services.db;
    let denied = rows::audit_events(db)
        .await
        .expect("query")
        .into_iter()
        .rev()
        .find(|e| e.outcome == "denied")
        .expect("the denial was audited");
    for ep in [Ep::GetPlan, Ep::GetEntries, Ep::GetGoals] {
        call(app, &w.acute.token, &request(ep, &main, None, false))
            .await
            .assert_status(200);
    }
    let url = app.db.cli_url();
    let verify = || {
        let url = url.clone();
        async move { run_renkei(&["verify", "--database", &url], None).await }
    };
    let out = verify().await;
    out.assert_code(0);
    assert!(out.stdout.contains("all chains intact"), "{}", out.stdout);

    // `verify` sequenced the events: the denial now has its place in the tree.
    let (seq, region) = rows::audit_events(db)
        .await
        .expect("query")
        .into_iter()
        .find(|e| e.id == denied.id)
        .and_then(|e| Some((e.tree_seq?, e.region)))
        .expect("verify sequenced the denial");
    let broken = format!("audit event seq {seq} of region");
    // Turn the denial into an allowed read; then rename its action.
    for (column, value, original) in [
        ("outcome", "allowed", denied.outcome.as_str()),
        ("action", "care_plan.list", denied.action.as_str()),
    ] {
        let n = app
            .db
            .execute(&format!(
                "UPDATE audit_events SET {column} = '{value}' WHERE seq = {seq} AND region = '{region}'"
            ))
            .await;
        assert_eq!(n, 1);
        let out = verify().await;
        out.assert_code(1);
        assert!(
            out.stdout.contains(&broken),
            "verify must name audit seq {seq} after changing its {column}:\n{}",
            out.stdout
        );
        app.db
            .execute(&format!(
                "UPDATE audit_events SET {column} = '{original}' WHERE seq = {seq} AND region = '{region}'"
            ))
            .await;
        verify().await.assert_code(0);
    }
    // Truncate the tail: the events still give their leaves, but the signed checkpoint
    // records a longer log.
    let total = app
        .db
        .query_i64(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE seq IS NOT NULL AND region = '{region}'"
        ))
        .await;
    let n = app
        .db
        .execute(&format!(
            "DELETE FROM audit_events WHERE region = '{region}' \
             AND seq = (SELECT MAX(seq) FROM audit_events WHERE region = '{region}')"
        ))
        .await;
    assert_eq!(n, 1);
    let out = verify().await;
    out.assert_code(1);
    assert!(
        out.stdout.contains(&format!(
            "has {} events but a stored checkpoint records {total}",
            total - 1
        )),
        "{}",
        out.stdout
    );
}

// ------------------------------------------------------------------ break-glass

#[tokio::test(flavor = "multi_thread")]
async fn break_glass_is_read_only_expires_and_is_listed_for_review() {
    let Some(w) = World::new().await else {
        return;
    };
    let app = &w.app;
    let doctor = practitioner(app, "clinic-1", "clinic", "c-doc", "physician", &[]).await;
    let msw = practitioner(app, "clinic-1", "clinic", "c-msw", "msw", &[]).await;
    let regional = practitioner(
        app,
        "pref-1",
        "municipality",
        "pref-admin",
        "msw",
        &["regional_admin"],
    )
    .await;
    let main = w
        .plan(Shape::RecoveryEnded, ConsentKind::Active, true)
        .await;
    let read = |who: &TestPractitioner, ep| {
        let token = who.token.clone();
        let req = request(ep, &main, None, false);
        async move { call(app, &token, &req).await }
    };

    read(&doctor, Ep::GetPlan).await.assert_status(404);
    // A reason is required; an MSW may not break the glass.
    call(
        app,
        &doctor.token,
        &Req::post(
            "/api/v1/break-glass",
            json!({"care_plan": main.id, "reason": " "}),
        ),
    )
    .await
    .assert_problem(422, Some("reason"));
    read(&msw, Ep::PostBreakGlass).await.assert_status(404);

    let grant = read(&doctor, Ep::PostBreakGlass).await;
    grant.assert_status(201);
    let granted_at = grant.body["granted_at"].as_str().expect("granted_at");
    let expires_at = grant.body["expires_at"].as_str().expect("expires_at");
    let hours = (chrono::DateTime::parse_from_rfc3339(expires_at).expect("time")
        - chrono::DateTime::parse_from_rfc3339(granted_at).expect("time"))
    .num_hours();
    assert_eq!(hours, 24, "break-glass lasts 24 h by default");

    // Read only.
    for ep in [Ep::GetPlan, Ep::GetEntries, Ep::GetPatient] {
        read(&doctor, ep).await.assert_status(200);
    }
    for ep in [
        Ep::PostNote,
        Ep::PostAssessment,
        Ep::PostCareTeam,
        Ep::PostConsent,
    ] {
        read(&doctor, ep).await.assert_problem(403, None);
    }
    // Listed for the regional administrator, and only for them.
    read(&doctor, Ep::ListBreakGlass).await.assert_status(403);
    let list = read(&regional, Ep::ListBreakGlass).await;
    list.assert_status(200);
    let g = list.body["grants"]
        .as_array()
        .expect("grants")
        .iter()
        .find(|g| g["id"] == grant.body["id"])
        .expect("the grant is listed")
        .clone();
    assert_eq!(g["care_plan_id"], json!(main.id));
    assert_eq!(g["practitioner_id"], json!(doctor.id));
    assert_eq!(g["reason"], BG_REASON);
    assert!(g["reviewed_at"].is_null());

    // Still valid after 23 hours; gone after 25.
    app.services.clock.advance(chrono::Duration::hours(23));
    read(&doctor, Ep::GetPlan).await.assert_status(200);
    app.services.clock.advance(chrono::Duration::hours(2));
    for ep in [Ep::GetPlan, Ep::GetEntries, Ep::GetPatient] {
        read(&doctor, ep).await.assert_status(404);
    }
    let plans = read(&doctor, Ep::ListCarePlans).await;
    plans.assert_status(200);
    assert!(!lists(&plans.body, "care_plans", &main.id));
    read(&doctor, Ep::PostNote).await.assert_status(404);

    // The review is recorded.
    let gid = grant.body["id"].as_str().expect("grant id");
    let res = call(
        app,
        &doctor.token,
        &Req::post(format!("/api/v1/break-glass/{gid}/review"), json!({})),
    )
    .await;
    res.assert_status(403);
    let res = call(
        app,
        &regional.token,
        &Req::post(format!("/api/v1/break-glass/{gid}/review"), json!({})),
    )
    .await;
    res.assert_status(204);
    let list = read(&regional, Ep::ListBreakGlass).await;
    let g = list.body["grants"]
        .as_array()
        .expect("grants")
        .iter()
        .find(|g| g["id"] == grant.body["id"])
        .expect("still listed")
        .clone();
    assert!(g["reviewed_at"].is_string(), "{g}");
}
