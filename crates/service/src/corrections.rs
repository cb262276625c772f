//! Corrections and voids of a plan's entries as the API and the plan page show them: the
//! rule that a correction names its chain's head, which entries a void struck out, and
//! the history of a chain (each version, who, when, why, and what changed).

use std::collections::{BTreeSet, HashMap};

use renkei_domain::access::Action;
use renkei_domain::corrections::{chain_of, chain_position};
use renkei_domain::entry::{AmendTarget, EntryKind};
use renkei_domain::goals::EntryFacts;
use renkei_store::queries::{self, EntryRow};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::entries::Entry;
use crate::{Actor, ServiceError, Services};

/// What the amendment rules know of `target`, read from the plan's entries: whether a
/// later correction superseded it (and which is the head), whether its chain was voided.
pub(crate) fn amend_target(
    facts: &[EntryFacts],
    target: &EntryRow,
) -> Result<AmendTarget, ServiceError> {
    let kind = EntryKind::parse(&target.kind)
        .ok_or_else(|| anyhow::anyhow!("entry {} has unknown kind", target.id))?;
    let pos = chain_position(facts, target.id);
    let head = pos.map(|p| p.head);
    Ok(AmendTarget {
        stage: target.stage.clone(),
        kind,
        is_amendment: target.amends.is_some(),
        is_already_amended: head.is_some_and(|h| h != target.id),
        head: head.filter(|h| *h != target.id),
        is_voided: kind == EntryKind::EnteredInError || pos.is_some_and(|p| p.voided),
    })
}

/// For every entry of a voided chain (and each void), the void that struck it out.
pub(crate) fn voided_by(rows: &[EntryRow]) -> HashMap<Uuid, Uuid> {
    let facts = crate::plan_facts::entry_facts(rows);
    let mut out = HashMap::new();
    for void in facts.iter().filter(|e| e.kind == EntryKind::EnteredInError) {
        if let Some(target) = void.amends {
            for e in chain_of(&facts, target) {
                out.insert(e.id, void.id);
            }
        }
    }
    out
}

/// Sets `voided_by` on the listed entries.
pub(crate) fn mark_voided(entries: &mut [Entry], voided: &HashMap<Uuid, Uuid>) {
    for e in entries {
        e.voided_by = voided.get(&e.id).copied();
    }
}

/// One value that differs between two versions of an entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueChange {
    pub item: String,
    /// Absent (null) when the earlier version did not record the item.
    pub before: Option<Value>,
    /// Absent (null) when the later version does not record the item.
    pub after: Option<Value>,
}

/// The values that differ between `before` and `after`, by item code.
pub fn value_changes(before: &Value, after: &Value) -> Vec<ValueChange> {
    let empty = serde_json::Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let items: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    items
        .into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| ValueChange {
            item: k.clone(),
            before: b.get(k).cloned(),
            after: a.get(k).cloned(),
        })
        .collect()
}

/// One version of an entry: the stored entry and what it changed from the version
/// before it (empty for the original and for a void).
#[derive(Debug, Clone, Serialize)]
pub struct HistoryVersion {
    pub version: usize,
    pub entry: Entry,
    pub changes: Vec<ValueChange>,
}

/// The chain of corrections of one entry.
#[derive(Debug, Clone, Serialize)]
pub struct EntryHistory {
    /// The first version.
    pub original: Uuid,
    /// The version that counts (the latest that is not a void).
    pub head: Uuid,
    /// The void that struck the chain out, if any.
    pub voided_by: Option<Uuid>,
    pub versions: Vec<HistoryVersion>,
}

/// The histories of `entries` (a plan's entries in sequence order), keyed by each
/// chain's original; only chains with more than one version.
pub fn histories(entries: &[Entry]) -> HashMap<Uuid, EntryHistory> {
    let by_id: HashMap<Uuid, &Entry> = entries.iter().map(|e| (e.id, e)).collect();
    let root = |mut id: Uuid| {
        for _ in 0..=entries.len() {
            match by_id.get(&id).and_then(|e| e.amends) {
                Some(prev) if by_id.contains_key(&prev) => id = prev,
                _ => break,
            }
        }
        id
    };
    let mut chains: HashMap<Uuid, Vec<&Entry>> = HashMap::new();
    for e in entries {
        chains.entry(root(e.id)).or_default().push(e);
    }
    chains
        .into_iter()
        .filter(|(_, c)| c.len() > 1)
        .map(|(root, mut chain)| {
            chain.sort_by_key(|e| e.seq);
            (root, history_of(&chain))
        })
        .collect()
}

fn history_of(chain: &[&Entry]) -> EntryHistory {
    let mut versions = Vec::with_capacity(chain.len());
    let mut prev: Option<&Entry> = None;
    for (i, e) in chain.iter().enumerate() {
        let is_void = e.kind == EntryKind::EnteredInError.as_str();
        let changes = match prev {
            Some(p) if !is_void => value_changes(&p.values, &e.values),
            _ => Vec::new(),
        };
        versions.push(HistoryVersion {
            version: i + 1,
            entry: (*e).clone(),
            changes,
        });
        if !is_void {
            prev = Some(e);
        }
    }
    let void = chain
        .iter()
        .find(|e| e.kind == EntryKind::EnteredInError.as_str());
    EntryHistory {
        original: chain[0].id,
        head: prev.map_or(chain[0].id, |p| p.id),
        voided_by: void.map(|v| v.id),
        versions,
    }
}

impl Services {
    /// The history of the chain `entry_id` belongs to: every version in order, who
    /// recorded it, when, why, and the values it changed.
    pub async fn entry_history(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        entry_id: Uuid,
    ) -> Result<EntryHistory, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        self.audit_read(actor, meta, "entry.history", &plan).await?;
        let rows = queries::entries_of_plan_in(&self.db, plan_id, &plan.region).await?;
        if !rows.iter().any(|r| r.id == entry_id) {
            return Err(ServiceError::NotFound("entry"));
        }
        let facts = crate::plan_facts::entry_facts(&rows);
        let members: BTreeSet<Uuid> = chain_of(&facts, entry_id).iter().map(|e| e.id).collect();
        let amended_by: HashMap<Uuid, Uuid> = rows
            .iter()
            .filter_map(|r| r.amends.map(|a| (a, r.id)))
            .collect();
        let voided = voided_by(&rows);
        let chain_rows: Vec<EntryRow> = rows
            .into_iter()
            .filter(|r| members.contains(&r.id))
            .collect();
        let mut entries = self.to_entries(&self.db, chain_rows, &amended_by).await?;
        mark_voided(&mut entries, &voided);
        let refs: Vec<&Entry> = entries.iter().collect();
        Ok(history_of(&refs))
    }
}
