//! The home page (S2): the organisation's worklist with, for every row, the patient,
//! the plan and the hand-over it is about, as far as the organisation sees them. One
//! service call, one audit event (`worklist.read`): the rows are read under the
//! worklist's decision, not each with an access check and an audit event of its own.

use std::collections::HashMap;

use renkei_domain::access::{Action, allows, may_read_party_record};
use renkei_store::queries;
use uuid::Uuid;

use crate::access::{plan_access_at, subject};
use crate::audit::RequestMeta;
use crate::patients::Patient;
use crate::patients::to_patient;
use crate::plans::CarePlan;
use crate::schedules::{WorkItem, Worklist};
use crate::{Actor, ServiceError, Services};

/// The sender and receiver of a hand-over a row is about, by organisation name.
#[derive(Debug, Clone)]
pub struct HandoverParties {
    pub from_organization_name: String,
    pub to_organization_name: String,
    /// The stage the plan is handed to.
    pub stage: String,
}

/// What the worklist page shows: the service's worklist, and for each item what the
/// organisation may see of its patient, plan and hand-over (`None`: not visible).
#[derive(Debug, Clone)]
pub struct WorklistScreen {
    pub worklist: Worklist,
    pub patients: HashMap<Uuid, Patient>,
    pub plans: HashMap<Uuid, CarePlan>,
    /// Hand-overs by id (the `subject` of an incoming or outgoing item).
    pub handovers: HashMap<String, HandoverParties>,
    /// Reports back (返書) that arrived here, newest first (read or not).
    pub reports_arrived: Vec<crate::reports::ArrivedReport>,
    /// Organisation names by id (the senders of arrived reports).
    pub organization_names: HashMap<Uuid, String>,
    /// The organisation's open amendment notices (修正のお知らせ), with the patient of each
    /// in `patients`.
    pub notices: Vec<crate::notices::AmendmentNotice>,
}

impl WorklistScreen {
    pub fn patient(&self, item: &WorkItem) -> Option<&Patient> {
        self.patients.get(&item.patient_id)
    }

    pub fn plan(&self, item: &WorkItem) -> Option<&CarePlan> {
        self.plans.get(&item.care_plan_id)
    }

    pub fn handover(&self, item: &WorkItem) -> Option<&HandoverParties> {
        self.handovers.get(&item.subject)
    }
}

impl Services {
    /// The worklist page: the worklist (its one access decision and audit event), with
    /// the patient, plan and hand-over of each row the organisation sees, read without
    /// further audit events.
    pub async fn worklist_screen(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        limit: usize,
        dropout_days: i64,
    ) -> Result<WorklistScreen, ServiceError> {
        let worklist = self
            .worklist(actor, meta, None, limit, dropout_days)
            .await?;
        let db = &self.db;
        let who = subject(actor);
        let reports_arrived = self.arrived_reports(actor).await?;
        let arrived = crate::schedules::WorkList {
            count: reports_arrived.len(),
            items: reports_arrived.iter().map(|r| r.item.clone()).collect(),
        };
        let items = [
            &worklist.handovers_incoming,
            &worklist.handovers_outgoing,
            &worklist.reports_owed,
            &worklist.reports_owed_to_me,
            &worklist.schedule_due,
            &worklist.goals_overdue,
            &worklist.consent_missing,
            &worklist.dropouts,
            &arrived,
        ];
        let mut patients = HashMap::new();
        let mut patients_seen = std::collections::HashSet::new();
        let mut plans = HashMap::new();
        let mut access = HashMap::new();
        let mut names: HashMap<Uuid, String> = HashMap::new();
        let mut handover_rows = HashMap::new();
        for (i, list) in items.iter().enumerate() {
            for item in &list.items {
                if patients_seen.insert(item.patient_id)
                    && self.patient_visible(db, actor, item.patient_id).await?
                    && let Some(row) = queries::patient_by_id(db, item.patient_id).await?
                {
                    patients.insert(item.patient_id, to_patient(db, row).await?);
                }
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    access.entry(item.care_plan_id)
                {
                    let plan_access = match queries::care_plan_by_id(db, item.care_plan_id).await? {
                        Some(row) => {
                            let a = plan_access_at(db, self, actor, &row, self.now()).await?;
                            if allows(&who, Action::ReadPlan, &a) {
                                plans.insert(row.id, self.plan_view(db, row).await?);
                            }
                            Some(a)
                        }
                        None => None,
                    };
                    slot.insert(plan_access);
                }
                if i < 2 {
                    let Ok(id) = item.subject.parse::<Uuid>() else {
                        continue;
                    };
                    let Some(h) = renkei_store::handovers::handover_by_id(db, id).await? else {
                        continue;
                    };
                    let (from, to) = (h.from_organization_id.0, h.to_organization_id.0);
                    let is_party = from == actor.organization_id || to == actor.organization_id;
                    let readable = access
                        .get(&h.care_plan_id.0)
                        .and_then(Option::as_ref)
                        .is_some_and(|a| may_read_party_record(&who, a, is_party));
                    if readable {
                        for org in [from, to] {
                            if let std::collections::hash_map::Entry::Vacant(slot) =
                                names.entry(org)
                            {
                                let name = queries::organization_by_id(db, org)
                                    .await?
                                    .map(|o| o.name)
                                    .unwrap_or_default();
                                slot.insert(name);
                            }
                        }
                        handover_rows.insert(
                            item.subject.clone(),
                            HandoverParties {
                                from_organization_name: names[&from].clone(),
                                to_organization_name: names[&to].clone(),
                                stage: h.stage,
                            },
                        );
                    }
                }
            }
        }
        for r in &reports_arrived {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                names.entry(r.from_organization_id)
            {
                let name = queries::organization_by_id(db, r.from_organization_id)
                    .await?
                    .map(|o| o.name)
                    .unwrap_or_default();
                slot.insert(name);
            }
        }
        let notices = self.readable_notices(actor, None).await?;
        for n in &notices {
            if !plans.contains_key(&n.care_plan_id)
                && let Some(row) = queries::care_plan_by_id(db, n.care_plan_id).await?
            {
                plans.insert(row.id, self.plan_view(db, row).await?);
            }
            if !patients.contains_key(&n.patient_id)
                && self.patient_visible(db, actor, n.patient_id).await?
                && let Some(row) = queries::patient_by_id(db, n.patient_id).await?
            {
                patients.insert(n.patient_id, to_patient(db, row).await?);
            }
        }
        Ok(WorklistScreen {
            worklist,
            patients,
            plans,
            handovers: handover_rows,
            reports_arrived,
            organization_names: names,
            notices,
        })
    }
}
