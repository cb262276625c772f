//! FHIR Bulk Data `$export` of the actor's region for the regional administrator: an
//! asynchronous job (kick-off, status polling, one ndjson file per resource type) over
//! the plans whose active consent includes `statistics`, pseudonymised. The kick-off, each
//! status read and each file download are audit events (`fhir.export`,
//! `fhir.export.status`, `fhir.export.download`); a refusal is audited as denied.
//!
//! Jobs live in the server's memory: a restart forgets them (the client starts again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, Utc};
use renkei_domain::access::GlobalAction;
use renkei_domain::corrections::current_view;
use renkei_domain::goals::evaluate_goals;
use renkei_fhir::export::{EXPORT_TYPES, ExportGoal, ExportPlan, ExportValue, export_plan};
use renkei_store::queries;
use renkei_store::queries_access;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::plan_facts::plan_facts;
use crate::{Actor, ServiceError, Services};

/// One ndjson file of a finished export.
#[derive(Debug, Clone)]
pub struct ExportFile {
    pub resource_type: &'static str,
    pub ndjson: String,
    pub count: usize,
}

/// Where an export job stands.
#[derive(Debug, Clone)]
pub enum ExportState {
    Running,
    Done {
        transaction_time: DateTime<Utc>,
        files: Vec<ExportFile>,
    },
    Failed(String),
}

#[derive(Debug, Clone)]
struct Job {
    owner: Uuid,
    region: String,
    request: String,
    state: ExportState,
}

/// The export jobs of this server.
#[derive(Debug, Default)]
pub struct ExportJobs {
    jobs: Mutex<HashMap<Uuid, Job>>,
}

impl ExportJobs {
    fn insert(&self, id: Uuid, job: Job) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.insert(id, job);
        }
    }

    fn finish(&self, id: Uuid, state: ExportState) {
        if let Ok(mut jobs) = self.jobs.lock()
            && let Some(job) = jobs.get_mut(&id)
        {
            job.state = state;
        }
    }

    fn get(&self, id: Uuid) -> Option<Job> {
        self.jobs.lock().ok()?.get(&id).cloned()
    }
}

/// What the status URL answers.
#[derive(Debug, Clone)]
pub struct ExportStatus {
    /// The kick-off request's URL (the manifest's `request`).
    pub request: String,
    pub state: ExportState,
}

