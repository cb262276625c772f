//! The statement the audit sequencer numbers a batch with finds each event by its id,
//! whatever the region holds: on SQLite a plan that walks the region's pending events for
//! every chunk makes a bulk load's sequencing grow with the square of the events.

use std::io::Write;

use renkei_testkit::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sequencer_numbers_a_batch_by_rowid_on_sqlite() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    if app.db.is_postgres() {
        let _ = writeln!(
            std::io::stderr(),
            "audit_sequencing: SKIPPED on PostgreSQL (its form goes through the pending \
             events' partial index; BENCHMARKS.md P8 measures it)"
        );
        return;
    }
    let plan = renkei_testkit::rows::explain_assign_seqs(&app.services.db, "千葉", 1_000)
        .await
        .expect("explain");
    assert!(
        plan.contains("USING INTEGER PRIMARY KEY"),
        "each event is looked up by its rowid:\n{plan}"
    );
    assert!(
        !plan.contains("uq_audit_events_region_seq") && !plan.contains("idx_audit_events_pending"),
        "no walk of the region's events per chunk:\n{plan}"
    );
}
