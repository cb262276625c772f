//! Goal reads and searches: a plan's goals with their status from the goal engine,
//! under the plan's access rules and audited as the JSON API's goal reads.

use renkei_domain::access::Action;
use serde_json::Value;

use super::care_plan::plan_id;
use super::{Search, audit_fhir_read, audit_fhir_reads, page, searchset};
use crate::audit::RequestMeta;
use crate::{Actor, ServiceError, Services};

impl Services {
    /// `GET Goal/{plan id}-{hash}`.
    pub async fn fhir_goal(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: &str,
    ) -> Result<Value, ServiceError> {
        let (plan, _) =
            renkei_fhir::goal::split_goal_id(id).ok_or(ServiceError::NotFound("goal"))?;
        let (row, _) = self
            .authorize_plan(actor, meta, plan_id(plan)?, Action::ReadPlan)
            .await?;
        let r = self.fhir_plan_resources(&row).await?;
        let goal = r
            .goals
            .into_iter()
            .find(|g| g["id"] == id)
            .ok_or(ServiceError::NotFound("goal"))?;
        audit_fhir_read(self, actor, meta, "goal.read", &row, "Goal").await?;
        Ok(goal)
    }

    /// `GET Goal?patient=…&_lastUpdated=…`: the goals of every plan the actor may read.
    pub async fn fhir_search_goals(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        search: &Search<'_>,
    ) -> Result<Value, ServiceError> {
        let rows = self
            .fhir_visible_plans(actor, search, renkei_fhir::care_plan::status)
            .await?;
        let mut matches = Vec::new();
        for row in &rows {
            for g in self.fhir_plan_resources(row).await?.goals {
                matches.push((row.updated_at, g));
            }
        }
        let (total, goals, next) = page(matches, &search.params);
        let read = rows.iter().filter(|row| {
            let prefix = row.id.to_string();
            goals
                .iter()
                .any(|g| g["id"].as_str().is_some_and(|i| i.starts_with(&prefix)))
        });
        audit_fhir_reads(
            self,
            actor,
            meta,
            read.map(|r| ("goal.read", r, "Goal search")),
        )
        .await?;
        Ok(searchset(search, "Goal", total, goals, Vec::new(), next))
    }
}
