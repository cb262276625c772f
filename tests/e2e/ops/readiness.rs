//! `/readyz`: every check named, 200 when all pass, 503 naming the failing one.

use renkei_testkit::process::server::free_port;
use sea_orm::ConnectionTrait;
use serde_json::Value;

use super::region;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_naming_migrations_when_the_database_is_behind() {
    let Some(region) = region("opready").await else {
        return;
    };
    let mut server = region
        .renkei
        .serve(
            free_port().expect("port"),
            &region.work("log").join("serve.log"),
        )
        .await
        .expect("serve");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("{}/readyz", server.base);
    let ready = http.get(&url).send().await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);
    let body: Value = ready.json().await.expect("json");
    for check in ["database", "migrations", "pathways", "write_queue"] {
        assert_eq!(body["checks"][check], "ok", "{body}");
    }

    // The database loses its newest migration (as if restored from an older backup
    // under this program): the server is alive but not ready, and says why.
    let conn = renkei_service::connect(&renkei_service::DbSettings::new(region.db.url.clone()))
        .await
        .expect("connect");
    let newest = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT max(version) FROM seaql_migrations".to_owned(),
        ))
        .await
        .expect("query")
        .expect("a row")
        .try_get_by_index::<String>(0)
        .expect("version");
    conn.execute_unprepared(&format!(
        "DELETE FROM seaql_migrations WHERE version = '{newest}'"
    ))
    .await
    .expect("delete the newest migration's row");
    conn.close().await.expect("close");

    let res = http.get(&url).send().await.expect("readyz");
    assert_eq!(res.status().as_u16(), 503);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "unavailable", "{body}");
    assert_eq!(body["failing"], serde_json::json!(["migrations"]), "{body}");
    assert!(
        body["checks"]["migrations"]
            .as_str()
            .is_some_and(|d| d.contains(&newest)),
        "{body}"
    );
    assert_eq!(body["checks"]["database"], "ok", "{body}");
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200, "alive while not ready");
    server.kill9().await;
    region.db.cleanup().await;
}
