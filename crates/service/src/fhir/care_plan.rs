//! CarePlan reads, searches and `$everything`, with the JSON API's access rules and
//! audit events. The plan's goals and team are built here too, from one read of its
//! entries, so that a CarePlan and the Goals it references always agree.

use renkei_domain::access::Action;
use renkei_domain::calendar::tokyo_date;
use renkei_domain::goals::evaluate_goals;
use renkei_domain::plan::stage_dates;
use renkei_fhir::bundle::{SearchEntry, SearchSet};
use renkei_fhir::care_plan::{self as map, PlanView, StageView};
use renkei_fhir::care_team::{self as team_map, MemberView, TeamView};
use renkei_fhir::goal::{self as goal_map, GoalView};
use renkei_store::queries::{self, CarePlanRow};
use renkei_store::queries_access as qa;
use serde_json::Value;
use uuid::Uuid;

use super::{Search, audit_fhir_read, audit_fhir_reads, everything_more, page, searchset};
use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::plan_facts::{entry_facts, plan_facts};
use crate::{Actor, ServiceError, Services};

/// A plan as FHIR resources: the CarePlan, its Goals and its CareTeam.
pub struct PlanResources {
    pub care_plan: Value,
    pub goals: Vec<Value>,
    pub care_team: Value,
}

/// The plan id of a FHIR id, or not found.
pub(crate) fn plan_id(id: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(id).map_err(|_| ServiceError::NotFound("care plan"))
}

impl Services {
    /// The FHIR resources of a plan the caller may already read.
    pub(crate) async fn fhir_plan_resources(
        &self,
        row: &CarePlanRow,
    ) -> Result<PlanResources, ServiceError> {
        let published = self.pathway_of_plan(row)?;
        let rows = queries::entries_of_plan_in(&self.db, row.id, &row.region).await?;
        let facts = plan_facts(&rows);
        let dates = stage_dates(&entry_facts(&rows));
        let now = self.now();
        let template = facts.individual_template_cow(&published.template, now, now);
        let ctx = crate::goal_context::goal_context(
            &self.db,
            &template,
            row.patient_id,
            row.started_at,
            now,
            now,
        )
        .await?;
        let statuses = evaluate_goals(&template, &ctx, &facts.facts);
        let plan_id = row.id.to_string();
        let patient_id = row.patient_id.to_string();
        let planner = queries::organization_by_id(&self.db, row.planner_organization_id).await?;
        let planner_name = planner.map(|o| o.name).unwrap_or_default();
        let t = &published.template;

        let goals: Vec<Value> = statuses
            .iter()
            .filter_map(|s| {
                let goal = template.goals.iter().find(|g| g.code == s.code)?;
                let shared = t.goals.iter().find(|g| g.code == s.code);
                Some(goal_map::goal(&GoalView {
                    plan_id: &plan_id,
                    patient_id: &patient_id,
                    plan_status: &row.status,
                    plan_started: tokyo_date(row.started_at),
                    last_updated: row.updated_at,
                    template: t,
                    code: &s.code,
                    title_ja: &s.title.ja,
                    target: &goal.target,
                    individualised: shared.is_none_or(|g| g.target != goal.target),
                    state: s.status,
                    due_date: s.due_date,
                    latest: s
                        .latest
                        .as_ref()
                        .zip(s.item.as_ref())
                        .map(|(l, item)| (l.entry_id.to_string(), item.clone())),
                }))
            })
            .collect();

        let care_plan = map::care_plan(&PlanView {
            id: plan_id.clone(),
            patient_id: patient_id.clone(),
            status: row.status.clone(),
            pathway_code: t.code.clone(),
            title_ja: t.title.ja.clone(),
            canonical: renkei_fhir::plan_definition::canonical(t),
            started_at: row.started_at,
            ended_at: (row.status != "active").then_some(row.updated_at),
            created_at: row.created_at,
            last_updated: row.updated_at,
            planner_organization_id: row.planner_organization_id.to_string(),
            planner_organization_name: planner_name,
            goal_ids: goals
                .iter()
                .filter_map(|g| g["id"].as_str().map(str::to_owned))
                .collect(),
            stages: t
                .stages
                .iter()
                .map(|s| {
                    let d = dates.get(&s.code).copied().unwrap_or_default();
                    StageView {
                        code: s.code.clone(),
                        title_ja: s.title.ja.clone(),
                        start: d.start,
                        end: d.end,
                    }
                })
                .collect(),
            variant: published
                .variant
                .as_ref()
                .map(|v| (v.code.clone(), v.title.ja.clone())),
        });

        let mut members = Vec::new();
        for m in qa::team_of(&self.db, row.id).await? {
            let org = queries::organization_by_id(&self.db, m.organization_id).await?;
            members.push(MemberView {
                organization_id: m.organization_id.to_string(),
                organization_name: org.map(|o| o.name).unwrap_or_default(),
                role: m.role,
                added_at: m.added_at,
                ends_at: None,
            });
        }
        let care_team = team_map::care_team(&TeamView {
            plan_id,
            patient_id,
            plan_status: row.status.clone(),
            title_ja: t.title.ja.clone(),
            last_updated: row.updated_at,
            planner_organization_id: row.planner_organization_id.to_string(),
            members,
        });
        Ok(PlanResources {
            care_plan,
            goals,
            care_team,
        })
    }

