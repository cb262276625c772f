//! The dataset generator (P8): prefecture-scale regions built through the same rules as
//! the API — every entry is checked by `renkei_domain::entry::validate_entry` against
//! the pinned template and the plan's stage state, its composites are computed there,
//! the state moves by `next_state`, and it is chained with `ChainedEntry::compute_hash`
//! exactly as `Services::append_entry` does — then written by the store's bulk insert in
//! batched transactions (multi-row inserts).
//!
//! Named datasets (../shared/quality.md): `region-1y/10` (≈ 0.8 M entries),
//! `region-1y` (≈ 8 M entries, 304 k plans), `region-5y` (≈ 40 M entries). Chiba's nine
//! secondary medical areas; stroke and femur-fracture plans are short and dense (acute →
//! recovery → home), diabetes plans are long and thin (intro, then the clinic ⇄
//! specialist cycle with monthly visits).

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use renkei_domain::chain::{ChainedEntry, GENESIS_HASH, canonical};
use renkei_domain::entry::{
    EntryKind, NewEntry, PlanState, PlanStatus, VarianceInput, next_state, validate_entry,
};
use renkei_domain::evidence::Evidence;
use renkei_domain::template::{BARTHEL_TOTAL, FIM_TOTAL, PathwayTemplate};
use renkei_service::admin::{self, NewOrganization, NewPractitioner};
use renkei_service::audit::{self, AuditRecord, Outcome, RequestMeta};
use renkei_service::evidence as row_evidence;
use renkei_service::{Services, truncate_micros};
use renkei_store::audit::AuditEvent;
use renkei_store::bench::{
    CarePlanRow, CareTeamRow, ConsentRow, DatasetRows, EntryRow, PatientIdentifierRow, PatientRow,
};
use renkei_store::bulk_load::{self, BulkLoader, IndexDef};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// How big a region to build.
#[derive(Debug, Clone)]
pub struct DatasetSpec {
    pub name: String,
    pub stroke: usize,
    pub femur: usize,
    pub diabetes: usize,
    /// Years of history (diabetes plans run this long; stroke and femur cohorts start
    /// in every one of these years).
    pub years: u32,
    /// Organisations per secondary medical area: acute, recovery, clinic, home nursing.
    pub orgs_per_area: [usize; 4],
}

/// Chiba's nine secondary medical areas (二次保健医療圏).
pub const AREAS: [&str; 9] = [
    "千葉",
    "東葛南部",
    "東葛北部",
    "印旛",
    "香取海匝",
    "山武長生夷隅",
    "安房",
    "君津",
    "市原",
];

impl DatasetSpec {
    pub fn named(name: &str) -> Option<DatasetSpec> {
        let (stroke, femur, diabetes, years, orgs) = match name {
            "region-1y" => (14_000, 9_600, 280_000, 1, [8, 5, 120, 15]),
            "region-1y/10" => (1_400, 960, 28_000, 1, [3, 2, 24, 3]),
            "region-1y/100" => (140, 96, 2_800, 1, [1, 1, 4, 1]),
            "region-5y" => (70_000, 48_000, 280_000, 5, [8, 5, 120, 15]),
            _ => return None,
        };
        Some(DatasetSpec {
            name: name.to_owned(),
            stroke,
            femur,
            diabetes,
            years,
            orgs_per_area: orgs,
        })
    }

    pub fn plans(&self) -> usize {
        self.stroke + self.femur + self.diabetes
    }
}

#[derive(Debug, Default, Clone)]
pub struct GenReport {
    pub organizations: usize,
    pub practitioners: usize,
    pub patients: usize,
    pub care_plans: usize,
    pub entries: usize,
    pub audit_events: usize,
    pub transactions: usize,
    pub elapsed: StdDuration,
    /// Time spent writing (the generator runs beside it on another thread).
    pub write_time: StdDuration,
    /// Time spent creating the secondary indexes after the load (part of `elapsed`).
    pub index_time: StdDuration,
    /// The secondary indexes dropped before the load and created again after it.
    pub indexes: Vec<String>,
    /// Time the audit sequencer took to number the loaded events and sign each region's
    /// checkpoint (part of `elapsed`; zero when the services hold no audit key, and the
    /// events stay pending for the server's sequencer or `renkei verify`).
    pub sequence_time: StdDuration,
}

impl GenReport {
    pub fn entries_per_s(&self) -> f64 {
        self.entries as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug, Clone)]
struct Author {
    practitioner: Uuid,
    organization: Uuid,
    organization_code: String,
}

/// The practitioners of one secondary medical area, by kind.
#[derive(Debug, Clone, Default)]
struct AreaStaff {
    acute: Vec<Author>,
    recovery: Vec<Author>,
    clinic: Vec<Author>,
    home: Vec<Author>,
}

/// Rows of a batch, in foreign-key order.
#[derive(Default)]
struct Batch {
    patients: Vec<PatientRow>,
    identifiers: Vec<PatientIdentifierRow>,
    plans: Vec<CarePlanRow>,
    team: Vec<CareTeamRow>,
    consents: Vec<ConsentRow>,
    entries: Vec<EntryRow>,
    /// Audit events, hashed and chained, after the rows they vouch for.
    audit: Vec<AuditEvent>,
    /// The council's report facts of the batch's plans.
    report_facts: Vec<renkei_domain::council::ReportFactsRow>,
}

