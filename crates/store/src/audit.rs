//! The audit log's rows: events (inserted unsequenced, given their `seq` later by their
//! region's sequencer), each region's tree state and the signed checkpoints. The hashing
//! and signing rules live in the domain and the service; here is only how the rows are
//! read and written.

use chrono::{DateTime, Utc};
use renkei_domain::ids::{OrgId, PatientId, PlanId, PractitionerId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, Value,
};
use uuid::Uuid;

use crate::entity::{audit_checkpoints, audit_events, audit_trees};
use crate::error::StoreError;

type R<T> = Result<T, StoreError>;

/// One stored audit event, every column but the insertion order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: Uuid,
    pub region: String,
    /// Position in the region's tree (from 1), once sequenced.
    pub seq: Option<i64>,
    pub at: DateTime<Utc>,
    pub practitioner_id: Option<PractitionerId>,
    pub organization_id: Option<OrgId>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub patient_id: Option<PatientId>,
    pub care_plan_id: Option<PlanId>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
    pub evidence: Option<String>,
    /// Hex RFC 9162 leaf hash; `None` for events written as a hash chain before.
    pub leaf_hash: Option<String>,
    /// Chain fields of the events written before the Merkle log.
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

/// An event with its insertion order, as the sequencer and `verify` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub local_id: i64,
    pub event: AuditEvent,
}

impl From<audit_events::Model> for StoredEvent {
    fn from(m: audit_events::Model) -> Self {
        StoredEvent {
            local_id: m.local_id,
            event: AuditEvent {
                id: m.id,
                region: m.region,
                seq: m.seq,
                at: m.at,
                practitioner_id: m.practitioner_id.map(PractitionerId::from),
                organization_id: m.organization_id.map(OrgId::from),
                action: m.action,
                resource_type: m.resource_type,
                resource_id: m.resource_id,
                patient_id: m.patient_id.map(PatientId::from),
                care_plan_id: m.care_plan_id.map(PlanId::from),
                outcome: m.outcome,
                request_id: m.request_id,
                client_addr: m.client_addr,
                detail: m.detail,
                evidence: m.evidence,
                leaf_hash: m.leaf_hash,
                prev_hash: m.prev_hash,
                hash: m.hash,
            },
        }
    }
}

fn active(e: &AuditEvent) -> audit_events::ActiveModel {
    audit_events::ActiveModel {
        id: Set(e.id),
        local_id: NotSet,
        region: Set(e.region.clone()),
        seq: Set(e.seq),
        at: Set(e.at),
        practitioner_id: Set(e.practitioner_id.map(Uuid::from)),
        organization_id: Set(e.organization_id.map(Uuid::from)),
        action: Set(e.action.clone()),
        resource_type: Set(e.resource_type.clone()),
        resource_id: Set(e.resource_id.clone()),
        patient_id: Set(e.patient_id.map(Uuid::from)),
        care_plan_id: Set(e.care_plan_id.map(Uuid::from)),
        outcome: Set(e.outcome.clone()),
        request_id: Set(e.request_id.clone()),
        client_addr: Set(e.client_addr.clone()),
        detail: Set(e.detail.clone()),
        evidence: Set(e.evidence.clone()),
        leaf_hash: Set(e.leaf_hash.clone()),
        prev_hash: Set(e.prev_hash.clone()),
        hash: Set(e.hash.clone()),
    }
}

/// Inserts one event (one statement; no other row is touched).
pub async fn insert_event<C: ConnectionTrait>(c: &C, e: &AuditEvent) -> R<()> {
    audit_events::Entity::insert(active(e))
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Events per multi-row INSERT: 20 columns each stays under SQLite's 32 766 parameters.
const INSERT_CHUNK: usize = 1_000;

/// Inserts many events, in order, with multi-row INSERTs (their insertion order is the
/// slice's order).
pub async fn insert_events<C: ConnectionTrait>(c: &C, events: &[AuditEvent]) -> R<()> {
    for chunk in events.chunks(INSERT_CHUNK) {
        audit_events::Entity::insert_many(chunk.iter().map(active))
            .exec_without_returning(c)
            .await?;
    }
    Ok(())
}

/// Up to `limit` unsequenced events of `region`, in insertion order.
pub async fn pending<C: ConnectionTrait>(c: &C, region: &str, limit: u64) -> R<Vec<StoredEvent>> {
    Ok(audit_events::Entity::find()
        .filter(audit_events::Column::Region.eq(region))
        .filter(audit_events::Column::Seq.is_null())
        .order_by_asc(audit_events::Column::LocalId)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(StoredEvent::from)
        .collect())
}

/// `FROM` for a read of the unsequenced events only. SQLite's planner, without
/// statistics, scans the whole log through its `(region, seq)` index for `seq IS NULL`
/// rather than the small partial index that holds exactly those events (half a second at
/// 8 M events, on every wake of the sequencer); it is named. PostgreSQL picks the partial
/// index from its statistics.
fn pending_from(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Sqlite => "audit_events INDEXED BY idx_audit_events_pending",
        _ => "audit_events",
    }
}