    /// The plans a search may return: the patient's when `patient` is given, else those on
    /// whose team the actor's organisation is; only those the actor may read (the JSON
    /// API's rule), with the status the search asks for.
    pub(crate) async fn fhir_visible_plans(
        &self,
        actor: &Actor,
        search: &Search<'_>,
        status_of: fn(&str) -> &'static str,
    ) -> Result<Vec<CarePlanRow>, ServiceError> {
        let candidates = match &search.params.patient {
            Some(p) => match Uuid::parse_str(p) {
                Ok(p) => queries::care_plans_of_patient(&self.db, p).await?,
                Err(_) => Vec::new(),
            },
            None => {
                let ids = qa::plans_of_team_org(&self.db, actor.organization_id).await?;
                queries::care_plans_by_ids(&self.db, &ids).await?
            }
        };
        let visible = self.visible_plans(&self.db, actor, candidates).await?;
        Ok(visible
            .into_iter()
            .filter(|p| search.params.status_matches(status_of(&p.status)))
            .filter(|p| search.params.last_updated_matches(p.updated_at))
            .collect())
    }

    /// `GET CarePlan/{id}`: a plan read, refused as the JSON API refuses it.
    pub async fn fhir_care_plan(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: &str,
    ) -> Result<Value, ServiceError> {
        let (row, _) = self
            .authorize_plan(actor, meta, plan_id(id)?, Action::ReadPlan)
            .await?;
        let r = self.fhir_plan_resources(&row).await?;
        audit_fhir_read(self, actor, meta, "care_plan.read", &row, "CarePlan").await?;
        Ok(r.care_plan)
    }

    /// `GET CarePlan?…`: `patient`, `status`, `_lastUpdated`, paging, and
    /// `_include=CarePlan:goal`. Each plan returned is audited as a read.
    pub async fn fhir_search_care_plans(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        search: &Search<'_>,
    ) -> Result<Value, ServiceError> {
        let rows = self.fhir_visible_plans(actor, search, map::status).await?;
        let matches: Vec<(chrono::DateTime<chrono::Utc>, Value)> = rows
            .iter()
            .map(|r| (r.updated_at, serde_json::json!({ "id": r.id.to_string() })))
            .collect();
        let (total, ids, next) = page(matches, &search.params);
        let include_goals = search.params.include.iter().any(|i| i == map::INCLUDE_GOAL);
        let mut plans = Vec::new();
        let mut included = Vec::new();
        let mut reads = Vec::new();
        for id in ids {
            let Some(row) = rows.iter().find(|r| id["id"] == r.id.to_string()) else {
                continue;
            };
            let r = self.fhir_plan_resources(row).await?;
            reads.push(("care_plan.read", row, "CarePlan search"));
            if include_goals {
                reads.push(("goal.read", row, "Goal include"));
                included.extend(r.goals);
            }
            plans.push(r.care_plan);
        }
        audit_fhir_reads(self, actor, meta, reads).await?;
        // A search by patient is audited as the JSON API's list of a patient's plans:
        // denied when the patient has no plan the actor may see.
        if let Some(patient) = search
            .params
            .patient
            .as_deref()
            .and_then(|p| Uuid::parse_str(p).ok())
        {
            let outcome = if total == 0 {
                Outcome::Denied
            } else {
                Outcome::Allowed
            };
            audit::record_now(
                self,
                meta,
                AuditRecord::by(
                    actor,
                    "care_plan.list",
                    "patient",
                    Some(patient.to_string()),
                    outcome,
                )
                .patient((total > 0).then_some(patient))
                .detail("fhir:CarePlan search"),
            )
            .await?;
        }
        Ok(searchset(search, "CarePlan", total, plans, included, next))
    }

    /// `GET CarePlan/{id}/$everything`: one searchset Bundle of all of a plan — the
    /// CarePlan (match), then its PlanDefinition, Goals and CareTeam and whatever the
    /// other types add (include).
    pub async fn fhir_everything(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: &str,
        base: &str,
    ) -> Result<Value, ServiceError> {
        let (row, _) = self
            .authorize_plan(actor, meta, plan_id(id)?, Action::ReadPlan)
            .await?;
        let r = self.fhir_plan_resources(&row).await?;
        // The PlanDefinition is the version as published (every variant), as
        // `PlanDefinition/{id}` serves it; the CarePlan names the plan's variant.
        let published = self.pathway_of_plan(&row)?;
        let published = self
            .pathways
            .get(published.id)
            .cloned()
            .unwrap_or(published);
        audit::record_all_now(
            self,
            meta,
            super::observation::everything_reads(actor, &row),
        )
        .await?;
        let mut included = vec![renkei_fhir::plan_definition::plan_definition(
            &published.id.to_string(),
            &published.template,
        )];
        included.extend(r.goals);
        included.push(r.care_team);
        everything_more(self, &row, &mut included).await?;
        let mut entries = vec![SearchEntry::matched(r.care_plan)];
        entries.extend(included.into_iter().map(SearchEntry::included));
        Ok(renkei_fhir::bundle::searchset(
            base,
            SearchSet {
                total: Some(1),
                self_link: format!("{}/CarePlan/{id}/$everything", base.trim_end_matches('/')),
                next_link: None,
                entries,
            },
        ))
    }
}
