//! Observation reads and searches: a plan's entries read as the JSON API's entry list
//! reads them (same access rule, same `entry.list` audit event with the FHIR type in its
//! detail), each recorded value an Observation; and what the plan-bound types share —
//! the readable plans of a patient, the entries of a plan with their corrections.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use renkei_domain::access::Action;
use renkei_fhir::observation::{self as obs, Correction, EntryInput};
use renkei_fhir::search::SearchParams;
use renkei_store::queries::{self, CarePlanRow};
use serde_json::Value;
use uuid::Uuid;

use crate::audit::{AuditRecord, Outcome, RequestMeta};
use crate::fhir::hits::{Hit, Page, fhir_detail, page, patient_param};
use crate::pathways::PublishedPathway;
use crate::{Actor, ServiceError, Services};

/// A plan's entries as the FHIR mappers read them.
pub struct PlanEntries {
    pub plan: CarePlanRow,
    pub template: Arc<PublishedPathway>,
    pub entries: Vec<EntryInput>,
}

impl Services {
    /// Records an allowed read of a plan's data by the FHIR interface: the JSON API's
    /// `action`, the FHIR type in the detail.
    pub(crate) async fn audit_fhir_read(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        action: &'static str,
        plan: &CarePlanRow,
        kind: &str,
    ) -> Result<(), ServiceError> {
        super::audit_fhir_read(self, actor, meta, action, plan, kind).await
    }

    /// Loads a plan and checks the actor may read it (a refusal audited, and answered
    /// as a missing `what`).
    pub(crate) async fn fhir_plan_read(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        what: &'static str,
    ) -> Result<CarePlanRow, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await
            .map_err(crate::access::not_found_as(what))?;
        Ok(plan)
    }

    /// The plans a search reads: the patient's when `patient` is given (none for an
    /// unknown or invisible patient: a search answers an empty Bundle either way), else
    /// those on whose care team the actor's organisation is; only those the actor may
    /// read. Each plan read is audited as `action` with the FHIR type in the detail.
    pub(crate) async fn fhir_readable_plans(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        params: &SearchParams,
        action: &'static str,
        kind: &str,
    ) -> Result<Vec<CarePlanRow>, ServiceError> {
        let all = match (&params.patient, patient_param(params)) {
            (Some(_), Some(p)) => queries::care_plans_of_patient(&self.db, p).await?,
            (Some(_), None) => Vec::new(),
            (None, _) => {
                let ids = renkei_store::queries_access::plans_of_team_org(
                    &self.db,
                    actor.organization_id,
                )
                .await?;
                queries::care_plans_by_ids(&self.db, &ids).await?
            }
        };
        let visible = self.visible_plans(&self.db, actor, all).await?;
        super::audit_fhir_reads(self, actor, meta, visible.iter().map(|p| (action, p, kind)))
            .await?;
        Ok(visible)
    }

    /// The template a plan is pinned to.
    pub(crate) fn plan_template(
        &self,
        plan: &CarePlanRow,
    ) -> Result<Arc<PublishedPathway>, ServiceError> {
        self.pathways
            .for_plan(plan.pathway_version_id, plan.variant.as_deref())
            .cloned()
            .ok_or_else(|| {
                ServiceError::Internal(anyhow::anyhow!(
                    "plan {} is pinned to an unknown template version",
                    plan.id
                ))
            })
    }

    /// A plan's entries with their authors, organisations and corrections.
    pub(crate) async fn fhir_plan_entries(
        &self,
        plan: CarePlanRow,
    ) -> Result<PlanEntries, ServiceError> {
        let template = self.plan_template(&plan)?;
        let rows = queries::entries_of_plan_in(&self.db, plan.id, &plan.region).await?;
        let amended_by: HashMap<Uuid, Uuid> = rows
            .iter()
            .filter_map(|r| r.amends.map(|a| (a, r.id)))
            .collect();
        let voided = crate::corrections::voided_by(&rows);
        let recorded: HashMap<Uuid, DateTime<Utc>> =
            rows.iter().map(|r| (r.id, r.recorded_at)).collect();
        let views = self.to_entries(&self.db, rows, &amended_by).await?;
        let at = |id: &Uuid| recorded.get(id).copied().unwrap_or_default();
        let entries = views
            .into_iter()
            .map(|e| {
                let correction = match (voided.get(&e.id), e.amended_by) {
                    (Some(v), _) => Correction::Voided {
                        by: v.to_string(),
                        at: at(v),
                    },
                    (None, Some(by)) => Correction::Superseded {
                        by: by.to_string(),
                        at: at(&by),
                    },
                    (None, None) => Correction::None,
                };
                EntryInput {
                    id: e.id.to_string(),
                    plan_id: plan.id.to_string(),
                    patient_id: plan.patient_id.to_string(),
                    stage: e.stage,
                    kind: e.kind,
                    effective_at: e.effective_at,
                    recorded_at: e.recorded_at,
                    author_id: e.author.id.to_string(),
                    author_name: e.author.name,
                    organization_id: e.organization.id.to_string(),
                    organization_name: e.organization.name,
                    values: e.values,
                    amends: e.amends.map(|a| a.to_string()),
                    reason: e.reason,
                    hash: e.hash,
                    correction,
                }
            })
            .collect();
        Ok(PlanEntries {
            plan,
            template,
            entries,
        })
    }

    /// `GET Observation/{id}`.
    pub async fn fhir_observation(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: &str,
    ) -> Result<Value, ServiceError> {
        const MISSING: &str = "observation";
        let (entry_id, item) =
            obs::parse_observation_id(id).ok_or(ServiceError::NotFound(MISSING))?;
        let entry_id = Uuid::parse_str(&entry_id).map_err(|_| ServiceError::NotFound(MISSING))?;
        let row = queries::entry_by_id(&self.db, entry_id)
            .await?
            .ok_or(ServiceError::NotFound(MISSING))?;
        let plan = self
            .fhir_plan_read(actor, meta, row.care_plan_id, MISSING)
            .await?;
        self.audit_fhir_read(actor, meta, "entry.list", &plan, "Observation")
            .await?;
        let pe = self.fhir_plan_entries(plan).await?;
        let template = &pe.template.template;
        pe.entries
            .iter()
            .find(|e| e.id == row.id.to_string())
            .and_then(|e| {
                template
                    .item(&item)
                    .and_then(|i| obs::observation(template, e, i))
            })
            .ok_or(ServiceError::NotFound(MISSING))
    }

    /// `GET Observation[?patient=…]`: the values of the plans the search reads.
    pub async fn fhir_observations(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        params: &SearchParams,
    ) -> Result<Page, ServiceError> {
        let mut hits = Vec::new();
        for plan in self
            .fhir_readable_plans(actor, meta, params, "entry.list", "Observation")
            .await?
        {
            let pe = self.fhir_plan_entries(plan).await?;
            for e in &pe.entries {
                hits.extend(
                    obs::observations(&pe.template.template, e)
                        .into_iter()
                        .filter_map(Hit::of),
                );
            }
        }
        let mut out = page(hits, params);
        if params.include.iter().any(|i| i == "Observation:patient") {
            let mut patients: Vec<Uuid> = out
                .matches
                .iter()
                .filter_map(|o| o["subject"]["reference"].as_str()?.strip_prefix("Patient/"))
                .filter_map(|p| Uuid::parse_str(p).ok())
                .collect();
            patients.sort();
            patients.dedup();
            for p in patients {
                out.included
                    .push(self.fhir_patient_resource(actor, meta, p).await?);
            }
        }
        Ok(out)
    }
}