/// The regions with unsequenced events.
pub async fn pending_regions<C: ConnectionTrait>(c: &C) -> R<Vec<String>> {
    let rows = c
        .query_all_raw(pending_regions_statement(c.get_database_backend()))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "region"))
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

/// The statement [`pending_regions`] runs.
pub(crate) fn pending_regions_statement(backend: DbBackend) -> Statement {
    Statement::from_string(
        backend,
        format!(
            "SELECT DISTINCT region FROM {} WHERE seq IS NULL ORDER BY region",
            pending_from(backend)
        ),
    )
}

/// How many events wait for their sequencer.
pub async fn pending_count<C: ConnectionTrait>(c: &C) -> R<u64> {
    let n = match c
        .query_one_raw(pending_count_statement(c.get_database_backend()))
        .await?
    {
        Some(r) => r.try_get::<i64>("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The statement [`pending_count`] runs.
pub(crate) fn pending_count_statement(backend: DbBackend) -> Statement {
    Statement::from_string(
        backend,
        format!(
            "SELECT COUNT(*) AS n FROM {} WHERE seq IS NULL",
            pending_from(backend)
        ),
    )
}

/// Gives events their `seq`: `(local_id, seq)` pairs, one statement per chunk.
pub async fn assign_seqs<C: ConnectionTrait>(c: &C, region: &str, pairs: &[(i64, i64)]) -> R<()> {
    for s in assign_seqs_statements(c.get_database_backend(), region, pairs) {
        c.execute_raw(s).await?;
    }
    Ok(())
}

/// The statements [`assign_seqs`] runs, one per chunk of [`INSERT_CHUNK`] pairs.
pub(crate) fn assign_seqs_statements(
    backend: DbBackend,
    region: &str,
    pairs: &[(i64, i64)],
) -> Vec<Statement> {
    let mut out = Vec::new();
    for chunk in pairs.chunks(INSERT_CHUNK) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 2 + 1);
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, (local_id, seq)) in chunk.iter().enumerate() {
            rows.push(match backend {
                DbBackend::Postgres => format!("(${}::BIGINT, ${}::BIGINT)", 2 * i + 1, 2 * i + 2),
                _ => "(?, ?)".to_owned(),
            });
            values.push((*local_id).into());
            values.push((*seq).into());
        }
        // PostgreSQL: the region and `seq IS NULL` let the pending events' partial index
        // (region, local_id) find the rows, instead of a scan of the whole log per chunk.
        // SQLite: the rowid alone; given the region, its planner walks that partial index
        // for every chunk (all of the region's pending events each time) instead of
        // looking each `local_id` up.
        let sql = match backend {
            DbBackend::Postgres => {
                values.push(region.into());
                format!(
                    "UPDATE audit_events SET seq = v.column2 FROM (VALUES {}) AS v \
                     WHERE audit_events.local_id = v.column1 AND audit_events.region = ${} \
                     AND audit_events.seq IS NULL",
                    rows.join(", "),
                    2 * chunk.len() + 1
                )
            }
            _ => format!(
                "UPDATE audit_events SET seq = v.column2 FROM (VALUES {}) AS v \
                 WHERE audit_events.local_id = v.column1",
                rows.join(", ")
            ),
        };
        out.push(Statement::from_sql_and_values(backend, sql, values));
    }
    out
}

/// Up to `limit` sequenced events of `region` in `seq` order, after `after_seq`.
pub async fn events_page<C: ConnectionTrait>(
    c: &C,
    region: &str,
    after_seq: i64,
    limit: u64,
) -> R<Vec<StoredEvent>> {
    Ok(audit_events::Entity::find()
        .filter(audit_events::Column::Region.eq(region))
        .filter(audit_events::Column::Seq.gt(after_seq))
        .order_by_asc(audit_events::Column::Seq)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(StoredEvent::from)
        .collect())
}

/// Every region that has events or a tree, in order.
pub async fn regions<C: ConnectionTrait>(c: &C) -> R<Vec<String>> {
    let mut out: Vec<String> = audit_events::Entity::find()
        .select_only()
        .column(audit_events::Column::Region)
        .distinct()
        .into_tuple::<String>()
        .all(c)
        .await?;
    out.extend(
        audit_trees::Entity::find()
            .select_only()
            .column(audit_trees::Column::Region)
            .into_tuple::<String>()
            .all(c)
            .await?,
    );
    out.sort();
    out.dedup();
    Ok(out)
}

