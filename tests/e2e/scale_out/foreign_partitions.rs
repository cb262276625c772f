//! Two regions held by two other PostgreSQL servers as `postgres_fdw` foreign
//! partitions of a coordinator migrated with `--layout partitioned`; `renkei serve` runs
//! on the coordinator only.
//!
//! What `postgres_fdw` forces on the layout (README "Operations → Scale-out"): a
//! partitioned table with a primary key or unique index cannot have a foreign partition,
//! and foreign tables have no foreign keys, so the parents of the tables held remotely
//! lose their keys on the coordinator and each region server keeps them on its own table
//! (every key contains `region`: unique in its region is unique everywhere). The plan
//! heads stay on the coordinator: a plan is found by its id alone, which no partition
//! key prunes.

use super::*;

const AREA_A: &str = "安房";
const AREA_B: &str = "香取海匝";

/// The plan tables whose region partitions live on the region servers.
const REMOTE_TABLES: [&str; 1] = ["entries"];

/// A region server: the tables made by `renkei migrate`, without the foreign keys to
/// tables it does not hold, and `pg_stat_statements` to count what it was asked.
async fn region_server(bin: &std::path::Path) -> PgServer {
    let s = PgServer::start(bin, &["shared_preload_libraries = 'pg_stat_statements'"])
        .await
        .expect("region server");
    s.create_database("renkei", "renkei").await.expect("db");
    renkei(s.url("renkei", "renkei"), Vec::new())
        .run_ok(&["migrate", "--layout", "plain"], None)
        .await
        .expect("migrate the region server");
    s.sql(
        "renkei",
        "DO $$ DECLARE r record; BEGIN \
           FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint \
                    WHERE contype = 'f' AND connamespace = 'public'::regnamespace LOOP \
             EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname); \
           END LOOP; END $$",
    )
    .await
    .expect("drop foreign keys");
    s.sql("renkei", "CREATE EXTENSION pg_stat_statements")
        .await
        .expect("pg_stat_statements");
    s
}

/// On the coordinator: `table`'s partition of `area` becomes a foreign table on `server`.
async fn make_foreign(coordinator: &PgServer, table: &str, area: &str, server: &str) {
    coordinator
        .sql(
            "renkei",
            &format!(
                "DO $$ DECLARE part text := '{table}_r_' || left(md5('{area}'), 10); BEGIN \
                   EXECUTE format('DROP TABLE %I', part); \
                   EXECUTE format('CREATE FOREIGN TABLE %I PARTITION OF {table} \
                     FOR VALUES IN (%L) SERVER {server} OPTIONS (table_name %L)', \
                     part, '{area}', '{table}'); \
                 END $$"
            ),
        )
        .await
        .expect("foreign partition");
}

/// On the coordinator: `table` loses its foreign keys (both ways), primary key and unique
/// indexes, which no partitioned table with foreign partitions may have.
async fn drop_keys(coordinator: &PgServer, table: &str) {
    coordinator
        .sql(
            "renkei",
            &format!(
                "DO $$ DECLARE r record; BEGIN \
                   FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint \
                            WHERE contype = 'f' AND conparentid = 0 \
                              AND (conrelid = '{table}'::regclass \
                                   OR confrelid = '{table}'::regclass) LOOP \
                     EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', r.t, r.conname); \
                   END LOOP; \
                   FOR r IN SELECT conname FROM pg_constraint \
                            WHERE contype IN ('p', 'u') AND conrelid = '{table}'::regclass LOOP \
                     EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I CASCADE', r.conname); \
                   END LOOP; \
                   FOR r IN SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                            WHERE x.indrelid = '{table}'::regclass AND x.indisunique LOOP \
                     EXECUTE format('DROP INDEX %I', r.relname); \
                   END LOOP; \
                 END $$"
            ),
        )
        .await
        .expect("drop keys");
}