/// A stable pseudonym of `id` within `region`: the same on every export of this server,
/// keyed with the server's secret key when it has one.
fn pseudonym(services: &Services, region: &str, kind: &str, id: Uuid) -> String {
    let mut h = Sha256::new();
    h.update(b"renkei-export-pseudonym\0");
    if let Some(key) = &services.security.secret_key {
        h.update(key.derive(b"fhir-export"));
    }
    h.update(region.as_bytes());
    h.update([0]);
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(id.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// A plan's care-plan status in FHIR words.
fn care_plan_status(status: &str) -> &'static str {
    match status {
        "active" => "active",
        "completed" => "completed",
        "withdrawn" | "revoked" => "revoked",
        _ => "unknown",
    }
}

fn consents_statistics(purposes: &str) -> bool {
    serde_json::from_str::<Vec<String>>(purposes)
        .map(|p| p.iter().any(|p| p == "statistics"))
        .unwrap_or(false)
}

impl Services {
    /// Starts an export of the actor's region (`types`: the resource types wanted, all
    /// when empty). Only the regional administrator may; the job's id comes back.
    pub async fn start_fhir_export(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        request: &str,
        types: Vec<String>,
    ) -> Result<Uuid, ServiceError> {
        self.authorize_global(
            actor,
            meta,
            GlobalAction::ReadAudit,
            "fhir.export",
            "export",
        )
        .await?;
        for t in &types {
            if !EXPORT_TYPES.contains(&t.as_str()) {
                return Err(ServiceError::field(
                    "_type",
                    renkei_domain::Rule::Allowed,
                    format!("must be among {}", EXPORT_TYPES.join(", ")),
                ));
            }
        }
        let id = Uuid::now_v7();
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                "fhir.export",
                "export",
                Some(id.to_string()),
                Outcome::Allowed,
            )
            .detail(format!(
                "Bulk Data $export of region {} ({})",
                actor.region,
                if types.is_empty() {
                    EXPORT_TYPES.join(",")
                } else {
                    types.join(",")
                }
            )),
        )
        .await?;
        self.exports.insert(
            id,
            Job {
                owner: actor.practitioner_id,
                region: actor.region.clone(),
                request: request.to_owned(),
                state: ExportState::Running,
            },
        );
        let services = self.clone();
        let region = actor.region.clone();
        tokio::spawn(async move {
            let state = match services.build_export(&region, &types).await {
                Ok((transaction_time, files)) => ExportState::Done {
                    transaction_time,
                    files,
                },
                Err(e) => ExportState::Failed(e.to_string()),
            };
            services.exports.finish(id, state);
        });
        Ok(id)
    }

    /// The job `id` of the actor (404 for anyone else's or an unknown one).
    fn export_job(&self, actor: &Actor, id: Uuid) -> Result<Job, ServiceError> {
        self.exports
            .get(id)
            .filter(|j| j.owner == actor.practitioner_id && j.region == actor.region)
            .ok_or(ServiceError::NotFound("export"))
    }

    /// Where the export `id` stands (the regional administrator who started it only).
    pub async fn fhir_export_status(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<ExportStatus, ServiceError> {
        self.authorize_global(
            actor,
            meta,
            GlobalAction::ReadAudit,
            "fhir.export.status",
            "export",
        )
        .await?;
        let job = self.export_job(actor, id)?;
        Ok(ExportStatus {
            request: job.request,
            state: job.state,
        })
    }

    /// One ndjson file of the finished export `id`; audited.
    pub async fn fhir_export_file(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
        resource_type: &str,
    ) -> Result<ExportFile, ServiceError> {
        self.authorize_global(
            actor,
            meta,
            GlobalAction::ReadAudit,
            "fhir.export.download",
            "export",
        )
        .await?;
        let job = self.export_job(actor, id)?;
        let ExportState::Done { files, .. } = job.state else {
            return Err(ServiceError::NotFound("export file"));
        };
        let file = files
            .into_iter()
            .find(|f| f.resource_type == resource_type)
            .ok_or(ServiceError::NotFound("export file"))?;
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                "fhir.export.download",
                "export",
                Some(id.to_string()),
                Outcome::Allowed,
            )
            .detail(format!("{resource_type}.ndjson, {} resources", file.count)),
        )
        .await?;
        Ok(file)
    }

    /// Builds the files of an export of `region`.
    async fn build_export(
        &self,
        region: &str,
        types: &[String],
    ) -> Result<(DateTime<Utc>, Vec<ExportFile>), ServiceError> {
        let now = self.now();
        let plans: Vec<_> = queries::all_care_plans(&self.read_db)
            .await?
            .into_iter()
            .filter(|p| p.region == region)
            .collect();
        let ids: Vec<Uuid> = plans.iter().map(|p| p.id).collect();
        let consents = queries_access::consents_of_plans(&self.read_db, &ids).await?;
        let mut out: HashMap<&'static str, (String, usize)> = HashMap::new();
        for plan in plans {
            let consented = consents.iter().any(|c| {
                c.care_plan_id == plan.id
                    && c.withdrawn_at.is_none()
                    && consents_statistics(&c.purposes)
            });
            if !consented {
                continue;
            }
            let Some(patient) = queries::patient_by_id(&self.read_db, plan.patient_id).await?
            else {
                continue;
            };
            let template = self.pathway_of_plan(&plan)?.template.clone();
            let rows = queries::entries_of(&self.read_db, plan.id).await?;
            let pf = plan_facts(&rows);
            let individual = pf.individual_template(&template, now);
            let ctx = crate::goal_context::goal_context(
                &self.read_db,
                &individual,
                plan.patient_id,
                plan.started_at,
                now,
                now,
            )
            .await?;
            let goals = evaluate_goals(&individual, &ctx, &pf.facts);
            let view = current_view(&pf.facts, now, now);
            let mut values = Vec::new();
            for e in view {
                let entry = pseudonym(self, region, "entry", e.id);
                for (item, value) in &e.values {
                    values.push(ExportValue {
                        entry: entry.clone(),
                        item: item.clone(),
                        value: value.clone(),
                        effective_at: e.effective_at,
                        stage: e.stage.clone(),
                    });
                }
            }
            let ended_at = (plan.status != "active").then_some(plan.updated_at);
            let export = ExportPlan {
                patient: pseudonym(self, region, "patient", patient.id),
                plan: pseudonym(self, region, "plan", plan.id),
                birth_year: patient.birth_date.year(),
                gender: patient.sex.clone(),
                status: care_plan_status(&plan.status).to_owned(),
                started_at: plan.started_at,
                ended_at,
                current_stage: plan.current_stage.clone(),
                goals: goals
                    .iter()
                    .map(|g| ExportGoal {
                        code: g.code.clone(),
                        title_ja: g.title.ja.clone(),
                        status: g.status.as_str().to_owned(),
                    })
                    .collect(),
                values,
                template: &individual,
            };
            for (kind, resources) in export_plan(&export) {
                if !types.is_empty() && !types.iter().any(|t| t == kind) {
                    continue;
                }
                let file = out.entry(kind).or_default();
                for r in resources {
                    file.0
                        .push_str(&serde_json::to_string(&r).unwrap_or_default());
                    file.0.push('\n');
                    file.1 += 1;
                }
            }
        }
        let files = EXPORT_TYPES
            .iter()
            .filter_map(|k| {
                out.remove(k).map(|(ndjson, count)| ExportFile {
                    resource_type: k,
                    ndjson,
                    count,
                })
            })
            .collect();
        Ok((now, files))
    }
}

/// Keeps the job list shared by every clone of [`Services`].
pub fn new_jobs() -> Arc<ExportJobs> {
    Arc::new(ExportJobs::default())
}
