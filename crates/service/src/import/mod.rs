//! Lab results imported instead of typed: Observations (from a FHIR transaction Bundle or
//! read from SS-MIX2 storage) become assessment entries of the patient's plan, written
//! through the same append as the JSON API (the same access decision, validation, hash
//! chain, audit events and idempotency keys).
//!
//! One import is one write transaction. Observations of one plan taken at the same time
//! become one entry in the stage the plan is in. A FHIR Bundle is all or nothing: one
//! fault anywhere and nothing is written, every fault reported. SS-MIX2 storage is read
//! leniently: what cannot be imported is skipped and reported, the rest is written.

pub mod fhir_bundle;
pub mod mapping;
pub mod ss_mix2;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use renkei_domain::access::Action;
use renkei_domain::entry::{EntryKind, PlanStatus};
use renkei_domain::evidence::EvidenceKind;
use renkei_fhir::import::{
    EntryValues, ImportedObservation, Issue, IssueKind, Unmapped, item_for, item_value,
};
use renkei_store::queries::{self, CarePlanRow, IdempotencyRow};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::plans::AppendEntry;
use crate::{Actor, ServiceError, Services, begin_write};

/// How faults are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Any fault rejects the whole import (a FHIR transaction).
    AllOrNothing,
    /// Faulty observations are skipped and reported; the rest is written (SS-MIX2).
    SkipFaults,
}

/// An import to run.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// `Bundle.identifier` (`system|value`): the whole import's idempotency key.
    pub identifier: Option<String>,
    /// The hash of the whole request, stored with `identifier`.
    pub request_hash: String,
    pub observations: Vec<ImportedObservation>,
    /// Faults found while reading the request.
    pub issues: Vec<Issue>,
    pub mode: Mode,
    /// Decide everything, write nothing.
    pub dry_run: bool,
}

/// What became of one observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ObservationOutcome {
    /// Written (or, on a dry run, would be written) as item `item` of entry `entry`.
    Imported {
        index: usize,
        plan: Uuid,
        entry: Uuid,
        item: String,
    },
    /// Imported before under the same identifier: nothing written.
    AlreadyImported {
        index: usize,
        plan: Uuid,
        entry: Uuid,
        item: String,
    },
}

impl ObservationOutcome {
    pub fn index(&self) -> usize {
        match self {
            ObservationOutcome::Imported { index, .. }
            | ObservationOutcome::AlreadyImported { index, .. } => *index,
        }
    }
}

/// The result of an import.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    pub outcomes: Vec<ObservationOutcome>,
    /// What was not imported and why (all-or-nothing: why nothing was).
    pub issues: Vec<Issue>,
    /// Entries written.
    pub entries: usize,
    /// The same import was made before (same identifier, same content): its outcomes
    /// are the first one's and nothing was written.
    pub replayed: bool,
}

impl ImportReport {
    /// Whether an all-or-nothing import was refused.
    pub fn rejected(&self) -> bool {
        !self.issues.is_empty() && self.outcomes.is_empty()
    }
}

/// The idempotency key of an import identifier (keys are at most 255 visible ASCII
/// characters; identifiers are not, so the key is the identifier's hash).
fn key_of(kind: &str, identifier: &str) -> String {
    format!(
        "fhir-{kind}:{}",
        renkei_domain::canonical::sha256_tagged(identifier.as_bytes())
    )
}

/// The hash stored with an observation's key: its resource, canonical.
fn observation_hash(o: &ImportedObservation) -> String {
    renkei_domain::canonical::sha256_tagged(renkei_domain::chain::canonical(&o.resource).as_bytes())
}

/// One entry to write: the plan, the time, the values and where each came from.
struct Group {
    plan: Uuid,
    effective: DateTime<Utc>,
    values: EntryValues,
    /// (Bundle index, key, hash) of observations that carry an identifier.
    keys: Vec<(usize, String, String)>,
}

