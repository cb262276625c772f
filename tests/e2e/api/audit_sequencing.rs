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

/// The reads made on every request (the access decision) or every wake of a background
/// task (the sequencer's pending regions and count, the worklist's stale plans of an
/// organisation) are index lookups on SQLite, not walks of the region: at region-1y a
/// walk of the audit log or of the consents costs tens to hundreds of milliseconds each
/// time. Without statistics SQLite's planner chose those walks; these plans are what
/// the named indexes and the empty joined tables of the statements give.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reads_every_request_makes_use_indexes_on_sqlite() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    if app.db.is_postgres() {
        let _ = writeln!(
            std::io::stderr(),
            "hot reads: SKIPPED on PostgreSQL (its planner chooses by statistics, which a \
             test database of a few rows does not have)"
        );
        return;
    }
    let plans = renkei_testkit::rows::explain_hot_reads(&app.services.db)
        .await
        .expect("explain");
    let plan = |name: &str| {
        plans
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("{name} not explained"))
    };
    for name in ["pending_regions", "pending_count"] {
        let p = plan(name);
        assert!(
            p.contains("idx_audit_events_pending") && !p.contains("uq_audit_events_region_seq"),
            "{name} reads the pending events' partial index:\n{p}"
        );
    }
    let p = plan("stale_plans_of_org");
    assert!(
        p.contains("ix_care_plans_work_stale")
            && p.contains("ix_care_plans_work_valid_until")
            && !p.contains("SCAN"),
        "stale plans of an organisation: each condition by its index, no scan:\n{p}"
    );
    let p = plan("report_facts_to_refresh");
    assert!(
        p.contains("ix_report_facts_stale") && !p.contains("SCAN"),
        "report facts to refresh: the stale rows' index, no scan:\n{p}"
    );
    let p = plan("access_rows");
    for (alias, table) in [
        ("t", "care_team_members"),
        ("c", "consents"),
        ("i", "idempotency_keys"),
    ] {
        assert!(
            p.contains(&format!("MATERIALIZE {alias}")),
            "the access rows join an empty {table}, not the table itself:\n{p}"
        );
    }
    assert!(
        p.contains("idx_consents_care_plan_id") && p.contains("uq_care_team_members_plan_org"),
        "the plan's own team and consents by their indexes:\n{p}"
    );
}