/// The reads `CarePlan/{id}/$everything` makes of a plan, audited as the JSON API's
/// (`care_plan.read`, `goal.read`, `care_team.read`, `patient.read`, `entry.list`,
/// `handover.list`, `report.list`, `consent.read`), `$everything` in the detail.
pub(crate) fn everything_reads(actor: &Actor, plan: &CarePlanRow) -> Vec<AuditRecord> {
    let mut reads: Vec<AuditRecord> = [
        ("care_plan.read", "CarePlan $everything"),
        ("goal.read", "Goal $everything"),
        ("care_team.read", "CareTeam $everything"),
    ]
    .into_iter()
    .map(|(action, kind)| super::fhir_read_record(actor, action, plan, kind))
    .collect();
    reads.push(
        AuditRecord::by(
            actor,
            "patient.read",
            "patient",
            Some(plan.patient_id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan.id))
        .patient(Some(plan.patient_id))
        .detail(fhir_detail("Patient $everything")),
    );
    reads.extend(
        [
            ("entry.list", "Observation $everything"),
            ("handover.list", "Task $everything"),
            ("report.list", "Task $everything"),
            ("consent.read", "Consent $everything"),
        ]
        .into_iter()
        .map(|(action, kind)| super::fhir_read_record(actor, action, plan, kind)),
    );
    reads
}

impl Services {
    /// What `CarePlan/{id}/$everything` adds for a plan the actor may read: the patient,
    /// every Observation and Provenance of its entries, its hand-overs and reports back
    /// as Tasks, its consents, and the Organizations and Practitioners they name. The
    /// caller has recorded the reads ([`everything_reads`]).
    pub(crate) async fn fhir_everything_more(
        &self,
        plan: &CarePlanRow,
        out: &mut Vec<Value>,
    ) -> Result<(), ServiceError> {
        use renkei_store::handovers as hs;
        use renkei_store::queries_access as qa;
        use renkei_store::reports as rs;
        use std::collections::BTreeSet;

        let mut orgs: BTreeSet<Uuid> = BTreeSet::from([plan.planner_organization_id]);
        let mut people: BTreeSet<Uuid> = BTreeSet::new();
        if let Some(p) = self.fhir_patient_of(plan.patient_id).await? {
            out.push(p);
        }
        let pe = self.fhir_plan_entries(plan.clone()).await?;
        let template = &pe.template.template;
        for e in &pe.entries {
            out.extend(obs::observations(template, e));
            out.push(renkei_fhir::provenance::provenance(template, e));
            orgs.extend(Uuid::parse_str(&e.organization_id));
            people.extend(Uuid::parse_str(&e.author_id));
        }
        for h in hs::handovers_of_plan(&self.db, plan.id.into()).await? {
            orgs.extend([h.from_organization_id.0, h.to_organization_id.0]);
            out.push(self.fhir_handover_task(plan, h).await?);
        }
        for r in rs::reports_of_plan(&self.db, plan.id.into()).await? {
            orgs.extend([r.from_organization_id.0, r.to_organization_id.0]);
            out.push(self.fhir_report_task(plan, r).await?);
        }
        for c in qa::consents_of(&self.db, plan.id).await? {
            orgs.insert(c.obtained_by_organization_id);
            out.push(self.fhir_consent_resource(plan, c).await?);
        }
        for m in qa::team_of(&self.db, plan.id).await? {
            orgs.insert(m.organization_id);
        }
        for id in orgs {
            if let Some(o) = queries::organization_by_id(&self.db, id).await? {
                out.push(crate::fhir::organization::organization_resource(o));
            }
        }
        for id in people {
            if let Some(p) = self.fhir_practitioner_any(id).await? {
                out.push(p);
            }
        }
        Ok(())
    }
}
