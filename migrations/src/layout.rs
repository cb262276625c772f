//! The PostgreSQL table layout, applied after the migrations.
//!
//! - [`Layout::Plain`] (the default): the tables as the migrations make them, on both
//!   backends.
//! - [`Layout::Partitioned`] (PostgreSQL only; `renkei migrate --layout partitioned`, or
//!   `RENKEI_PG_LAYOUT=partitioned`): the plan tables ([`PARTITIONED_TABLES`]) become
//!   `PARTITION BY LIST (region)` tables, with a `DEFAULT` partition and one partition per
//!   area of the organisations present. A plan never spans regions, so every row of a plan
//!   lives in its region's partition, and a statement that names the region touches one
//!   partition. On SQLite the layout is a no-op.
//!
//! What changes on the partitioned tables, because PostgreSQL requires every primary key and
//! unique index of a partitioned table to contain the partition key:
//! - every primary key and unique index gains `region` as its last column (`(id)` becomes
//!   `(id, region)`, `(care_plan_id, seq)` becomes `(care_plan_id, seq, region)`). A plan's
//!   rows all share its region, so the keys constrain exactly what they did before;
//! - a foreign key between two partitioned tables becomes `(region, x_id) → (region, id)`,
//!   which also checks that a satellite sits in its plan's region;
//! - a foreign key from an unpartitioned table to a partitioned one cannot be kept (the
//!   target has no unique key without `region`) and is dropped. The one such key is
//!   `handover_reads.handover_id → handovers.id`: a read mark is written only by the
//!   service after it loaded the hand-over it marks, in the same request, and hand-overs are
//!   never deleted;
//! - foreign keys from a partitioned table to an unpartitioned one (organisations,
//!   practitioners, patients, pathway versions) stay as they are.
//!
//! New areas: the layout installs a trigger on `organizations` that creates the partitions
//! of an area when an organisation with an area that has none is added (or moved to it), so
//! plans of a new region never land in the `DEFAULT` partition. Rows already in the
//! `DEFAULT` partition (plans of an organisation with an empty area) stay there.
//! `SELECT renkei_region_partitions('AREA')` does the same by hand.
//!
//! The layout is made on a fresh database: turning tables that already hold rows into
//! partitioned ones is refused with a message (dump, migrate a new database with the layout,
//! restore). Applied again to a partitioned database it only adds missing area partitions.

use std::fmt;
use std::str::FromStr;

use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait,
};

/// The environment variable the test support and `renkei migrate` read.
pub const LAYOUT_VAR: &str = "RENKEI_PG_LAYOUT";

/// The tables partitioned by `region`, plans first (the order they are rebuilt in).
/// `audit_events` joins once it has its `region` column; `idempotency_keys` stays one table:
/// a key is unique per practitioner across plans, and partitioning it would narrow that to a
/// region.
pub const PARTITIONED_TABLES: [&str; 9] = [
    "care_plans",
    "entries",
    "care_team_members",
    "consents",
    "handovers",
    "reports",
    "amendment_notices",
    "break_glass_grants",
    "audit_events",
];

/// Which PostgreSQL layout a database gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    #[default]
    Plain,
    Partitioned,
}

impl Layout {
    /// From [`LAYOUT_VAR`]: unset or empty → plain.
    pub fn from_env() -> Result<Layout, String> {
        match std::env::var(LAYOUT_VAR) {
            Ok(v) if !v.trim().is_empty() => v.trim().parse(),
            _ => Ok(Layout::Plain),
        }
    }
}

impl FromStr for Layout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "plain" => Ok(Layout::Plain),
            "partitioned" => Ok(Layout::Partitioned),
            other => Err(format!(
                "unknown layout {other:?}: expected \"plain\" or \"partitioned\""
            )),
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Plain => "plain",
            Layout::Partitioned => "partitioned",
        })
    }
}

