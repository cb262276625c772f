//! The dataset loader (`renkei-bench generate`, P8): a small region loaded through the
//! bulk path, then checked by `renkei verify` as a process, counted, and its secondary
//! indexes compared with those the migrations create on an empty database.

use renkei_bench::dataset::{DatasetSpec, generate};
use renkei_store::bulk_load::{IndexDef, LOADED_TABLES, secondary_indexes};
use renkei_testkit::{TestDb, pathways_dir, run_renkei};

use crate::support::db_or_skip;

/// A region of a few dozen plans of each pathway, loaded in batches of 150 entries.
fn small_region() -> DatasetSpec {
    DatasetSpec {
        name: "region-test".into(),
        stroke: 12,
        femur: 10,
        diabetes: 25,
        years: 1,
        orgs_per_area: [1, 1, 2, 1],
    }
}

/// The index definitions with the schema name taken out (PostgreSQL qualifies the table).
fn definitions(indexes: &[IndexDef], db: &TestDb) -> Vec<(String, String)> {
    indexes
        .iter()
        .map(|i| {
            let sql = match db.schema() {
                Some(s) => i
                    .sql
                    .replace(&format!("{s}."), "")
                    .replace(&format!("\"{s}\"."), ""),
                None => i.sql.clone(),
            };
            (i.name.clone(), sql)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_loaded_region_passes_verify_with_every_row_and_index_in_place() {
    // The indexes the migrations make, read from an empty database's catalog.
    let empty = db_or_skip!();
    let empty_services = renkei_testkit::start(empty.settings(), &pathways_dir(), true)
        .await
        .expect("start on the empty database");
    let migrated = secondary_indexes(&empty_services.db, &LOADED_TABLES)
        .await
        .expect("read the empty database's indexes");
    let names: Vec<&str> = migrated.iter().map(|i| i.name.as_str()).collect();
    for expected in ["idx_audit_events_patient_at", "idx_audit_events_at"] {
        assert!(names.contains(&expected), "{names:?}");
    }

    let db = db_or_skip!();
    let services = renkei_testkit::start(db.settings(), &pathways_dir(), true)
        .await
        .expect("start");
    let events_before = db.query_i64("SELECT COUNT(*) FROM audit_events").await;
    let report = generate(&services, &small_region(), 7, 150, false)
        .await
        .expect("generate");
    assert_eq!(report.care_plans, 47);
    assert!(report.entries > 500, "{report:?}");
    assert!(report.transactions > 2, "several batches: {report:?}");
    assert_eq!(report.indexes, names, "the loader dropped and remade these");

    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM entries").await,
        report.entries as i64
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM care_plans").await,
        report.care_plans as i64
    );
    // Every loaded plan has its council report facts, fresh.
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM report_facts WHERE stale = false")
            .await,
        report.care_plans as i64
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM audit_events").await,
        events_before + report.audit_events as i64
    );
    assert_eq!(
        report.audit_events,
        report.care_plans + report.entries,
        "one enrolment event per plan and one event per entry"
    );
    let loaded = secondary_indexes(&services.db, &LOADED_TABLES)
        .await
        .expect("read the loaded database's indexes");
    assert_eq!(definitions(&loaded, &db), definitions(&migrated, &empty));

    let out = run_renkei(&["verify", "--database", &db.cli_url()], None).await;
    out.assert_code(0);
    assert!(
        out.stdout.contains(&format!("{}", report.entries)),
        "{}",
        out.stdout
    );
}
