//! Bulk loading of a generated dataset (P8): rows computed, validated and chained by the
//! domain's rules before they reach here, written without the ORM's per-row work.
//!
//! - PostgreSQL: one `COPY … FROM STDIN` (text format) per table and batch, on one
//!   connection of the pool, in one transaction per batch.
//! - SQLite: multi-row `INSERT`s with bound parameters, one statement text per table and
//!   row count (so SQLite's statement cache prepares each once), in one `BEGIN IMMEDIATE`
//!   transaction per batch.
//!
//! The secondary indexes of the loaded tables are dropped before the load and created
//! again after it, from their definitions as the database catalog holds them (the
//! migrations created them: no second list of them exists here). Primary keys, and the
//! indexes constraints depend on, stay.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::bench::{
    CarePlanRow, CareTeamRow, ConsentRow, DatasetRows, EntryRow, PatientIdentifierRow, PatientRow,
};
use crate::db::begin_write;

/// The tables a dataset load writes, in foreign-key order.
pub const LOADED_TABLES: [&str; 8] = [
    "patients",
    "patient_identifiers",
    "care_plans",
    "care_team_members",
    "consents",
    "entries",
    "audit_events",
    "report_facts",
];

/// One column value of a loaded row.
#[derive(Debug, Clone)]
enum Cell {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Int32(i32),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
    Date(NaiveDate),
}

impl Cell {
    fn into_value(self) -> Value {
        match self {
            Cell::Uuid(v) => Value::from(v),
            Cell::OptUuid(v) => Value::from(v),
            Cell::Text(v) => Value::from(v),
            Cell::OptText(v) => Value::from(v),
            Cell::Int(v) => Value::from(v),
            Cell::Int32(v) => Value::from(v),
            Cell::Bool(v) => Value::from(v),
            Cell::Time(v) => Value::from(v),
            Cell::OptTime(v) => Value::from(v),
            Cell::Date(v) => Value::from(v),
        }
    }

    /// Appends the value in PostgreSQL's COPY text format.
    fn write_copy(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        match self {
            Cell::Uuid(v) => write_uuid(out, v),
            Cell::OptUuid(Some(v)) => write_uuid(out, v),
            Cell::Text(v) | Cell::OptText(Some(v)) => copy_escape(out, v),
            Cell::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Cell::Int32(v) => {
                let _ = write!(out, "{v}");
            }
            Cell::Bool(v) => out.push(if *v { b't' } else { b'f' }),
            Cell::Time(v) | Cell::OptTime(Some(v)) => {
                let _ = write!(out, "{}", v.format("%Y-%m-%d %H:%M:%S%.6f+00"));
            }
            Cell::Date(v) => {
                let _ = write!(out, "{}", v.format("%Y-%m-%d"));
            }
            Cell::OptUuid(None) | Cell::OptText(None) | Cell::OptTime(None) => {
                out.extend_from_slice(b"\\N")
            }
        }
    }
}

fn write_uuid(out: &mut Vec<u8>, v: &Uuid) {
    let mut buf = Uuid::encode_buffer();
    out.extend_from_slice(v.hyphenated().encode_lower(&mut buf).as_bytes());
}

/// COPY text format: backslash, tab, newline and carriage return escaped.
fn copy_escape(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// A table's loaded columns and its rows, each row's cells in column order.
struct TableRows {
    table: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
}

fn patients(rows: Vec<PatientRow>) -> TableRows {
    TableRows {
        table: "patients",
        columns: &[
            "id",
            "family_name",
            "given_name",
            "family_kana",
            "given_kana",
            "kana_key",
            "birth_date",
            "sex",
            "created_at",
        ],
        rows: rows
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Uuid(r.id),
                    Cell::Text(r.family_name),
                    Cell::Text(r.given_name),
                    Cell::Text(r.family_kana),
                    Cell::Text(r.given_kana),
                    Cell::Text(r.kana_key),
                    Cell::Date(r.birth_date),
                    Cell::Text(r.sex),
                    Cell::Time(r.created_at),
                ]
            })
            .collect(),
    }
}