/// A region's tree state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeState {
    pub region: String,
    pub tree_size: i64,
    pub frontier: String,
    pub root_hash: String,
    pub updated_at: DateTime<Utc>,
}

impl From<audit_trees::Model> for TreeState {
    fn from(m: audit_trees::Model) -> Self {
        TreeState {
            region: m.region,
            tree_size: m.tree_size,
            frontier: m.frontier,
            root_hash: m.root_hash,
            updated_at: m.updated_at,
        }
    }
}

/// A region's tree state; on PostgreSQL with its row lock (one sequencer at a time per
/// region; SQLite's write transaction already excludes the others).
pub async fn tree_for_update<C: ConnectionTrait>(c: &C, region: &str) -> R<Option<TreeState>> {
    let mut q = audit_trees::Entity::find_by_id(region.to_owned());
    if c.get_database_backend() == DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    Ok(q.one(c).await?.map(TreeState::from))
}

/// Every region's tree state.
pub async fn trees<C: ConnectionTrait>(c: &C) -> R<Vec<TreeState>> {
    Ok(audit_trees::Entity::find()
        .order_by_asc(audit_trees::Column::Region)
        .all(c)
        .await?
        .into_iter()
        .map(TreeState::from)
        .collect())
}

/// Creates the region's tree row if it does not exist yet (empty), so it can be locked.
pub async fn ensure_tree<C: ConnectionTrait>(c: &C, region: &str, at: DateTime<Utc>) -> R<()> {
    audit_trees::Entity::insert(audit_trees::ActiveModel {
        region: Set(region.to_owned()),
        tree_size: Set(-1),
        frontier: Set(String::new()),
        root_hash: Set(String::new()),
        updated_at: Set(at),
    })
    .on_conflict_do_nothing_on([audit_trees::Column::Region])
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Stores a region's new tree state.
pub async fn save_tree<C: ConnectionTrait>(c: &C, t: &TreeState) -> R<()> {
    audit_trees::Entity::update_many()
        .col_expr(audit_trees::Column::TreeSize, Expr::value(t.tree_size))
        .col_expr(
            audit_trees::Column::Frontier,
            Expr::value(t.frontier.clone()),
        )
        .col_expr(
            audit_trees::Column::RootHash,
            Expr::value(t.root_hash.clone()),
        )
        .col_expr(audit_trees::Column::UpdatedAt, Expr::value(t.updated_at))
        .filter(audit_trees::Column::Region.eq(t.region.as_str()))
        .exec(c)
        .await?;
    Ok(())
}

/// A signed tree head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub region: String,
    pub tree_size: i64,
    pub root_hash: String,
    pub at: DateTime<Utc>,
    pub key_id: String,
    pub signature: String,
}

impl From<audit_checkpoints::Model> for Checkpoint {
    fn from(m: audit_checkpoints::Model) -> Self {
        Checkpoint {
            region: m.region,
            tree_size: m.tree_size,
            root_hash: m.root_hash,
            at: m.at,
            key_id: m.key_id,
            signature: m.signature,
        }
    }
}

/// Stores a checkpoint; one already stored for the same size (a tree rebuilt to a size
/// it had) is kept.
pub async fn insert_checkpoint<C: ConnectionTrait>(c: &C, k: &Checkpoint) -> R<()> {
    audit_checkpoints::Entity::insert(audit_checkpoints::ActiveModel {
        region: Set(k.region.clone()),
        tree_size: Set(k.tree_size),
        root_hash: Set(k.root_hash.clone()),
        at: Set(k.at),
        key_id: Set(k.key_id.clone()),
        signature: Set(k.signature.clone()),
    })
    .on_conflict_do_nothing_on([
        audit_checkpoints::Column::Region,
        audit_checkpoints::Column::TreeSize,
    ])
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Every stored checkpoint, by region then tree size.
pub async fn checkpoints<C: ConnectionTrait>(c: &C) -> R<Vec<Checkpoint>> {
    Ok(audit_checkpoints::Entity::find()
        .order_by_asc(audit_checkpoints::Column::Region)
        .order_by_asc(audit_checkpoints::Column::TreeSize)
        .all(c)
        .await?
        .into_iter()
        .map(Checkpoint::from)
        .collect())
}

/// The latest checkpoint of `region`.
pub async fn latest_checkpoint<C: ConnectionTrait>(c: &C, region: &str) -> R<Option<Checkpoint>> {
    Ok(audit_checkpoints::Entity::find()
        .filter(audit_checkpoints::Column::Region.eq(region))
        .order_by_desc(audit_checkpoints::Column::TreeSize)
        .one(c)
        .await?
        .map(Checkpoint::from))
}