/// Brings the layout of a migrated database to `layout`. Plain and SQLite: nothing to do.
pub async fn apply(db: &DatabaseConnection, layout: Layout) -> Result<(), DbErr> {
    if layout == Layout::Plain || db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let txn = db.begin().await?;
    if !is_partitioned(&txn, "care_plans").await? {
        partition(&txn).await?;
    }
    txn.execute_unprepared(REGION_FUNCTIONS).await?;
    txn.execute_unprepared(
        "SELECT renkei_region_partitions(area) FROM (SELECT DISTINCT area FROM organizations) a",
    )
    .await?;
    txn.commit().await
}

/// Whether `table` is a partitioned table of the current schema.
pub async fn is_partitioned<C: ConnectionTrait>(c: &C, table: &str) -> Result<bool, DbErr> {
    Ok(!strings(
        c,
        &format!(
            "SELECT 'x' FROM pg_partitioned_table WHERE partrelid = to_regclass({})",
            lit(table)
        ),
    )
    .await?
    .is_empty())
}

/// The function that makes an area's partitions, and the trigger on `organizations` that
/// calls it.
const REGION_FUNCTIONS: &str = r#"
CREATE OR REPLACE FUNCTION renkei_region_partitions(area text) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
  t text;
  part text;
  in_default boolean;
  made integer := 0;
BEGIN
  IF area IS NULL OR area = '' THEN
    RETURN 0;
  END IF;
  FOREACH t IN ARRAY ARRAY['care_plans', 'entries', 'care_team_members', 'consents',
      'handovers', 'reports', 'amendment_notices', 'break_glass_grants', 'audit_events'] LOOP
    CONTINUE WHEN NOT EXISTS (
      SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(t));
    part := t || '_r_' || left(md5(area), 10);
    CONTINUE WHEN to_regclass(part) IS NOT NULL;
    -- Rows of this area already in the DEFAULT partition stay there.
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE region = $1)', t || '_default')
      INTO in_default USING area;
    IF in_default THEN
      RAISE NOTICE 'region % has rows in %_default; its partition is not made', area, t;
      CONTINUE;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES IN (%L)', part, t, area);
    EXECUTE format('COMMENT ON TABLE %I IS %L', part, 'region ' || area);
    made := made + 1;
  END LOOP;
  RETURN made;
END
$fn$;

CREATE OR REPLACE FUNCTION renkei_region_partitions_for_organization() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM renkei_region_partitions(NEW.area);
  RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS organizations_region_partitions ON organizations;
CREATE TRIGGER organizations_region_partitions
  AFTER INSERT OR UPDATE OF area ON organizations
  FOR EACH ROW EXECUTE FUNCTION renkei_region_partitions_for_organization();
"#;

struct ForeignKey {
    name: String,
    from: String,
    to: String,
    from_cols: String,
    to_cols: String,
    on_update: String,
    on_delete: String,
}

/// Rebuilds the (empty) plan tables as partitioned tables.
async fn partition<C: ConnectionTrait>(c: &C) -> Result<(), DbErr> {
    let mut tables = Vec::new();
    for t in PARTITIONED_TABLES {
        let has_region = !strings(
            c,
            &format!(
                "SELECT 'x' FROM information_schema.columns WHERE table_schema = \
                 current_schema() AND table_name = {} AND column_name = 'region'",
                lit(t)
            ),
        )
        .await?
        .is_empty();
        if has_region {
            tables.push(t);
        }
    }
    for t in &tables {
        if !strings(c, &format!("SELECT 'x' FROM {t} LIMIT 1"))
            .await?
            .is_empty()
        {
            return Err(DbErr::Custom(format!(
                "the partitioned layout is made on a fresh database, but table {t} already \
                 holds rows: migrate a new database with --layout partitioned and move the \
                 data into it (pg_dump --data-only, then psql)"
            )));
        }
    }
    let names = tables.iter().map(|t| lit(t)).collect::<Vec<_>>().join(", ");
    let fks = foreign_keys(c, &names).await?;
    for fk in &fks {
        c.execute_unprepared(&format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            fk.from,
            ident(&fk.name)
        ))
        .await?;
    }
    for t in &tables {
        rebuild(c, t).await?;
    }
    for fk in &fks {
        let from_partitioned = tables.contains(&fk.from.as_str());
        let to_partitioned = tables.contains(&fk.to.as_str());
        let (from_cols, to_cols) = match (from_partitioned, to_partitioned) {
            (_, false) => (fk.from_cols.clone(), fk.to_cols.clone()),
            (true, true) => (
                format!("region, {}", fk.from_cols),
                format!("region, {}", fk.to_cols),
            ),
            // Dropped: see the module documentation for the check that replaces it.
            (false, true) => continue,
        };
        c.execute_unprepared(&format!(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({from_cols}) REFERENCES {} \
             ({to_cols}) ON UPDATE {} ON DELETE {}",
            fk.from,
            ident(&fk.name),
            fk.to,
            fk.on_update,
            fk.on_delete
        ))
        .await?;
    }
    Ok(())
}