/// Builds `spec` into the (migrated, templates published) database of `services`.
/// `entries_per_txn` sets the batch (transaction) size.
pub async fn generate(
    services: &Services,
    spec: &DatasetSpec,
    seed: u64,
    entries_per_txn: usize,
    progress: bool,
) -> anyhow::Result<GenReport> {
    let started = Instant::now();
    let mut report = GenReport::default();
    let db = &services.db;
    let tag = format!("{:04x}", seed & 0xffff);
    let mut staff = Vec::new();
    for (a, area) in AREAS.iter().enumerate() {
        let mut s = AreaStaff::default();
        let kinds = [
            ("acute_hospital", "急性期病院", "physician"),
            (
                "recovery_hospital",
                "回復期リハビリテーション病院",
                "therapist",
            ),
            ("clinic", "内科クリニック", "physician"),
            ("home_nursing", "訪問看護ステーション", "nurse"),
        ];
        for (k, (kind, label, profession)) in kinds.iter().enumerate() {
            for n in 0..spec.orgs_per_area[k] {
                let code = format!("g{tag}-{}-{a}-{n}", &kind[..5]);
                let org = admin::add_organization(
                    services,
                    NewOrganization {
                        code: code.clone(),
                        name: format!("{area}{label}{}", n + 1),
                        kind: (*kind).to_owned(),
                        area: (*area).to_owned(),
                    },
                )
                .await
                .map_err(|e| anyhow!("add organization {code}: {e}"))?;
                report.organizations += 1;
                let mut authors = Vec::new();
                for p in 0..2 {
                    let login = format!("{code}-p{p}");
                    let id = admin::add_practitioner(
                        services,
                        NewPractitioner {
                            organization_code: code.clone(),
                            login: login.clone(),
                            name: format!("職員 {}", p + 1),
                            profession: if p == 0 {
                                (*profession).to_owned()
                            } else {
                                "liaison_staff".to_owned()
                            },
                            roles: Vec::new(),
                            password: None,
                        },
                    )
                    .await
                    .map_err(|e| anyhow!("add practitioner {login}: {e}"))?;
                    report.practitioners += 1;
                    authors.push(Author {
                        practitioner: id,
                        organization: org.id,
                        organization_code: code.clone(),
                    });
                }
                match k {
                    0 => s.acute.extend(authors),
                    1 => s.recovery.extend(authors),
                    2 => s.clinic.extend(authors),
                    _ => s.home.extend(authors),
                }
            }
        }
        staff.push(s);
    }

    // The generated records use the items of each pathway's first version (later
    // versions renamed some), so the plans are pinned to it.
    let lookup = |code: &str| {
        services
            .pathways
            .find(code, 1)
            .cloned()
            .ok_or_else(|| anyhow!("pathway {code} v1 is not published"))
    };
    let templates = Templates {
        stroke: lookup("stroke")?,
        femur: lookup("femur-fracture")?,
        diabetes: lookup("diabetes")?,
    };

    // Secondary indexes go before the load and come back after it, as the catalog
    // defines them.
    let indexes: Vec<IndexDef> =
        bulk_load::secondary_indexes(db, &bulk_load::LOADED_TABLES).await?;
    bulk_load::drop_indexes(db, &indexes).await?;
    report.indexes = indexes.iter().map(|i| i.name.clone()).collect();
    let mut loader = BulkLoader::open(db).await?;
    // Generate on a thread of its own; write here. Bounded channel: back-pressure.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(4);
    let spec2 = spec.clone();
    let staff = Arc::new(staff);
    let now = services.now();
    let generator = std::thread::spawn(move || -> anyhow::Result<(usize, usize, usize)> {
        let mut g = Generator {
            rng: StdRng::seed_from_u64(seed),
            templates,
            staff,
            now,
            tag,
            patients: 0,
            region: String::new(),
        };
        g.run(&spec2, entries_per_txn, &tx)
    });
    let mut last_report = Instant::now();
    while let Some(batch) = rx.recv().await {
        let t = Instant::now();
        report.patients += batch.patients.len();
        report.care_plans += batch.plans.len();
        report.entries += batch.entries.len();
        report.audit_events += batch.audit.len();
        write_batch(&mut loader, batch).await?;
        report.transactions += 1;
        report.write_time += t.elapsed();
        if progress && last_report.elapsed() > StdDuration::from_secs(10) {
            last_report = Instant::now();
            eprintln!(
                "  {} plans, {} entries, {:.0} entries/s",
                report.care_plans,
                report.entries,
                report.entries as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let (plans, entries, _) = generator
        .join()
        .map_err(|_| anyhow!("the generator thread panicked"))??;
    if plans != report.care_plans || entries != report.entries {
        bail!(
            "generated {plans} plans / {entries} entries but wrote {} / {}",
            report.care_plans,
            report.entries
        );
    }
    let t = Instant::now();
    loader.create_indexes(&indexes).await?;
    drop(loader);
    report.index_time = t.elapsed();
    if services.security.audit_key.is_some() {
        let t = Instant::now();
        services.sequence_all_audit().await?;
        report.sequence_time = t.elapsed();
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

async fn write_batch(loader: &mut BulkLoader, batch: Batch) -> anyhow::Result<()> {
    loader
        .write(
            DatasetRows {
                patients: batch.patients,
                identifiers: batch.identifiers,
                plans: batch.plans,
                team: batch.team,
                consents: batch.consents,
                entries: batch.entries,
                report_facts: batch.report_facts,
            },
            batch.audit,
        )
        .await
        .context("bulk load")?;
    Ok(())
}

struct Templates {
    stroke: Arc<renkei_service::pathways::PublishedPathway>,
    femur: Arc<renkei_service::pathways::PublishedPathway>,
    diabetes: Arc<renkei_service::pathways::PublishedPathway>,
}

struct Generator {
    rng: StdRng,
    templates: Templates,
    staff: Arc<Vec<AreaStaff>>,
    now: DateTime<Utc>,
    tag: String,
    patients: usize,
    /// The region of the plan being generated: its audit events join that region's log.
    region: String,
}

#[derive(Clone, Copy)]
enum Kind {
    Stroke,
    Femur,
    Diabetes,
}

/// One care plan being written: the same steps as `Services::append_entry`.
struct PlanSim<'a> {
    template: &'a PathwayTemplate,
    id: Uuid,
    state: PlanState,
    seq: i64,
    head: String,
    rows: Vec<EntryRow>,
    last_at: DateTime<Utc>,
    cutoff: DateTime<Utc>,
    rng: StdRng,
    /// (entry, recorded at, author) per entry, for the audit events and the care team.
    events: Vec<(Uuid, DateTime<Utc>, Author)>,
    stages: Vec<String>,
}

impl PlanSim<'_> {
    /// Appends one entry unless its time is past the cut-off; Err when the rules refuse
    /// it (a bug in the generator: the dataset must be valid through and through).
    #[expect(clippy::too_many_arguments, reason = "an entry has these fields")]
    fn add(
        &mut self,
        author: &Author,
        stage: &str,
        kind: EntryKind,
        at: DateTime<Utc>,
        values: Map<String, Value>,
        note: Option<&str>,
        variance: Option<&str>,
    ) -> anyhow::Result<bool> {
        let at = truncate_micros(at.max(self.last_at));
        if at > self.cutoff || self.state.status != PlanStatus::Active {
            return Ok(false);
        }
        // Recorded a little after the fact, never after "now".
        let recorded = truncate_micros(
            (at + Duration::minutes(self.rng.gen_range(5..240)))
                .min(self.cutoff + Duration::minutes(4)),
        );
        let new = NewEntry {
            stage: stage.to_owned(),
            kind,
            effective_at: at,
            values,
            note: note.map(str::to_owned),
            // Through serde, as the API builds it: optional fields stay at their defaults.
            variance: variance
                .map(|c| serde_json::from_value::<VarianceInput>(json!({ "code": c })))
                .transpose()?,
            amends: None,
            reason: None,
        };
        let validated = validate_entry(self.template, &self.state, &new, recorded)
            .map_err(|r| anyhow!("{} {stage} {}: {r:?}", self.template.code, kind.as_str()))?;
        let next = next_state(self.template, &self.state, &new);
        self.seq += 1;
        let prev_hash = if self.seq == 1 {
            GENESIS_HASH.to_owned()
        } else {
            self.head.clone()
        };
        let chained = ChainedEntry {
            id: Uuid::now_v7(),
            care_plan_id: self.id,
            seq: self.seq,
            stage: new.stage,
            kind: kind.as_str().to_owned(),
            effective_at: at,
            recorded_at: recorded,
            author_id: author.practitioner,
            organization_id: author.organization,
            values_json: canonical(&Value::Object(validated.values)),
            note: new.note,
            variance_json: new
                .variance
                .as_ref()
                .map(|v| canonical(&serde_json::to_value(v).unwrap_or(Value::Null))),
            amends: None,
            reason: None,
            prev_hash,
        };
        let hash = chained.compute_hash();
        self.rows.push(EntryRow {
            id: chained.id,
            care_plan_id: chained.care_plan_id,
            // The plan's, set when the plan's rows go into the batch.
            region: String::new(),
            seq: chained.seq,
            stage: chained.stage.clone(),
            kind: chained.kind,
            effective_at: chained.effective_at,
            recorded_at: chained.recorded_at,
            author_id: chained.author_id,
            organization_id: chained.organization_id,
            values_json: chained.values_json,
            note: chained.note,
            variance: chained.variance_json,
            amends: None,
            reason: None,
            prev_hash: chained.prev_hash,
            hash: hash.clone(),
        });
        self.events.push((chained.id, recorded, author.clone()));
        self.stages.push(chained.stage.clone());
        self.head = hash;
        self.state = next;
        self.last_at = at;
        Ok(true)
    }
}

/// The council's report facts of a generated plan, as the server's refresh computes
/// them from the stored rows.
fn report_facts(
    template: &PathwayTemplate,
    plan: &CarePlanRow,
    consent: &ConsentRow,
    rows: &[EntryRow],
    birth: NaiveDate,
    now: DateTime<Utc>,
) -> renkei_domain::council::ReportFactsRow {
    use renkei_domain::council::facts::{EntryMeta, PlanColumns, PlanRecord, report_facts_row};
    let entries: Vec<renkei_domain::facts::EntryFacts> = rows
        .iter()
        .filter_map(|r| {
            Some(renkei_domain::facts::EntryFacts {
                id: r.id,
                seq: r.seq,
                stage: r.stage.clone(),
                kind: EntryKind::parse(&r.kind)?,
                effective_at: r.effective_at,
                recorded_at: r.recorded_at,
                values: serde_json::from_str(&r.values_json).unwrap_or_default(),
                amends: r.amends,
            })
        })
        .collect();
    let meta: std::collections::HashMap<Uuid, EntryMeta> = rows
        .iter()
        .map(|r| {
            (
                r.id,
                EntryMeta {
                    organization: r.organization_id,
                    system: r.author_id == renkei_service::variances::SYSTEM_PRACTITIONER_ID,
                    variance: r
                        .variance
                        .as_deref()
                        .and_then(|v| serde_json::from_str(v).ok()),
                },
            )
        })
        .collect();
    report_facts_row(
        PlanColumns {
            care_plan_id: plan.id,
            region: plan.region.clone(),
            planner_organization_id: plan.planner_organization_id,
            statistics_consent: consent.withdrawn_at.is_none()
                && consent.purposes.contains("\"statistics\""),
            started_at: plan.started_at,
            status: plan.status.clone(),
            updated_at: plan.updated_at,
        },
        PlanRecord {
            template,
            entries: &entries,
            meta: &meta,
            handovers: &[],
            reports: &[],
            birth_date: Some(birth),
        },
        now,
    )
}

fn team_row(
    plan: Uuid,
    who: &Author,
    role: &str,
    stages: &[String],
    at: DateTime<Utc>,
) -> CareTeamRow {
    CareTeamRow {
        id: Uuid::now_v7(),
        care_plan_id: plan,
        // The plan's, set when the plan's rows go into the batch.
        region: String::new(),
        organization_id: who.organization,
        role: role.to_owned(),
        stages: serde_json::to_string(stages).unwrap_or_else(|_| "[]".into()),
        added_at: at,
        added_by: Some(who.practitioner),
    }
}

fn v(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

const WALK: [&str; 8] = [
    "indep_outdoor",
    "indep_indoor",
    "cane",
    "walker",
    "assisted",
    "wheelchair_self",
    "wheelchair_assisted",
    "bedridden",
];

/// FIM item scores around `level` (1–7), with spread: every item `fim_total` sums in
/// `template`.
fn fim(template: &PathwayTemplate, rng: &mut StdRng, level: f64) -> Map<String, Value> {
    template
        .scale_values(FIM_TOTAL, |_, _| {
            (level + rng.gen_range(-1.5..1.5)).round() as i64
        })
        .unwrap_or_default()
}

/// Barthel items at `level` 0–3 (0 dependent … 3 independent): for each item `barthel_total`
/// sums in `template`, the allowed value at that share of its scale.
fn barthel(template: &PathwayTemplate, rng: &mut StdRng, level: usize) -> Map<String, Value> {
    template
        .scale_values(BARTHEL_TOTAL, |_, item| {
            let l = (level as i64 + rng.gen_range(-1..=1)).clamp(0, 3);
            let allowed = item.allowed.as_deref().unwrap_or(&[]);
            let top = allowed.len().saturating_sub(1) as i64;
            let at = (l * top + 1) / 3;
            allowed.get(at as usize).copied().unwrap_or(0)
        })
        .unwrap_or_default()
}

fn dec1(x: f64) -> Value {
    json!((x * 10.0).round() / 10.0)
}

impl Generator {
    fn run(
        &mut self,
        spec: &DatasetSpec,
        entries_per_txn: usize,
        tx: &tokio::sync::mpsc::Sender<Batch>,
    ) -> anyhow::Result<(usize, usize, usize)> {
        // Interleave the pathways as they arrive in a real region.
        let mut kinds = Vec::with_capacity(spec.plans());
        kinds.extend(std::iter::repeat_n(Kind::Stroke, spec.stroke));
        kinds.extend(std::iter::repeat_n(Kind::Femur, spec.femur));
        kinds.extend(std::iter::repeat_n(Kind::Diabetes, spec.diabetes));
        use rand::seq::SliceRandom;
        kinds.shuffle(&mut self.rng);
        let mut batch = Batch::default();
        let (mut plans, mut entries) = (0, 0);
        for kind in kinds {
            let n = self.plan(kind, spec.years, &mut batch)?;
            plans += 1;
            entries += n;
            if batch.entries.len() >= entries_per_txn {
                tx.blocking_send(std::mem::take(&mut batch))
                    .map_err(|_| anyhow!("the writer stopped"))?;
            }
        }
        if !batch.plans.is_empty() {
            tx.blocking_send(batch)
                .map_err(|_| anyhow!("the writer stopped"))?;
        }
        Ok((plans, entries, self.patients))
    }

    fn pick<'a>(&mut self, v: &'a [Author]) -> &'a Author {
        &v[self.rng.gen_range(0..v.len())]
    }

    /// Queues one audit event for the batch: `writes` is the evidence of the rows it
    /// vouches for (see `renkei_service::evidence`), computed from the rows in hand.
    #[expect(clippy::too_many_arguments, reason = "an audit event has these fields")]
    fn audit(
        &mut self,
        batch: &mut Batch,
        who: &Author,
        action: &'static str,
        resource_type: &'static str,
        resource: Uuid,
        plan: Uuid,
        patient: Uuid,
        at: DateTime<Utc>,
        writes: &[Evidence],
    ) {
        let record = AuditRecord {
            practitioner_id: Some(who.practitioner),
            organization_id: Some(who.organization),
            action,
            resource_type,
            resource_id: Some(resource.to_string()),
            patient_id: Some(patient),
            care_plan_id: Some(plan),
            outcome: Outcome::Allowed,
            detail: None,
            region: self.region.clone(),
            writes: Vec::new(),
        };
        batch
            .audit
            .push(audit::prepare(at, &RequestMeta::default(), record, writes));
    }

    /// One patient and one plan of `kind`; returns the number of entries.
    fn plan(&mut self, kind: Kind, years: u32, batch: &mut Batch) -> anyhow::Result<usize> {
        let area = self.rng.gen_range(0..AREAS.len());
        let region = AREAS[area].to_owned();
        self.region.clone_from(&region);
        let staff = self.staff.clone();
        let s = &staff[area];
        let now = self.now;
        let span = Duration::days(365 * i64::from(years));
        let (published, start, planner) = match kind {
            Kind::Stroke => (
                self.templates.stroke.clone(),
                now - Duration::seconds(self.rng.gen_range(3600..span.num_seconds())),
                self.pick(&s.acute).clone(),
            ),
            Kind::Femur => (
                self.templates.femur.clone(),
                now - Duration::seconds(self.rng.gen_range(3600..span.num_seconds())),
                self.pick(&s.acute).clone(),
            ),
            // Diabetes plans run for the whole span (± a month).
            Kind::Diabetes => (
                self.templates.diabetes.clone(),
                now - span + Duration::seconds(self.rng.gen_range(-30 * 86400..30 * 86400)),
                self.pick(&s.acute).clone(),
            ),
        };
        let start = truncate_micros(start);
        self.patients += 1;
        let patient_id = Uuid::now_v7();
        let female = self.rng.gen_bool(0.5);
        let (family, fk) = FAMILY[self.rng.gen_range(0..FAMILY.len())];
        let (given, gk) = if female {
            GIVEN_F[self.rng.gen_range(0..GIVEN_F.len())]
        } else {
            GIVEN_M[self.rng.gen_range(0..GIVEN_M.len())]
        };
        let birth = NaiveDate::from_ymd_opt(
            self.rng.gen_range(1930..1975),
            self.rng.gen_range(1..=12),
            self.rng.gen_range(1..=28),
        )
        .context("birth date")?;
        let patient = PatientRow {
            id: patient_id,
            family_name: family.to_owned(),
            given_name: given.to_owned(),
            family_kana: fk.to_owned(),
            given_kana: gk.to_owned(),
            kana_key: format!("{fk}{gk}"),
            birth_date: birth,
            sex: if female { "female" } else { "male" }.to_owned(),
            created_at: start,
        };
        let identifier = PatientIdentifierRow {
            id: Uuid::now_v7(),
            patient_id,
            organization_id: planner.organization,
            value: format!("{}-{:07}", self.tag, self.patients),
        };
        let mut enrolled = vec![
            row_evidence::patient(&patient.stored()),
            row_evidence::patient_identifier(&identifier.stored()),
        ];
        batch.patients.push(patient);
        batch.identifiers.push(identifier);
        let template = &published.template;
        let mut sim = PlanSim {
            template,
            id: Uuid::now_v7(),
            state: PlanState {
                status: PlanStatus::Active,
                current_stage: template
                    .first_stage()
                    .map(|s| s.code.clone())
                    .unwrap_or_default(),
                stage_started: false,
                stage_ended: false,
                started_at: start,
            },
            seq: 0,
            head: String::new(),
            rows: Vec::new(),
            last_at: start,
            cutoff: now - Duration::minutes(1),
            rng: StdRng::seed_from_u64(self.rng.r#gen()),
            events: Vec::new(),
            stages: Vec::new(),
        };
        let _ = &planner.organization_code;
        match kind {
            Kind::Stroke => self.stroke(&mut sim, s, &planner, start)?,
            Kind::Femur => self.femur(&mut sim, s, &planner, start)?,
            Kind::Diabetes => self.diabetes(&mut sim, s, &planner, start)?,
        }
        let n = sim.rows.len();
        let plan_row = CarePlanRow {
            id: sim.id,
            patient_id,
            pathway_version_id: published.id,
            planner_organization_id: planner.organization,
            region: region.clone(),
            status: sim.state.status.as_str().to_owned(),
            current_stage: sim.state.current_stage.clone(),
            stage_started: sim.state.stage_started,
            stage_ended: sim.state.stage_ended,
            started_at: start,
            last_seq: sim.seq,
            head_hash: sim.head.clone(),
            row_version: 1 + sim.seq as i32,
            created_at: start,
            updated_at: sim.last_at,
        };
        let plan_evidence = row_evidence::care_plan(&plan_row.stored());
        batch.plans.push(plan_row);
        // The care team as enrolment and hand-overs leave it: the planner, then every
        // other organisation that wrote, owning the stages it wrote in.
        let planner_stages = template.planner_stages();
        let mut team = vec![team_row(
            sim.id,
            &planner,
            "planner",
            &planner_stages,
            start,
        )];
        let mut others: Vec<(Uuid, Author, Vec<String>)> = Vec::new();
        for ((_, at, author), row) in sim.events.iter().zip(sim.stages.iter()) {
            if author.organization == planner.organization {
                continue;
            }
            match others
                .iter_mut()
                .find(|(o, _, _)| *o == author.organization)
            {
                Some((_, _, stages)) => {
                    if !stages.contains(row) {
                        stages.push(row.clone());
                    }
                }
                None => others.push((author.organization, author.clone(), vec![row.clone()])),
            }
            let _ = at;
        }
        for (_, author, stages) in &others {
            team.push(team_row(sim.id, author, "stage_owner", stages, start));
        }
        let consent = ConsentRow {
            id: Uuid::now_v7(),
            care_plan_id: sim.id,
            region: region.clone(),
            scope: "care_team".into(),
            organizations: "[]".into(),
            // Nine plans in ten also consent to statistics (the council's reports
            // count those), chosen by number so the random sequence stays as it was.
            purposes: if self.patients.is_multiple_of(10) {
                "[\"care\"]".into()
            } else {
                "[\"care\",\"statistics\"]".into()
            },
            method: "paper".into(),
            signer: "self".into(),
            proxy_relationship: None,
            obtained_by_organization_id: planner.organization,
            obtained_by: planner.practitioner,
            obtained_at: start,
            recorded_at: start,
            withdrawn_at: None,
            withdrawal_reason: None,
            row_version: 1,
        };
        // The enrolment event vouches for the patient, team and consent; the plan's
        // final state (its chain head) goes with its last event.
        enrolled.push(row_evidence::consent(&consent.stored()));
        batch.consents.push(consent);
        for mut m in team {
            m.region.clone_from(&region);
            enrolled.push(row_evidence::care_team_member(&m.stored()));
            batch.team.push(m);
        }
        let events = std::mem::take(&mut sim.events);
        if events.is_empty() {
            enrolled.push(plan_evidence.clone());
        }
        self.audit(
            batch,
            &planner,
            "care_plan.enrol",
            "care_plan",
            sim.id,
            sim.id,
            patient_id,
            start,
            &enrolled,
        );
        let last = events.len().saturating_sub(1);
        for (i, (entry, at, author)) in events.iter().enumerate() {
            self.audit(
                batch,
                author,
                "entry.append",
                "entry",
                *entry,
                sim.id,
                patient_id,
                *at,
                if i == last {
                    std::slice::from_ref(&plan_evidence)
                } else {
                    &[]
                },
            );
        }
        for e in &mut sim.rows {
            e.region.clone_from(&region);
        }
        batch.report_facts.push(report_facts(
            template,
            &batch.plans[batch.plans.len() - 1],
            &batch.consents[batch.consents.len() - 1],
            &sim.rows,
            birth,
            now,
        ));
        batch.entries.append(&mut sim.rows);
        Ok(n)
    }

    fn stroke(
        &mut self,
        sim: &mut PlanSim<'_>,
        s: &AreaStaff,
        acute: &Author,
        onset: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let r = &mut self.rng;
        let mut nihss: i64 = r.gen_range(1..=24);
        let severity = nihss as f64 / 24.0; // 0 mild … 1 severe
        let t0 = onset + Duration::hours(2);
        sim.add(
            acute,
            "acute",
            EntryKind::StageStart,
            t0,
            v(&[
                ("onset_at", json!(onset.to_rfc3339())),
                ("nihss_total", json!(nihss)),
                ("mrs_premorbid", json!(r.gen_range(0..=2))),
                ("gcs_total", json!(r.gen_range(9..=15))),
            ]),
            Some("救急搬送。頭部MRIで脳梗塞と診断し入院。"),
            None,
        )?;
        let acute_days = r.gen_range(10..=24);
        let mut t = t0;
        for d in (1..acute_days).step_by(2) {
            t = t0 + Duration::days(d) + Duration::minutes(r.gen_range(0..600));
            nihss = (nihss - r.gen_range(0..=2)).max(0);
            let mut vals = v(&[
                ("nihss_total", json!(nihss)),
                ("bp_sys", json!(r.gen_range(120..170))),
                ("bp_dia", json!(r.gen_range(65..100))),
            ]);
            if d == 7 || d == 8 {
                vals.extend(fim(sim.template, r, 5.5 - 3.5 * severity));
                vals.extend(barthel(sim.template, r, (3.0 - 3.0 * severity) as usize));
            }
            sim.add(acute, "acute", EntryKind::Assessment, t, vals, None, None)?;
        }
        if r.gen_bool(0.3) {
            sim.add(
                acute,
                "acute",
                EntryKind::Note,
                t + Duration::hours(3),
                Map::new(),
                Some("嚥下評価後に食事開始。リハビリテーション開始。"),
                None,
            )?;
        }
        if r.gen_bool(0.2) {
            sim.add(
                acute,
                "acute",
                EntryKind::Variance,
                t + Duration::hours(5),
                Map::new(),
                Some("回復期病棟の空床待ち"),
                Some("NEG.VAR.CO.RECEIVE"),
            )?;
        }
        let mrs = (1.0 + 4.0 * severity + r.gen_range(-1.0..1.0))
            .round()
            .clamp(0.0, 5.0) as i64;
        let end = t0 + Duration::days(acute_days);
        sim.add(
            acute,
            "acute",
            EntryKind::StageEnd,
            end,
            v(&[
                ("mrs", json!(mrs)),
                ("walk_cat", json!(WALK[(mrs as usize).min(7)])),
            ]),
            Some("回復期リハビリテーション病院へ転院"),
            None,
        )?;
        if mrs <= 1 && r.gen_bool(0.6) {
            return Ok(()); // discharged home directly; the plan stays open at acute end
        }
        let rec = self.pick(&s.recovery).clone();
        let r = &mut self.rng;
        let rs = end + Duration::days(r.gen_range(0..3));
        let mut level = 5.0 - 3.0 * severity;
        let mut vals = fim(sim.template, r, level);
        vals.insert(
            "walk_cat".into(),
            json!(WALK[(4.0 + 3.0 * severity) as usize % 8]),
        );
        sim.add(
            &rec,
            "recovery",
            EntryKind::StageStart,
            rs,
            vals,
            Some("回復期リハ病棟に入院"),
            None,
        )?;
        let rec_days = r.gen_range(45..=150);
        for w in 1..rec_days / 7 {
            let at = rs + Duration::days(7 * w) + Duration::minutes(r.gen_range(0..480));
            let mut vals = v(&[
                ("pain_nrs", json!(r.gen_range(0..5))),
                ("bp_sys", json!(r.gen_range(110..150))),
            ]);
            if w % 4 == 0 {
                level = (level + 0.5).min(7.0);
                vals.extend(fim(sim.template, r, level));
            }
            sim.add(
                &rec,
                "recovery",
                EntryKind::Assessment,
                at,
                vals,
                None,
                None,
            )?;
        }
        let re = rs + Duration::days(rec_days);
        let dest = if r.gen_bool(0.75) {
            "home"
        } else {
            ["residential", "roken", "tokuyo", "other_hospital"][r.gen_range(0..4)]
        };
        let mut vals = fim(sim.template, r, level + 0.5);
        vals.extend(barthel(sim.template, r, (level / 2.4) as usize));
        vals.insert("destination".into(), json!(dest));
        vals.insert("mrs".into(), json!((mrs - 1).max(0)));
        sim.add(&rec, "recovery", EntryKind::StageEnd, re, vals, None, None)?;
        if dest != "home" {
            return Ok(());
        }
        let home = self.pick(&s.home).clone();
        let clinic = self.pick(&s.clinic).clone();
        let r = &mut self.rng;
        let hs = re + Duration::days(r.gen_range(1..7));
        sim.add(
            &home,
            "home",
            EntryKind::StageStart,
            hs,
            v(&[
                ("mrs", json!((mrs - 1).max(0))),
                ("walk_cat", json!("cane")),
            ]),
            Some("自宅退院。訪問看護開始。"),
            None,
        )?;
        for m in 1..=6 {
            let at = hs + Duration::days(30 * m) + Duration::minutes(r.gen_range(0..600));
            let who = if m % 2 == 0 { &clinic } else { &home };
            sim.add(
                who,
                "home",
                EntryKind::Assessment,
                at,
                v(&[
                    ("bp_sys", json!(r.gen_range(110..145))),
                    ("bp_dia", json!(r.gen_range(60..90))),
                    ("mrs", json!((mrs - 1).max(0))),
                    ("recurrence", json!(r.gen_bool(0.02))),
                ]),
                None,
                None,
            )?;
        }
        sim.add(
            &clinic,
            "home",
            EntryKind::StageEnd,
            hs + Duration::days(190),
            v(&[("mrs", json!((mrs - 1).max(0)))]),
            Some("連携パス終了"),
            None,
        )?;
        Ok(())
    }

    fn femur(
        &mut self,
        sim: &mut PlanSim<'_>,
        s: &AreaStaff,
        acute: &Author,
        arrival: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let r = &mut self.rng;
        let pre = r.gen_range(0..4usize);
        sim.add(
            acute,
            "acute",
            EntryKind::StageStart,
            arrival,
            v(&[
                ("arrival_at", json!(arrival.to_rfc3339())),
                (
                    "injury_date",
                    json!(
                        (arrival - Duration::hours(r.gen_range(1..30)))
                            .date_naive()
                            .to_string()
                    ),
                ),
                (
                    "fracture_type",
                    json!(if r.gen_bool(0.5) {
                        "neck"
                    } else {
                        "trochanteric"
                    }),
                ),
                ("walk_cat_preinjury", json!(WALK[pre])),
                ("barthel_preinjury_total", json!(100 - 15 * pre as i64)),
            ]),
            Some("自宅で転倒し救急搬送"),
            None,
        )?;
        let surgery = arrival + Duration::hours(r.gen_range(12..72));
        sim.add(
            acute,
            "acute",
            EntryKind::Assessment,
            surgery,
            v(&[("surgery_at", json!(surgery.to_rfc3339()))]),
            Some("観血的整復固定術"),
            None,
        )?;
        if surgery - arrival > Duration::hours(48) {
            sim.add(
                acute,
                "acute",
                EntryKind::Variance,
                surgery + Duration::hours(1),
                Map::new(),
                Some("手術枠の都合で手術待ち"),
                Some("NEG.VAR.SY.SCHED"),
            )?;
        }
        let loading = surgery + Duration::hours(r.gen_range(24..60));
        sim.add(
            acute,
            "acute",
            EntryKind::Assessment,
            loading,
            v(&[
                ("loading_started_at", json!(loading.to_rfc3339())),
                ("pain_nrs", json!(r.gen_range(3..8))),
            ]),
            None,
            None,
        )?;
        let acute_days = r.gen_range(12..=21);
        for d in (4..acute_days).step_by(2) {
            sim.add(
                acute,
                "acute",
                EntryKind::Assessment,
                arrival + Duration::days(d),
                v(&[
                    ("pain_nrs", json!(r.gen_range(1..6))),
                    ("fall", json!(false)),
                ]),
                None,
                None,
            )?;
        }
        let end = arrival + Duration::days(acute_days);
        let mut vals = barthel(sim.template, r, 1);
        vals.insert("walk_cat".into(), json!(WALK[(pre + 2).min(7)]));
        vals.insert(
            "osteoporosis_tx".into(),
            json!(if r.gen_bool(0.6) { "active" } else { "none" }),
        );
        sim.add(acute, "acute", EntryKind::StageEnd, end, vals, None, None)?;
        let rec = self.pick(&s.recovery).clone();
        let r = &mut self.rng;
        let rs = end + Duration::days(r.gen_range(0..2));
        sim.add(
            &rec,
            "recovery",
            EntryKind::StageStart,
            rs,
            barthel(sim.template, r, 1),
            None,
            None,
        )?;
        let rec_days = r.gen_range(40..=90);
        for w in 1..rec_days / 7 {
            let mut vals = v(&[
                ("pain_nrs", json!(r.gen_range(0..4))),
                ("walk_cat", json!(WALK[(pre + 1).min(7)])),
            ]);
            if w % 4 == 0 {
                vals.extend(fim(sim.template, r, 5.0));
            }
            sim.add(
                &rec,
                "recovery",
                EntryKind::Assessment,
                rs + Duration::days(7 * w),
                vals,
                None,
                None,
            )?;
        }
        let re = rs + Duration::days(rec_days);
        let dest = if r.gen_bool(0.7) {
            "home"
        } else {
            "residential"
        };
        let mut vals = barthel(sim.template, r, 2);
        vals.insert("destination".into(), json!(dest));
        vals.insert("walk_cat".into(), json!(WALK[(pre + 1).min(7)]));
        sim.add(&rec, "recovery", EntryKind::StageEnd, re, vals, None, None)?;
        if dest != "home" {
            return Ok(());
        }
        let clinic = self.pick(&s.clinic).clone();
        let r = &mut self.rng;
        let hs = re + Duration::days(r.gen_range(1..7));
        sim.add(
            &clinic,
            "home",
            EntryKind::StageStart,
            hs,
            v(&[("walk_cat", json!(WALK[(pre + 1).min(7)]))]),
            None,
            None,
        )?;
        for m in 1..=4 {
            sim.add(
                &clinic,
                "home",
                EntryKind::Assessment,
                hs + Duration::days(45 * m),
                v(&[
                    ("fall", json!(r.gen_bool(0.1))),
                    ("refracture", json!(r.gen_bool(0.02))),
                    ("osteoporosis_tx", json!("active")),
                ]),
                None,
                None,
            )?;
        }
        sim.add(
            &clinic,
            "home",
            EntryKind::StageEnd,
            hs + Duration::days(200),
            Map::new(),
            Some("連携パス終了"),
            None,
        )?;
        Ok(())
    }

    fn diabetes(
        &mut self,
        sim: &mut PlanSim<'_>,
        s: &AreaStaff,
        specialist: &Author,
        start: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let clinic = self.pick(&s.clinic).clone();
        let r = &mut self.rng;
        let mut a1c: f64 = r.gen_range(6.8..10.5);
        let mut weight: f64 = r.gen_range(50.0..95.0);
        let target = r.gen_range(6.4..7.4);
        sim.add(
            specialist,
            "intro",
            EntryKind::StageStart,
            start,
            v(&[
                ("hba1c", dec1(a1c)),
                ("bp_sys", json!(r.gen_range(120..160))),
                ("bp_dia", json!(r.gen_range(70..95))),
                ("weight", dec1(weight)),
                ("ldl", json!(r.gen_range(90..180))),
                ("egfr", dec1(r.gen_range(40.0..100.0))),
                ("uacr", dec1(r.gen_range(5.0..300.0))),
                (
                    "smoking",
                    json!(["never", "former", "current"][r.gen_range(0..3)]),
                ),
            ]),
            Some("教育入院。個別目標を設定"),
            None,
        )?;
        sim.add(
            specialist,
            "intro",
            EntryKind::StageEnd,
            start + Duration::days(r.gen_range(7..21)),
            v(&[
                ("eye_exam_done", json!(true)),
                ("retinopathy_l", json!("ndr")),
                ("retinopathy_r", json!("ndr")),
                ("foot_exam_done", json!(true)),
            ]),
            None,
            None,
        )?;
        let mut t = sim.last_at + Duration::days(r.gen_range(7..30));
        sim.add(
            &clinic,
            "clinic",
            EntryKind::StageStart,
            t,
            v(&[("hba1c", dec1(a1c))]),
            None,
            None,
        )?;
        let mut month = 0;
        while t < sim.cutoff {
            month += 1;
            t += Duration::days(r.gen_range(26..38));
            a1c = (a1c + (target - a1c) * 0.15 + r.gen_range(-0.3..0.3)).clamp(5.0, 13.0);
            weight += r.gen_range(-0.8..0.7);
            let mut vals = v(&[
                ("hba1c", dec1(a1c)),
                ("bp_sys", json!(r.gen_range(112..150))),
                ("bp_dia", json!(r.gen_range(64..92))),
                ("weight", dec1(weight.clamp(35.0, 150.0))),
                ("severe_hypo", json!(if r.gen_bool(0.01) { 1 } else { 0 })),
            ]);
            if r.gen_bool(0.6) {
                vals.insert("fpg".into(), json!(r.gen_range(90..200)));
            }
            if !sim.add(
                &clinic,
                "clinic",
                EntryKind::Assessment,
                t,
                vals,
                None,
                None,
            )? {
                break;
            }
            if month % 6 == 3 {
                // Lab panel, a separate result entry a few days later.
                sim.add(
                    &clinic,
                    "clinic",
                    EntryKind::Assessment,
                    t + Duration::days(3),
                    v(&[
                        ("ldl", json!(r.gen_range(70..160))),
                        ("hdl", json!(r.gen_range(35..80))),
                        ("tg", json!(r.gen_range(60..250))),
                        ("cre", dec1(r.gen_range(0.5..1.6))),
                        ("egfr", dec1(r.gen_range(35.0..100.0))),
                        ("uacr", dec1(r.gen_range(5.0..300.0))),
                    ]),
                    None,
                    None,
                )?;
            }
            if month % 12 == 5 {
                sim.add(
                    &clinic,
                    "clinic",
                    EntryKind::Assessment,
                    t + Duration::days(10),
                    v(&[
                        ("eye_exam_done", json!(true)),
                        (
                            "retinopathy_l",
                            json!(if r.gen_bool(0.85) { "ndr" } else { "sdr" }),
                        ),
                        ("retinopathy_r", json!("ndr")),
                    ]),
                    Some("眼科より報告"),
                    None,
                )?;
                sim.add(
                    &clinic,
                    "clinic",
                    EntryKind::Assessment,
                    t + Duration::days(14),
                    v(&[
                        ("dental_exam_done", json!(true)),
                        ("periodontitis", json!(r.gen_bool(0.4))),
                    ]),
                    None,
                    None,
                )?;
            }
            if r.gen_bool(0.08) {
                let code = [
                    "NEG.VAR.PT.WISH",
                    "NEG.VAR.PT.CONDITION",
                    "NEG.VAR.ST.REPORT",
                ][r.gen_range(0..3)];
                sim.add(
                    &clinic,
                    "clinic",
                    EntryKind::Variance,
                    t + Duration::hours(2),
                    Map::new(),
                    None,
                    Some(code),
                )?;
            }
            if r.gen_bool(0.3) {
                sim.add(
                    &clinic,
                    "clinic",
                    EntryKind::Note,
                    t + Duration::hours(1),
                    Map::new(),
                    Some("食事療法・運動療法を継続。服薬アドヒアランス良好。"),
                    None,
                )?;
            }
            if month % 6 == 0 {
                // The six-monthly specialist review: out of the clinic and back.
                let at = t + Duration::days(5);
                sim.add(
                    &clinic,
                    "clinic",
                    EntryKind::StageEnd,
                    at,
                    Map::new(),
                    Some("専門医療機関へ定期紹介"),
                    None,
                )?;
                sim.add(
                    specialist,
                    "specialist",
                    EntryKind::StageStart,
                    at + Duration::days(7),
                    v(&[("hba1c", dec1(a1c))]),
                    None,
                    None,
                )?;
                sim.add(
                    specialist,
                    "specialist",
                    EntryKind::Assessment,
                    at + Duration::days(7) + Duration::hours(2),
                    v(&[
                        ("foot_exam_done", json!(true)),
                        ("foot_lesion", json!(r.gen_bool(0.05))),
                        ("abi_l", dec1(r.gen_range(0.9..1.3))),
                        ("abi_r", dec1(r.gen_range(0.9..1.3))),
                    ]),
                    None,
                    None,
                )?;
                sim.add(
                    specialist,
                    "specialist",
                    EntryKind::StageEnd,
                    at + Duration::days(8),
                    Map::new(),
                    Some("かかりつけ医へ逆紹介"),
                    None,
                )?;
                t = at + Duration::days(14);
                if !sim.add(
                    &clinic,
                    "clinic",
                    EntryKind::StageStart,
                    t,
                    v(&[("hba1c", dec1(a1c))]),
                    None,
                    None,
                )? {
                    break;
                }
            }
        }
        Ok(())
    }
}

const FAMILY: [(&str, &str); 12] = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
];
const GIVEN_M: [(&str, &str); 6] = [
    ("太郎", "タロウ"),
    ("一郎", "イチロウ"),
    ("誠", "マコト"),
    ("茂", "シゲル"),
    ("正男", "マサオ"),
    ("健", "ケン"),
];
const GIVEN_F: [(&str, &str); 6] = [
    ("花子", "ハナコ"),
    ("京子", "キョウコ"),
    ("ヨシ", "ヨシ"),
    ("和子", "カズコ"),
    ("幸子", "サチコ"),
    ("恵子", "ケイコ"),
];