impl Services {
    /// Imports observations as `actor` (see the module documentation).
    pub async fn import_observations(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        request: ImportRequest,
    ) -> Result<ImportReport, ServiceError> {
        let now = self.now();
        let mut report = ImportReport {
            issues: request.issues.clone(),
            ..Default::default()
        };
        let mut txn = begin_write(&self.db).await?;
        let bundle_key = request.identifier.as_deref().map(|i| key_of("bundle", i));
        if let Some(key) = &bundle_key
            && let Some(prev) = queries::idempotency_key(&*txn, actor.practitioner_id, key).await?
        {
            txn.rollback().await?;
            if prev.request_hash != request.request_hash {
                return Err(ServiceError::IdempotencyKeyReused);
            }
            let outcomes: Vec<ObservationOutcome> = serde_json::from_str(&prev.response_body)
                .map_err(|e| anyhow::anyhow!("stored import answer unreadable: {e}"))?;
            audit::record_now(
                self,
                meta,
                AuditRecord::by(
                    actor,
                    "entry.append",
                    "care_plan",
                    Some(prev.care_plan_id.to_string()),
                    Outcome::Allowed,
                )
                .plan(Some(prev.care_plan_id))
                .detail("FHIR Observation import: idempotent replay"),
            )
            .await?;
            return Ok(ImportReport {
                outcomes,
                replayed: true,
                ..Default::default()
            });
        }

        // Where each observation goes: patient, plan, item and value.
        let mut resolver = mapping::Resolver::default();
        let mut groups: BTreeMap<(Uuid, DateTime<Utc>), Group> = BTreeMap::new();
        let mut seen_keys: HashMap<String, usize> = HashMap::new();
        for o in &request.observations {
            let at = format!("Bundle.entry[{}].resource", o.index);
            let plan = match resolver.plan_for(self, &*txn, o).await? {
                Ok(p) => p,
                Err(issue) => {
                    report.issues.push(issue);
                    continue;
                }
            };
            let published = self.pathway_of_plan(&plan)?;
            let template = &published.template;
            let item = match item_for(template, &o.codes) {
                Ok(item) => item,
                Err(Unmapped::Unknown) => {
                    report.issues.push(Issue {
                        expression: format!("{at}.code"),
                        kind: IssueKind::UnmappedCode,
                        detail: format!("no item of pathway {} records this code", template.code),
                    });
                    continue;
                }
                Err(Unmapped::Ambiguous(items)) => {
                    report.issues.push(Issue {
                        expression: format!("{at}.code"),
                        kind: IssueKind::AmbiguousCode,
                        detail: format!(
                            "items {} all record this code; add a coding of {} naming one",
                            items.join(", "),
                            renkei_fhir::import::items_system(&template.code)
                        ),
                    });
                    continue;
                }
            };
            let value = match item_value(item, &o.value, &at) {
                Ok(v) => v,
                Err(issue) => {
                    report.issues.push(issue);
                    continue;
                }
            };
            let key = o.identifier.as_deref().map(|i| key_of("observation", i));
            if let Some(key) = &key {
                if let Some(first) = seen_keys.get(key) {
                    report.issues.push(Issue {
                        expression: format!("{at}.identifier"),
                        kind: IssueKind::Duplicate,
                        detail: format!("the same identifier as Bundle.entry[{first}]"),
                    });
                    continue;
                }
                seen_keys.insert(key.clone(), o.index);
                if let Some(prev) =
                    queries::idempotency_key(&*txn, actor.practitioner_id, key).await?
                {
                    if prev.request_hash == observation_hash(o) {
                        let entry = prev
                            .response_body
                            .parse()
                            .map_err(|e| anyhow::anyhow!("stored import answer unreadable: {e}"))?;
                        report.outcomes.push(ObservationOutcome::AlreadyImported {
                            index: o.index,
                            plan: prev.care_plan_id,
                            entry,
                            item: item.code.clone(),
                        });
                    } else {
                        report.issues.push(Issue {
                            expression: format!("{at}.identifier"),
                            kind: IssueKind::Duplicate,
                            detail: "an observation with this identifier was imported before \
                                     with other content"
                                .into(),
                        });
                    }
                    continue;
                }
            }
            let group = groups
                .entry((plan.id, o.effective))
                .or_insert_with(|| Group {
                    plan: plan.id,
                    effective: o.effective,
                    values: EntryValues::default(),
                    keys: Vec::new(),
                });
            if let Err(issue) = group.values.add(&item.code, value, o.index) {
                report.issues.push(issue);
                continue;
            }
            if let Some(key) = key {
                group.keys.push((o.index, key, observation_hash(o)));
            }
        }

        // Every group is validated even when faults were found already, so that one answer
        // names them all; an all-or-nothing import then writes none of them.
        let plans: Vec<Uuid> = groups.values().map(|g| g.plan).collect();
        let mut written: Vec<Uuid> = Vec::new();
        for group in groups.into_values() {
            let write = self
                .continue_plan_write(txn, actor, meta, group.plan)
                .await?;
            let stage = write
                .plan()
                .map(|p| p.current_stage.clone())
                .unwrap_or_default();
            let allowed = write
                .authorize(
                    Action::Append {
                        kind: EntryKind::Assessment,
                        stage: &stage,
                    },
                    None,
                )
                .await?;
            let mut values = group.values;
            let entry = loop {
                let input = AppendEntry {
                    stage: stage.clone(),
                    kind: EntryKind::Assessment,
                    effective_at: group.effective,
                    values: values.values.clone(),
                    note: None,
                    variance: None,
                    amends: None,
                    reason: None,
                };
                match self
                    .append_allowed(&allowed.txn, actor, &allowed.plan, input, None, None, now)
                    .await
                {
                    Ok(row) => break Some(row),
                    Err(ServiceError::Validation(errors)) => {
                        let faults = field_issues(&values, &errors, &allowed.plan, self);
                        let retry =
                            request.mode == Mode::SkipFaults && drop_faulty(&mut values, &errors);
                        report.issues.extend(faults);
                        if !retry {
                            break None;
                        }
                    }
                    Err(ServiceError::Conflict { message, .. }) => {
                        report
                            .issues
                            .extend(values.sources.iter().map(|(_, index)| Issue {
                                expression: format!("Bundle.entry[{index}].resource"),
                                kind: IssueKind::BusinessRule,
                                detail: message.clone(),
                            }));
                        break None;
                    }
                    Err(e) => return Err(e),
                }
            };
            let Some(row) = entry else {
                txn = allowed.into_txn();
                continue;
            };
            for (index, key, hash) in &group.keys {
                if !values.sources.iter().any(|(_, i)| i == index) {
                    continue;
                }
                queries::insert_idempotency_key(
                    &*allowed.txn,
                    IdempotencyRow {
                        id: Uuid::now_v7(),
                        practitioner_id: actor.practitioner_id,
                        key: key.clone(),
                        request_hash: hash.clone(),
                        care_plan_id: group.plan,
                        response_status: 201,
                        response_body: row.id.to_string(),
                        created_at: now,
                    },
                )
                .await?;
            }
            for (item, index) in &values.sources {
                report.outcomes.push(ObservationOutcome::Imported {
                    index: *index,
                    plan: group.plan,
                    entry: row.id,
                    item: item.clone(),
                });
            }
            written.push(group.plan);
            let record = AuditRecord::by(
                actor,
                "entry.append",
                "entry",
                Some(row.id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(group.plan))
            .patient(Some(allowed.plan.patient_id))
            .detail("FHIR Observation import")
            .wrote(EvidenceKind::CarePlan, group.plan);
            txn = allowed.record_and_continue(record).await?;
        }
        report.outcomes.sort_by_key(ObservationOutcome::index);

        if request.mode == Mode::AllOrNothing && !report.issues.is_empty() {
            txn.rollback().await?;
            self.audit_rejected(actor, meta, plans.into_iter()).await?;
            return Ok(reject(report));
        }
        if let Some(key) = bundle_key
            && let Some(first) = report.outcomes.first()
        {
            let plan = match first {
                ObservationOutcome::Imported { plan, .. }
                | ObservationOutcome::AlreadyImported { plan, .. } => *plan,
            };
            queries::insert_idempotency_key(
                &*txn,
                IdempotencyRow {
                    id: Uuid::now_v7(),
                    practitioner_id: actor.practitioner_id,
                    key,
                    request_hash: request.request_hash.clone(),
                    care_plan_id: plan,
                    response_status: 200,
                    response_body: serde_json::to_string(&report.outcomes)
                        .map_err(|e| anyhow::anyhow!("import answer: {e}"))?,
                    created_at: now,
                },
            )
            .await?;
        }
        report.entries = written.len();
        if request.dry_run {
            txn.rollback().await?;
        } else {
            txn.commit().await?;
            for _ in 0..report.entries {
                crate::sequencer::count_append();
            }
        }
        Ok(report)
    }

    /// Records the refused import on each plan it named, like a refused append.
    async fn audit_rejected(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plans: impl Iterator<Item = Uuid>,
    ) -> Result<(), ServiceError> {
        let mut plans: Vec<Uuid> = plans.collect();
        plans.sort();
        plans.dedup();
        for plan in plans {
            let patient = queries::care_plan_by_id(&self.db, plan)
                .await?
                .map(|p| p.patient_id);
            audit::record_now(
                self,
                meta,
                AuditRecord::by(
                    actor,
                    "entry.append",
                    "care_plan",
                    Some(plan.to_string()),
                    Outcome::Allowed,
                )
                .plan(Some(plan))
                .patient(patient)
                .detail("rejected (assessment): FHIR Observation import"),
            )
            .await?;
        }
        Ok(())
    }
}

fn reject(mut report: ImportReport) -> ImportReport {
    report.outcomes.clear();
    report.entries = 0;
    report.issues.sort_by_key(|i| entry_index(&i.expression));
    report
}

/// The Bundle entry index an expression names (`Bundle.entry[3]…` → 3).
pub fn entry_index(expression: &str) -> Option<usize> {
    let rest = expression.strip_prefix("Bundle.entry[")?;
    rest.split(']').next()?.parse().ok()
}

/// The field errors of one entry, as issues at the Bundle entries whose values they name.
fn field_issues(
    values: &EntryValues,
    errors: &[renkei_domain::FieldError],
    plan: &CarePlanRow,
    services: &Services,
) -> Vec<Issue> {
    let template = services.pathway_of_plan(plan).ok();
    let mut out = Vec::new();
    for e in errors {
        let label = e
            .field
            .strip_prefix("values.")
            .and_then(|code| template.as_ref()?.template.item(code))
            .map(|i| i.code.clone())
            .unwrap_or_else(|| e.field.clone());
        let kind = match e.code {
            renkei_domain::Rule::Range
            | renkei_domain::Rule::Allowed
            | renkei_domain::Rule::Step => IssueKind::Value,
            _ => IssueKind::BusinessRule,
        };
        for index in values.entries_for_field(&e.field) {
            out.push(Issue {
                expression: format!("Bundle.entry[{index}].resource.value[x]"),
                kind,
                detail: format!("{label}: {}", e.message),
            });
        }
    }
    out
}

/// Removes the values the errors name; whether any value is left to write.
fn drop_faulty(values: &mut EntryValues, errors: &[renkei_domain::FieldError]) -> bool {
    let mut dropped = false;
    for e in errors {
        let Some(item) = e.field.strip_prefix("values.") else {
            continue;
        };
        let item = item.split(['.', '[']).next().unwrap_or(item).to_owned();
        if values.values.remove(&item).is_some() {
            values.sources.retain(|(c, _)| *c != item);
            dropped = true;
        }
    }
    dropped && !values.values.is_empty()
}

/// Whether a plan is one imports may write to.
pub(crate) fn is_active(plan: &CarePlanRow) -> bool {
    plan.status == PlanStatus::Active.as_str()
}
