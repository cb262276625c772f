//! PostgreSQL's partitioned layout (`renkei migrate --layout partitioned`): the rows of a
//! plan live in the partition of its region, an organisation of a new area gets its
//! partitions when it is added, and the statements that lock and read the plan on the
//! write path touch that one partition. SQLite has no partitions: the tests say so and
//! return.

use std::io::Write;

use renkei_service::admin::{self, NewOrganization};
use renkei_testkit::builders::{days_ago, entry, patient};
use renkei_testkit::{Layout, TestApp, TestDb};
use serde_json::json;
use uuid::Uuid;

use crate::support::{append, consent};

/// The area of the organisations `TestApp` creates.
const AREA_A: &str = "千葉";
const AREA_B: &str = "香取海匝";

/// A server on a fresh PostgreSQL schema made with the partitioned layout, whatever
/// `RENKEI_PG_LAYOUT` says; `None` on SQLite or when PostgreSQL is unavailable.
async fn partitioned_app() -> Option<TestApp> {
    let db = TestDb::new().await?;
    if !db.is_postgres() {
        let _ = writeln!(
            std::io::stderr(),
            "partitions: SKIPPED on SQLite (one file, no partitions); \
             set RENKEI_TEST_DATABASE_URL to run it"
        );
        return None;
    }
    let conn = db.connect().await;
    renkei_testkit::migrate_to(&conn, Layout::Partitioned)
        .await
        .expect("migrate with the partitioned layout");
    let _ = conn.close().await;
    Some(TestApp::spawn_on(db).await)
}

/// A token of an acute hospital in `AREA_B`, added after the layout was made.
async fn token_in_area_b(app: &TestApp) -> String {
    admin::add_organization(
        &app.services,
        NewOrganization {
            code: "acute-b".into(),
            name: "香取海匝 テスト病院".into(),
            kind: "acute_hospital".into(),
            area: AREA_B.into(),
        },
    )
    .await
    .expect("add an organisation of area B");
    app.user_token("acute-b", "acute_hospital", "b-user").await
}

async fn partition(app: &TestApp, table: &str, region: &str) -> String {
    renkei_testkit::rows::partition_of(&app.services.db, table, region)
        .await
        .expect("read the partitions")
        .unwrap_or_else(|| panic!("{table} has no partition for {region}"))
}

/// Rows of `plan` in `table` (by `column`), all of them and those in `partition`.
async fn rows_in(
    app: &TestApp,
    table: &str,
    column: &str,
    plan: &str,
    partition: &str,
) -> (i64, i64) {
    let all = app
        .db
        .query_i64(&format!(
            "SELECT COUNT(*) FROM {table} WHERE {column} = '{plan}'"
        ))
        .await;
    let there = app
        .db
        .query_i64(&format!(
            "SELECT COUNT(*) FROM {table} WHERE {column} = '{plan}' \
             AND tableoid = '{partition}'::regclass"
        ))
        .await;
    (all, there)
}

/// A stroke plan of a new patient of `org`, with consent and two entries.
async fn plan_with_entries(app: &TestApp, token: &str, org: &str) -> String {
    let ident = Uuid::new_v4().simple().to_string();
    let p = app
        .post_json(
            "/api/v1/patients",
            token,
            &patient("ヤマダ", "タロウ", "1948-04-01", org, &ident[..12]),
            None,
        )
        .await;
    p.assert_status(201);
    let res = app
        .post_json(
            "/api/v1/care-plans",
            token,
            &json!({"patient_id": p.body["id"], "pathway": "stroke", "variant": "standard", "started_at": days_ago(3)}),
            None,
        )
        .await;
    res.assert_status(201);
    let plan = res.body["id"].as_str().expect("plan id").to_owned();
    consent(app, token, &plan).await;
    append(
        app,
        token,
        &plan,
        entry("acute", "stage_start", &days_ago(3), json!({})),
    )
    .await;
    append(
        app,
        token,
        &plan,
        entry("acute", "assessment", &days_ago(2), json!({"mrs": 3})),
    )
    .await;
    plan
}

#[tokio::test(flavor = "multi_thread")]
async fn appends_land_in_the_partition_of_the_plans_region() {
    let Some(app) = partitioned_app().await else {
        return;
    };
    let token_a = app.token().await;
    let token_b = token_in_area_b(&app).await;
    let plan_a = plan_with_entries(&app, &token_a, "acute-1").await;
    let plan_b = plan_with_entries(&app, &token_b, "acute-b").await;

    for (plan, region, other) in [(&plan_a, AREA_A, AREA_B), (&plan_b, AREA_B, AREA_A)] {
        for (table, column) in [
            ("care_plans", "id"),
            ("entries", "care_plan_id"),
            ("care_team_members", "care_plan_id"),
            ("consents", "care_plan_id"),
        ] {
            let own = partition(&app, table, region).await;
            let (all, there) = rows_in(&app, table, column, plan, &own).await;
            assert!(all > 0, "{table} has rows of plan {plan}");
            assert_eq!(
                there, all,
                "every {table} row of the {region} plan is in {own}"
            );
            let parent = app
                .db
                .query_i64(&format!(
                    "SELECT COUNT(*) FROM pg_inherits WHERE inhrelid = '{own}'::regclass \
                     AND inhparent = '{table}'::regclass"
                ))
                .await;
            assert_eq!(parent, 1, "{own} is a partition of {table}");
            let elsewhere = partition(&app, table, other).await;
            let (_, wrong) = rows_in(&app, table, column, plan, &elsewhere).await;
            assert_eq!(
                wrong, 0,
                "no {table} row of the {region} plan is in {elsewhere}"
            );
        }
    }
    // Both entries and the plan's head moved in the region's partition.
    let entries_a = partition(&app, "entries", AREA_A).await;
    assert_eq!(
        rows_in(&app, "entries", "care_plan_id", &plan_a, &entries_a).await,
        (2, 2)
    );
    let head = app
        .db
        .query_i64(&format!(
            "SELECT last_seq FROM care_plans WHERE id = '{plan_a}'"
        ))
        .await;
    assert_eq!(head, 2);
    // Nothing of either plan fell into a DEFAULT partition.
    for table in ["care_plans", "entries", "care_team_members", "consents"] {
        let stray = app
            .db
            .query_i64(&format!("SELECT COUNT(*) FROM {table}_default"))
            .await;
        assert_eq!(stray, 0, "{table}_default stays empty");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_lock_and_read_of_a_write_touch_one_partition() {
    let Some(app) = partitioned_app().await else {
        return;
    };
    let token_a = app.token().await;
    let _ = token_in_area_b(&app).await;
    let plan: Uuid = plan_with_entries(&app, &token_a, "acute-1")
        .await
        .parse()
        .expect("plan id");
    let own = partition(&app, "care_plans", AREA_A).await;
    let other = partition(&app, "care_plans", AREA_B).await;
    let plans = renkei_testkit::rows::explain_plan_lock(&app.services.db, plan, AREA_A)
        .await
        .expect("EXPLAIN the plan lock");
    assert_eq!(plans.len(), 1, "one statement locks and reads the plan");
    for text in &plans {
        assert!(
            text.contains(&format!(" on {own}")),
            "the statement reads the region's partition {own}:\n{text}"
        );
        assert!(
            !text.contains(&other) && !text.contains("care_plans_default"),
            "the statement touches no other partition:\n{text}"
        );
    }
}