fn identifiers(rows: Vec<PatientIdentifierRow>) -> TableRows {
    TableRows {
        table: "patient_identifiers",
        columns: &["id", "patient_id", "organization_id", "value"],
        rows: rows
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Uuid(r.id),
                    Cell::Uuid(r.patient_id),
                    Cell::Uuid(r.organization_id),
                    Cell::Text(r.value),
                ]
            })
            .collect(),
    }
}

fn plans(rows: Vec<CarePlanRow>) -> TableRows {
    TableRows {
        table: "care_plans",
        columns: &[
            "id",
            "patient_id",
            "pathway_version_id",
            "planner_organization_id",
            "status",
            "current_stage",
            "stage_started",
            "stage_ended",
            "started_at",
            "last_seq",
            "head_hash",
            "row_version",
            "created_at",
            "updated_at",
            "region",
        ],
        rows: rows
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Uuid(r.id),
                    Cell::Uuid(r.patient_id),
                    Cell::Uuid(r.pathway_version_id),
                    Cell::Uuid(r.planner_organization_id),
                    Cell::Text(r.status),
                    Cell::Text(r.current_stage),
                    Cell::Bool(r.stage_started),
                    Cell::Bool(r.stage_ended),
                    Cell::Time(r.started_at),
                    Cell::Int(r.last_seq),
                    Cell::Text(r.head_hash),
                    Cell::Int32(r.row_version),
                    Cell::Time(r.created_at),
                    Cell::Time(r.updated_at),
                    Cell::Text(r.region),
                ]
            })
            .collect(),
    }
}

fn team(rows: Vec<CareTeamRow>) -> TableRows {
    TableRows {
        table: "care_team_members",
        columns: &[
            "id",
            "care_plan_id",
            "organization_id",
            "role",
            "stages",
            "added_at",
            "added_by",
            "region",
        ],
        rows: rows
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Uuid(r.id),
                    Cell::Uuid(r.care_plan_id),
                    Cell::Uuid(r.organization_id),
                    Cell::Text(r.role),
                    Cell::Text(r.stages),
                    Cell::Time(r.added_at),
                    Cell::OptUuid(r.added_by),
                    Cell::Text(r.region),
                ]
            })
            .collect(),
    }
}

fn consents(rows: Vec<ConsentRow>) -> TableRows {
    TableRows {
        table: "consents",
        columns: &[
            "id",
            "care_plan_id",
            "scope",
            "organizations",
            "purposes",
            "method",
            "signer",
            "proxy_relationship",
            "obtained_by_organization_id",
            "obtained_by",
            "obtained_at",
            "recorded_at",
            "withdrawn_at",
            "withdrawal_reason",
            "row_version",
            "region",
        ],
        rows: rows
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Uuid(r.id),
                    Cell::Uuid(r.care_plan_id),
                    Cell::Text(r.scope),
                    Cell::Text(r.organizations),
                    Cell::Text(r.purposes),
                    Cell::Text(r.method),
                    Cell::Text(r.signer),
                    Cell::OptText(r.proxy_relationship),
                    Cell::Uuid(r.obtained_by_organization_id),
                    Cell::Uuid(r.obtained_by),
                    Cell::Time(r.obtained_at),
                    Cell::Time(r.recorded_at),
                    Cell::OptTime(r.withdrawn_at),
                    Cell::OptText(r.withdrawal_reason),
                    Cell::Int32(r.row_version),
                    Cell::Text(r.region),
                ]
            })
            .collect(),
    }
}

