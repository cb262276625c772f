//! Keeping the council's report facts up to date: each changed plan's facts recomputed
//! from its record ([`renkei_domain::council::plan_report_facts`]), in batches, before a
//! report reads them and in the background.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use renkei_domain::council::facts::{
    EntryMeta, PlanColumns, PlanRecord, ReportFactsRow, report_facts_row,
};
use renkei_store::council as store;
use renkei_store::queries::{self, CarePlanRow, EntryRow};
use renkei_store::queries_access::{self as qa, ConsentRow};
use sea_orm::{ConnectionTrait, TransactionTrait};
use uuid::Uuid;

use crate::plan_facts::entry_facts;
use crate::variances::SYSTEM_PRACTITIONER_ID;
use crate::{ServiceError, Services};

/// Plans recomputed per transaction.
const BATCH: usize = 100;

/// Whether the plan's active consent includes `statistics` (a consent not withdrawn
/// whose purposes name it).
pub fn statistics_consent(consents: &[ConsentRow]) -> bool {
    consents.iter().any(|c| {
        c.withdrawn_at.is_none()
            && serde_json::from_str::<Vec<String>>(&c.purposes)
                .is_ok_and(|p| p.iter().any(|p| p == "statistics"))
    })
}

fn group<T>(rows: Vec<(Uuid, T)>) -> HashMap<Uuid, Vec<T>> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    for (k, v) in rows {
        out.entry(k).or_default().push(v);
    }
    out
}

impl Services {
    /// Computes the report facts of one plan from its stored record at `now`.
    #[expect(clippy::too_many_arguments, reason = "the parts of one plan's record")]
    pub(crate) fn report_facts_of(
        &self,
        plan: &CarePlanRow,
        rows: &[EntryRow],
        consents: &[ConsentRow],
        handovers: &[renkei_domain::council::facts::HandoverInput],
        reports: &[renkei_domain::council::facts::ReportInput],
        birth_date: Option<chrono::NaiveDate>,
        now: DateTime<Utc>,
    ) -> Option<ReportFactsRow> {
        let published = self
            .pathways
            .for_plan(plan.pathway_version_id, plan.variant.as_deref())?;
        let meta: HashMap<Uuid, EntryMeta> = rows
            .iter()
            .map(|r| {
                (
                    r.id,
                    EntryMeta {
                        organization: r.organization_id,
                        system: r.author_id == SYSTEM_PRACTITIONER_ID,
                        variance: r
                            .variance
                            .as_deref()
                            .and_then(|v| serde_json::from_str(v).ok()),
                    },
                )
            })
            .collect();
        let entries = entry_facts(rows);
        Some(report_facts_row(
            PlanColumns {
                care_plan_id: plan.id,
                region: plan.region.clone(),
                planner_organization_id: plan.planner_organization_id,
                statistics_consent: statistics_consent(consents),
                started_at: plan.started_at,
                status: plan.status.clone(),
                updated_at: plan.updated_at,
            },
            PlanRecord {
                template: &published.template,
                entries: &entries,
                meta: &meta,
                handovers,
                reports,
                birth_date,
            },
            now,
        ))
    }

    /// Recomputes the report facts of these plans, a batch at a time: claimed in a short
    /// write transaction, read in a read transaction, written in a second short one. A
    /// plan changed meanwhile stays stale and is recomputed on the next pass.
    pub async fn refresh_report_facts(&self, ids: &[Uuid]) -> Result<usize, ServiceError> {
        let now = self.now();
        for batch in ids.chunks(BATCH) {
            let claim = renkei_store::db::begin_write(&self.db).await?;
            store::claim(&*claim, batch).await?;
            claim.commit().await?;
            let txn = self.db.begin().await?;
            let plans = queries::care_plans_by_ids(&txn, batch).await?;
            let mut entries = group(
                queries::entries_of_plans(&txn, batch)
                    .await?
                    .into_iter()
                    .map(|r| (r.care_plan_id, r))
                    .collect(),
            );
            let mut consents = group(
                qa::consents_of_plans(&txn, batch)
                    .await?
                    .into_iter()
                    .map(|r| (r.care_plan_id, r))
                    .collect(),
            );
            let mut handovers = group(store::handovers_of_plans(&txn, batch).await?);
            let mut reports = group(store::reports_of_plans(&txn, batch).await?);
            let mut out = Vec::with_capacity(plans.len());
            for plan in &plans {
                let rows = entries.remove(&plan.id).unwrap_or_default();
                let birth_date = birth_date(&txn, plan.patient_id).await?;
                if let Some(row) = self.report_facts_of(
                    plan,
                    &rows,
                    &consents.remove(&plan.id).unwrap_or_default(),
                    &handovers.remove(&plan.id).unwrap_or_default(),
                    &reports.remove(&plan.id).unwrap_or_default(),
                    birth_date,
                    now,
                ) {
                    out.push(row);
                }
            }
            txn.commit().await?;
            let write = renkei_store::db::begin_write(&self.db).await?;
            store::upsert(&*write, &out, now).await?;
            write.commit().await?;
            self.home_summary.note_refresh();
        }
        Ok(ids.len())
    }

    /// Recomputes up to `limit` plans whose report facts are stale; returns
    /// how many (the background refresher calls it until none are left).
    pub async fn refresh_stale_report_facts(&self, limit: u64) -> Result<usize, ServiceError> {
        let ids = store::plans_to_refresh(&self.db, limit).await?;
        self.refresh_report_facts(&ids).await
    }

    /// How many plans' report facts wait to be recomputed (the background refresh's
    /// backlog, on `/metrics`).
    pub async fn report_facts_backlog(&self) -> Result<u64, ServiceError> {
        Ok(store::stale_count(&self.db).await?)
    }

    /// Brings every plan's report facts up to date (before a report reads them). Stops
    /// when a pass finds nothing to do, or after as many passes as it takes to go
    /// through the plans once more than were stale when it began (writes arriving
    /// meanwhile wait for the next read).
    pub(crate) async fn refresh_all_report_facts(&self) -> Result<(), ServiceError> {
        for _ in 0..1000 {
            if self.refresh_stale_report_facts(1000).await? == 0 {
                break;
            }
        }
        Ok(())
    }
}

async fn birth_date<C: ConnectionTrait>(
    c: &C,
    patient: Uuid,
) -> Result<Option<chrono::NaiveDate>, ServiceError> {
    Ok(queries::patient_by_id(c, patient)
        .await?
        .map(|p| p.birth_date))
}