/// Statements a region server executed for clients, since the last reset.
async fn statements(s: &PgServer) -> Vec<String> {
    let out = s
        .sql(
            "renkei",
            "SELECT calls || ' × ' || regexp_replace(query, '\\s+', ' ', 'g') \
             FROM pg_stat_statements \
             WHERE query !~* 'pg_stat_statements' ORDER BY calls DESC",
        )
        .await
        .expect("pg_stat_statements");
    out.lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_and_read_in_one_region_never_touch_the_other_regions_server() {
    let Some(bin) = pg_binaries("an_append_and_read_in_one_region_never_touch_the_other") else {
        return;
    };
    let (a, b) = (region_server(&bin).await, region_server(&bin).await);
    let coordinator = PgServer::start(&bin, &[]).await.expect("coordinator");
    coordinator
        .create_database("renkei", "renkei")
        .await
        .expect("db");
    let r = renkei(coordinator.url("renkei", "renkei"), Vec::new());
    r.run_ok(&["migrate", "--layout", "partitioned"], None)
        .await
        .expect("partitioned layout");
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (org_a, org_b) = (format!("fdw-a-{run}"), format!("fdw-b-{run}"));
    for (org, area) in [(&org_a, AREA_A), (&org_b, AREA_B)] {
        r.run_ok(
            &[
                "org",
                "add",
                "--code",
                org,
                "--name",
                "試験診療所",
                "--kind",
                "clinic",
                "--area",
                area,
            ],
            None,
        )
        .await
        .expect("organisation");
    }
    let mut fdw = String::from("CREATE EXTENSION postgres_fdw;");
    for (name, s) in [("region_a", &a), ("region_b", &b)] {
        fdw.push_str(&format!(
            "CREATE SERVER {name} FOREIGN DATA WRAPPER postgres_fdw \
               OPTIONS (host '127.0.0.1', port '{}', dbname 'renkei'); \
             CREATE USER MAPPING FOR renkei SERVER {name} \
               OPTIONS (user 'renkei', password 'pw');",
            s.port
        ));
    }
    coordinator.sql("renkei", &fdw).await.expect("postgres_fdw");
    for t in REMOTE_TABLES {
        drop_keys(&coordinator, t).await;
        make_foreign(&coordinator, t, AREA_A, "region_a").await;
        make_foreign(&coordinator, t, AREA_B, "region_b").await;
    }

    let login = format!("{org_a}-u");
    r.run_ok(
        &[
            "user",
            "add",
            "--org",
            &org_a,
            "--login",
            &login,
            "--name",
            "試験 医師",
            "--profession",
            "physician",
        ],
        None,
    )
    .await
    .expect("user");
    let token = r
        .run_ok(&["token", "issue", "--login", &login], None)
        .await
        .expect("token")
        .trim()
        .to_owned();
    let work = tempfile::tempdir().expect("work dir");
    let mut server = r
        .serve(free_port().expect("port"), &work.path().join("serve.log"))
        .await
        .expect("serve on the coordinator");
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let (http, base, token) = (http.clone(), server.base.clone(), token.clone());
        async move {
            let res = http
                .post(format!("{base}{path}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .expect("POST");
            let status = res.status();
            let v: Value = res.json().await.expect("JSON");
            assert!(status.is_success(), "POST {path}: {status} {v}");
            v
        }
    };
    let patient = post(
        "/api/v1/patients".into(),
        json!({
            "name": {"family": "試験", "given": "花子",
                     "family_kana": "シケン", "given_kana": "ハナコ"},
            "birth_date": "1950-04-01", "sex": "female",
            "identifiers": [{"organization": org_a, "value": "FDW-1"}]
        }),
    )
    .await;
    let plan = post(
        "/api/v1/care-plans".into(),
        json!({"patient_id": patient["id"], "pathway": "diabetes"}),
    )
    .await;
    let client = crash::Client {
        token: token.clone(),
        plan: plan["id"].as_str().expect("plan id").to_owned(),
        stage: plan["current_stage"].as_str().expect("stage").to_owned(),
    };
    let started = chrono::DateTime::parse_from_rfc3339(plan["started_at"].as_str().expect("start"))
        .expect("start time");
    while renkei_service::Clock::default().now() <= started {
        tokio::task::yield_now().await;
    }

    // From here on, region B's server must see nothing.
    for s in [&a, &b] {
        s.sql("renkei", "SELECT pg_stat_statements_reset()")
            .await
            .expect("reset");
    }
    let entry = append(&http, &server.base, &client, "region A only").await;
    let entries = get_json(
        &http,
        &format!("{}/api/v1/care-plans/{}/entries", server.base, client.plan),
        &token,
    )
    .await;
    assert!(
        entries.to_string().contains(&entry),
        "the plan's entries read through the coordinator lack {entry}: {entries}"
    );
    get_json(
        &http,
        &format!("{}/api/v1/care-plans/{}", server.base, client.plan),
        &token,
    )
    .await;

    // Region A's server holds the entry and was asked for it.
    assert_eq!(
        a.sql(
            "renkei",
            &format!("SELECT count(*) FROM entries WHERE id = '{entry}' AND region = '{AREA_A}'"),
        )
        .await
        .expect("entry on A"),
        "1"
    );
    let on_a = statements(&a).await;
    assert!(
        on_a.iter()
            .any(|q| q.contains("INSERT INTO") && q.contains("entries")),
        "region A's server executed no insert into entries: {on_a:#?}"
    );
    // Region B's server: no statement, no row, not even a connection from the coordinator.
    let on_b = statements(&b).await;
    assert!(
        on_b.is_empty(),
        "region B's server executed statements for a region A plan: {on_b:#?}"
    );
    assert_eq!(
        b.sql("renkei", "SELECT count(*) FROM entries")
            .await
            .expect("B"),
        "0"
    );
    assert_eq!(
        b.sql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'postgres_fdw'",
        )
        .await
        .expect("B sessions"),
        "0"
    );
    server.stop().await;
}