fn report_facts(rows: Vec<renkei_domain::council::ReportFactsRow>, at: DateTime<Utc>) -> TableRows {
    TableRows {
        table: "report_facts",
        columns: &[
            "care_plan_id",
            "region",
            "pathway_code",
            "pathway_version",
            "planner_organization_id",
            "statistics_consent",
            "started_on",
            "ended_on",
            "status",
            "facts",
            "stale",
            "computed_at",
        ],
        rows: rows
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Uuid(r.care_plan_id),
                    Cell::Text(r.region),
                    Cell::Text(r.pathway_code),
                    Cell::Int32(i32::try_from(r.pathway_version).unwrap_or(i32::MAX)),
                    Cell::Uuid(r.planner_organization_id),
                    Cell::Bool(r.statistics_consent),
                    Cell::Text(r.started_on.format("%Y-%m-%d").to_string()),
                    Cell::OptText(r.ended_on.map(|d| d.format("%Y-%m-%d").to_string())),
                    Cell::Text(r.status),
                    Cell::Text(serde_json::to_string(&r.facts).unwrap_or_else(|_| "{}".into())),
                    Cell::Bool(false),
                    Cell::Time(at),
                ]
            })
            .collect(),
    }
}

fn entries(rows: Vec<EntryRow>) -> TableRows {
    TableRows {
        table: "entries",
        columns: &[
            "id",
            "care_plan_id",
            "seq",
            "stage",
            "kind",
            "effective_at",
            "recorded_at",
            "author_id",
            "organization_id",
            "values_json",
            "note",
            "variance",
            "amends",
            "reason",
            "prev_hash",
            "hash",
            "region",
        ],
        rows: rows
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Uuid(r.id),
                    Cell::Uuid(r.care_plan_id),
                    Cell::Int(r.seq),
                    Cell::Text(r.stage),
                    Cell::Text(r.kind),
                    Cell::Time(r.effective_at),
                    Cell::Time(r.recorded_at),
                    Cell::Uuid(r.author_id),
                    Cell::Uuid(r.organization_id),
                    Cell::Text(r.values_json),
                    Cell::OptText(r.note),
                    Cell::OptText(r.variance),
                    Cell::OptUuid(r.amends),
                    Cell::OptText(r.reason),
                    Cell::Text(r.prev_hash),
                    Cell::Text(r.hash),
                    Cell::Text(r.region),
                ]
            })
            .collect(),
    }
}

fn audit_events(rows: Vec<AuditEvent>) -> TableRows {
    TableRows {
        table: "audit_events",
        columns: &[
            "id",
            "region",
            "at",
            "practitioner_id",
            "organization_id",
            "action",
            "resource_type",
            "resource_id",
            "patient_id",
            "care_plan_id",
            "outcome",
            "request_id",
            "client_addr",
            "detail",
            "evidence",
            "leaf_hash",
        ],
        rows: rows
            .into_iter()
            .map(|e| {
                vec![
                    Cell::Uuid(e.id),
                    Cell::Text(e.region),
                    Cell::Time(e.at),
                    Cell::OptUuid(e.practitioner_id.map(Uuid::from)),
                    Cell::OptUuid(e.organization_id.map(Uuid::from)),
                    Cell::Text(e.action),
                    Cell::Text(e.resource_type),
                    Cell::OptText(e.resource_id),
                    Cell::OptUuid(e.patient_id.map(Uuid::from)),
                    Cell::OptUuid(e.care_plan_id.map(Uuid::from)),
                    Cell::Text(e.outcome),
                    Cell::OptText(e.request_id),
                    Cell::OptText(e.client_addr),
                    Cell::OptText(e.detail),
                    Cell::OptText(e.evidence),
                    Cell::OptText(e.leaf_hash),
                ]
            })
            .collect(),
    }
}

/// A secondary index of a loaded table, as the database catalog defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    pub table: String,
    pub name: String,
    /// The `CREATE INDEX` statement that makes it again.
    pub sql: String,
}

