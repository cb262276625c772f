//! CareTeam reads and searches: the organisations of a care plan's team, under the
//! plan's access rules and audited as the JSON API's care-team reads.

use renkei_domain::access::Action;
use serde_json::Value;

use super::care_plan::plan_id;
use super::{Search, audit_fhir_read, audit_fhir_reads, page, searchset};
use crate::audit::RequestMeta;
use crate::{Actor, ServiceError, Services};

impl Services {
    /// `GET CareTeam/{plan id}`.
    pub async fn fhir_care_team(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: &str,
    ) -> Result<Value, ServiceError> {
        let (row, _) = self
            .authorize_plan(actor, meta, plan_id(id)?, Action::ReadPlan)
            .await?;
        let r = self.fhir_plan_resources(&row).await?;
        audit_fhir_read(self, actor, meta, "care_team.read", &row, "CareTeam").await?;
        Ok(r.care_team)
    }

    /// `GET CareTeam?patient=…&status=…&_lastUpdated=…`.
    pub async fn fhir_search_care_teams(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        search: &Search<'_>,
    ) -> Result<Value, ServiceError> {
        let rows = self
            .fhir_visible_plans(actor, search, renkei_fhir::care_team::status)
            .await?;
        let matches = rows
            .iter()
            .map(|r| (r.updated_at, serde_json::json!({ "id": r.id.to_string() })))
            .collect();
        let (total, ids, next) = page(matches, &search.params);
        let mut teams = Vec::new();
        let mut reads = Vec::new();
        for id in ids {
            let Some(row) = rows.iter().find(|r| id["id"] == r.id.to_string()) else {
                continue;
            };
            teams.push(self.fhir_plan_resources(row).await?.care_team);
            reads.push(("care_team.read", row, "CareTeam search"));
        }
        audit_fhir_reads(self, actor, meta, reads).await?;
        Ok(searchset(
            search,
            "CareTeam",
            total,
            teams,
            Vec::new(),
            next,
        ))
    }
}