/// Every foreign key from or to one of `names` (a list of SQL literals).
async fn foreign_keys<C: ConnectionTrait>(c: &C, names: &str) -> Result<Vec<ForeignKey>, DbErr> {
    let sql = format!(
        "SELECT c.conname::text, f.relname::text, t.relname::text, \
           (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.o) \
              FROM unnest(c.conkey) WITH ORDINALITY k(n, o) \
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n), \
           (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.o) \
              FROM unnest(c.confkey) WITH ORDINALITY k(n, o) \
              JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n), \
           c.confupdtype::text, c.confdeltype::text \
         FROM pg_constraint c \
         JOIN pg_class f ON f.oid = c.conrelid \
         JOIN pg_class t ON t.oid = c.confrelid \
         WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace \
           AND (f.relname IN ({names}) OR t.relname IN ({names})) \
         ORDER BY c.conname"
    );
    let rows = c
        .query_all_raw(Statement::from_string(DatabaseBackend::Postgres, sql))
        .await?;
    let action = |code: String| -> String {
        match code.as_str() {
            "r" => "RESTRICT",
            "c" => "CASCADE",
            "n" => "SET NULL",
            "d" => "SET DEFAULT",
            _ => "NO ACTION",
        }
        .to_owned()
    };
    rows.into_iter()
        .map(|r| {
            Ok(ForeignKey {
                name: r.try_get_by_index(0)?,
                from: r.try_get_by_index(1)?,
                to: r.try_get_by_index(2)?,
                from_cols: r.try_get_by_index(3)?,
                to_cols: r.try_get_by_index(4)?,
                on_update: action(r.try_get_by_index(5)?),
                on_delete: action(r.try_get_by_index(6)?),
            })
        })
        .collect()
}