/// The secondary indexes of `tables`: on SQLite every index with a definition (those
/// SQLite made for a primary key or UNIQUE constraint have none); on PostgreSQL every
/// index of the current schema's tables that no constraint depends on. Sorted by name.
pub async fn secondary_indexes<C: ConnectionTrait>(
    c: &C,
    tables: &[&str],
) -> Result<Vec<IndexDef>, DbErr> {
    let backend = c.get_database_backend();
    let list = tables
        .iter()
        .map(|t| format!("'{}'", t.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = match backend {
        DbBackend::Sqlite => format!(
            "SELECT tbl_name AS tbl, name, sql FROM sqlite_master \
             WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({list}) ORDER BY name"
        ),
        _ => format!(
            "SELECT t.relname::text AS tbl, i.relname::text AS name, \
                    pg_get_indexdef(i.oid) AS sql \
             FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = current_schema() AND t.relname IN ({list}) \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.oid) \
             ORDER BY i.relname"
        ),
    };
    let rows = c
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    rows.into_iter()
        .map(|r| {
            let sql: String = r.try_get("", "sql")?;
            Ok(IndexDef {
                table: r.try_get("", "tbl")?,
                name: r.try_get("", "name")?,
                // An index of a partitioned table is made on the table and its
                // partitions alike.
                sql: sql.replacen(" ON ONLY ", " ON ", 1),
            })
        })
        .collect()
}

/// Drops `indexes` (see [`secondary_indexes`]).
pub async fn drop_indexes<C: ConnectionTrait>(c: &C, indexes: &[IndexDef]) -> Result<(), DbErr> {
    for ix in indexes {
        c.execute_unprepared(&format!("DROP INDEX \"{}\"", ix.name.replace('"', "\"\"")))
            .await?;
    }
    Ok(())
}

/// Creates `indexes` again from their definitions.
pub async fn create_indexes<C: ConnectionTrait>(c: &C, indexes: &[IndexDef]) -> Result<(), DbErr> {
    for ix in indexes {
        c.execute_unprepared(&ix.sql).await?;
    }
    Ok(())
}

/// SQLite's limit on bound parameters per statement (32,766 since 3.32) and
/// PostgreSQL's (65,535), with room to spare.
const MAX_PARAMS: usize = 30_000;

/// Writes batches of a dataset, one transaction per batch.
pub struct BulkLoader {
    db: DatabaseConnection,
    backend: DbBackend,
    /// PostgreSQL: the connection every batch is copied on.
    pg: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
    /// SQLite: the multi-row INSERT text per table and row count.
    statements: HashMap<(&'static str, usize), String>,
    copy_buf: Vec<u8>,
}

impl BulkLoader {
    /// A loader on `db` (holds one of its connections on PostgreSQL).
    pub async fn open(db: &DatabaseConnection) -> Result<BulkLoader, DbErr> {
        let backend = db.get_database_backend();
        let pg = match backend {
            DbBackend::Postgres => Some(
                db.get_postgres_connection_pool()
                    .acquire()
                    .await
                    .map_err(|e| DbErr::Custom(format!("acquire a connection: {e}")))?,
            ),
            _ => None,
        };
        Ok(BulkLoader {
            db: db.clone(),
            backend,
            pg,
            statements: HashMap::new(),
            copy_buf: Vec::with_capacity(1 << 20),
        })
    }

    /// Writes `rows` and `events` (pending: the region's sequencer numbers them) in one
    /// transaction.
    pub async fn write(&mut self, rows: DatasetRows, events: Vec<AuditEvent>) -> Result<(), DbErr> {
        let tables = [
            patients(rows.patients),
            identifiers(rows.identifiers),
            plans(rows.plans),
            team(rows.team),
            consents(rows.consents),
            entries(rows.entries),
            audit_events(events),
            report_facts(rows.report_facts, Utc::now()),
        ];
        match self.pg.as_mut() {
            Some(conn) => {
                let copy_buf = &mut self.copy_buf;
                let mut tx = conn.begin().await.map_err(sqlx_err)?;
                for t in tables {
                    if t.rows.is_empty() {
                        continue;
                    }
                    copy_buf.clear();
                    for row in &t.rows {
                        for (i, cell) in row.iter().enumerate() {
                            if i > 0 {
                                copy_buf.push(b'\t');
                            }
                            cell.write_copy(copy_buf);
                        }
                        copy_buf.push(b'\n');
                    }
                    let stmt = format!(
                        "COPY \"{}\" ({}) FROM STDIN",
                        t.table,
                        quoted_columns(t.columns)
                    );
                    let mut copy = (*tx).copy_in_raw(&stmt).await.map_err(sqlx_err)?;
                    copy.send(copy_buf.as_slice()).await.map_err(sqlx_err)?;
                    copy.finish().await.map_err(sqlx_err)?;
                }
                tx.commit().await.map_err(sqlx_err)?;
            }
            None => {
                let txn = begin_write(&self.db).await?;
                for t in tables {
                    let per_stmt = (MAX_PARAMS / t.columns.len()).max(1);
                    let mut rows = t.rows.into_iter().peekable();
                    while rows.peek().is_some() {
                        let chunk: Vec<Vec<Cell>> = rows.by_ref().take(per_stmt).collect();
                        let sql = self
                            .statements
                            .entry((t.table, chunk.len()))
                            .or_insert_with(|| {
                                insert_sql(self.backend, t.table, t.columns, chunk.len())
                            })
                            .clone();
                        let values: Vec<Value> =
                            chunk.into_iter().flatten().map(Cell::into_value).collect();
                        txn.execute_raw(Statement::from_sql_and_values(self.backend, sql, values))
                            .await?;
                    }
                }
                txn.commit().await?;
            }
        }
        Ok(())
    }
}

impl BulkLoader {
    /// Creates `indexes` again once the load is done: on PostgreSQL on the loader's own
    /// connection, with a larger sort memory for the index builds.
    pub async fn create_indexes(&mut self, indexes: &[IndexDef]) -> Result<(), DbErr> {
        match self.pg.as_mut() {
            Some(conn) => {
                sqlx::raw_sql("SET maintenance_work_mem = '512MB'")
                    .execute(&mut **conn)
                    .await
                    .map_err(sqlx_err)?;
                for ix in indexes {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(ix.sql.clone()))
                        .execute(&mut **conn)
                        .await
                        .map_err(sqlx_err)?;
                }
                sqlx::raw_sql("RESET maintenance_work_mem")
                    .execute(&mut **conn)
                    .await
                    .map_err(sqlx_err)?;
                Ok(())
            }
            None => create_indexes(&self.db, indexes).await,
        }
    }
}

fn sqlx_err(e: sqlx::Error) -> DbErr {
    DbErr::Custom(format!("bulk load: {e}"))
}

fn quoted_columns(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT INTO t (…) VALUES (…), …` for `rows` rows, placeholders in `backend`'s style.
fn insert_sql(backend: DbBackend, table: &str, columns: &[&str], rows: usize) -> String {
    use std::fmt::Write;
    let mut sql = format!(
        "INSERT INTO \"{table}\" ({}) VALUES ",
        quoted_columns(columns)
    );
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..columns.len() {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            match backend {
                DbBackend::Postgres => {
                    let _ = write!(sql, "${n}");
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_the_separators_and_writes_nulls() {
        let mut out = Vec::new();
        Cell::Text("a\tb\nc\\d\re".into()).write_copy(&mut out);
        out.push(b'|');
        Cell::OptText(None).write_copy(&mut out);
        out.push(b'|');
        Cell::Bool(true).write_copy(&mut out);
        assert_eq!(out, b"a\\tb\\nc\\\\d\\re|\\N|t".to_vec());
    }

    #[test]
    fn copy_text_writes_times_in_utc_with_microseconds() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T01:02:03.000456Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut out = Vec::new();
        Cell::Time(t).write_copy(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2026-12-07 01:02:03.000456+00"
        );
    }

    #[test]
    fn insert_sql_numbers_postgres_placeholders_across_rows() {
        assert_eq!(
            insert_sql(DbBackend::Postgres, "t", &["a", "b"], 2),
            "INSERT INTO \"t\" (\"a\", \"b\") VALUES ($1,$2),($3,$4)"
        );
        assert_eq!(
            insert_sql(DbBackend::Sqlite, "t", &["a"], 2),
            "INSERT INTO \"t\" (\"a\") VALUES (?),(?)"
        );
    }
}