/// Replaces the empty table `t` by a table partitioned by `region` with the same columns,
/// defaults, checks and indexes (keys widened by `region`), and its DEFAULT partition.
async fn rebuild<C: ConnectionTrait>(c: &C, t: &str) -> Result<(), DbErr> {
    let pg = |sql: String| Statement::from_string(DatabaseBackend::Postgres, sql);
    // Sequences owned by a column (serial): kept, and given to the new table.
    let owned = c
        .query_all_raw(pg(format!(
            "SELECT s.relname::text, a.attname::text FROM pg_depend d \
             JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' \
             JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
             WHERE d.refobjid = {}::regclass AND d.deptype = 'a'",
            lit(t)
        )))
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get_by_index::<String>(0)?, r.try_get_by_index(1)?)))
        .collect::<Result<Vec<(String, String)>, DbErr>>()?;
    // Primary keys and unique constraints.
    let keys = c
        .query_all_raw(pg(format!(
            "SELECT c.conname::text, c.contype::text, \
               (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.o) \
                  FROM unnest(c.conkey) WITH ORDINALITY k(n, o) \
                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n), \
               (SELECT bool_or(a.attname = 'region') FROM unnest(c.conkey) k(n) \
                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) \
             FROM pg_constraint c WHERE c.conrelid = {}::regclass AND c.contype IN ('p', 'u') \
             ORDER BY c.contype, c.conname",
            lit(t)
        )))
        .await?;
    // Indexes not behind a constraint.
    let indexes = c
        .query_all_raw(pg(format!(
            "SELECT i.relname::text, x.indisunique, pg_get_indexdef(x.indexrelid), \
               (SELECT string_agg(pg_get_indexdef(x.indexrelid, k, true), ', ' ORDER BY k) \
                  FROM generate_series(1, x.indnkeyatts::int) k), \
               COALESCE(pg_get_expr(x.indpred, x.indrelid), ''), \
               (SELECT bool_or(a.attname = 'region') FROM unnest(x.indkey::int2[]) k(n) \
                  JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             WHERE x.indrelid = {}::regclass AND NOT EXISTS ( \
               SELECT 1 FROM pg_constraint c \
               WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid) \
             ORDER BY i.relname",
            lit(t)
        )))
        .await?;

    let next = format!("{t}__partitioned");
    for (seq, _) in &owned {
        c.execute_unprepared(&format!("ALTER SEQUENCE {} OWNED BY NONE", ident(seq)))
            .await?;
    }
    c.execute_unprepared(&format!(
        "CREATE TABLE {next} (LIKE {t} INCLUDING DEFAULTS INCLUDING GENERATED \
         INCLUDING IDENTITY INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS) \
         PARTITION BY LIST (region)"
    ))
    .await?;
    c.execute_unprepared(&format!("DROP TABLE {t}")).await?;
    c.execute_unprepared(&format!("ALTER TABLE {next} RENAME TO {t}"))
        .await?;
    for (seq, col) in &owned {
        c.execute_unprepared(&format!(
            "ALTER SEQUENCE {} OWNED BY {t}.{}",
            ident(seq),
            ident(col)
        ))
        .await?;
    }
    for k in keys {
        let name: String = k.try_get_by_index(0)?;
        let kind: String = k.try_get_by_index(1)?;
        let cols: String = k.try_get_by_index(2)?;
        let has_region: Option<bool> = k.try_get_by_index(3)?;
        let cols = if has_region == Some(true) {
            cols
        } else {
            format!("{cols}, region")
        };
        let kind = if kind == "p" { "PRIMARY KEY" } else { "UNIQUE" };
        c.execute_unprepared(&format!(
            "ALTER TABLE {t} ADD CONSTRAINT {} {kind} ({cols})",
            ident(&name)
        ))
        .await?;
    }
    for x in indexes {
        let name: String = x.try_get_by_index(0)?;
        let unique: bool = x.try_get_by_index(1)?;
        let def: String = x.try_get_by_index(2)?;
        let cols: String = x.try_get_by_index(3)?;
        let pred: String = x.try_get_by_index(4)?;
        let has_region: Option<bool> = x.try_get_by_index(5)?;
        if !unique {
            c.execute_unprepared(&def).await?;
            continue;
        }
        let cols = if has_region == Some(true) {
            cols
        } else {
            format!("{cols}, region")
        };
        let pred = if pred.is_empty() {
            String::new()
        } else {
            format!(" WHERE {pred}")
        };
        c.execute_unprepared(&format!(
            "CREATE UNIQUE INDEX {} ON {t} ({cols}){pred}",
            ident(&name)
        ))
        .await?;
    }
    c.execute_unprepared(&format!(
        "CREATE TABLE {t}_default PARTITION OF {t} DEFAULT"
    ))
    .await?;
    Ok(())
}

async fn strings<C: ConnectionTrait>(c: &C, sql: &str) -> Result<Vec<String>, DbErr> {
    c.query_all_raw(Statement::from_string(
        DatabaseBackend::Postgres,
        sql.to_owned(),
    ))
    .await?
    .into_iter()
    .map(|r| r.try_get_by_index::<String>(0))
    .collect()
}

/// A SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A quoted SQL identifier.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}
