//! `renkei org …` and `renkei user …` as a process against the test's database.

use renkei_testkit::run_renkei;

use super::regional;
use crate::support::app_or_skip;
use crate::web_client::{Browser, PASSWORD};

async fn run(db: &str, args: Vec<String>) -> renkei_testkit::CliOutput {
    let mut all = vec!["--database".to_owned(), db.to_owned()];
    all.extend(args);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    run_renkei(&refs, None).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_org_and_user_commands_edit_require_two_factor_deactivate_disable_reset_and_unlock() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let db = app.db.cli_url();
    let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

    run(
        &db,
        v(&[
            "org",
            "add",
            "--code",
            "pharm-3",
            "--name",
            "三丁目薬局",
            "--kind",
            "pharmacy",
            "--area",
            "千葉",
        ]),
    )
    .await
    .assert_code(0);
    let out = run(
        &db,
        v(&[
            "org",
            "edit",
            "pharm-3",
            "--phone",
            "043-111-2222",
            "--fax",
            "043-111-2223",
            "--address",
            "千葉市中央区3-3",
        ]),
    )
    .await;
    out.assert_code(0);
    assert!(out.stdout.contains("fax=043-111-2223"), "{}", out.stdout);
    let bad = run(
        &db,
        v(&[
            "org", "edit", "pharm-3", "--phone", "phone", "--kind", "castle",
        ]),
    )
    .await;
    bad.assert_code(1);
    assert!(
        bad.stderr.contains("phone") && bad.stderr.contains("kind"),
        "both errors: {}",
        bad.stderr
    );
    run(&db, v(&["org", "two-factor", "pharm-3", "on"]))
        .await
        .assert_code(0);
    let o = app.get("/api/v1/organizations/pharm-3", &region).await;
    assert_eq!(o.body["require_two_factor"], true);
    assert_eq!(o.body["address"], "千葉市中央区3-3");

    // A user of the organisation: added with a temporary password, then disabled.
    let added = run(
        &db,
        v(&[
            "user",
            "add",
            "--org",
            "pharm-3",
            "--login",
            "yakuzai-1",
            "--name",
            "薬剤 一郎",
            "--profession",
            "pharmacist",
        ]),
    )
    .await;
    added.assert_code(0);
    assert!(
        added.stderr.contains("temporary password"),
        "{}",
        added.stderr
    );
    let token = renkei_service::admin::issue_token(&app.services, "yakuzai-1", "t", None)
        .await
        .expect("token");
    app.get("/api/v1/pathways", &token).await.assert_status(200);
    run(
        &db,
        v(&[
            "user",
            "edit",
            "yakuzai-1",
            "--profession",
            "nurse",
            "--role",
            "org_admin",
        ]),
    )
    .await
    .assert_code(0);
    run(&db, v(&["user", "disable", "yakuzai-1"]))
        .await
        .assert_code(0);
    app.get("/api/v1/pathways", &token).await.assert_status(401);
    run(&db, v(&["user", "enable", "yakuzai-1"]))
        .await
        .assert_code(0);
    let list = run(&db, v(&["user", "list"])).await;
    list.assert_code(0);
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with("pharm-3\tyakuzai-1\tnurse\torg_admin\t")),
        "{}",
        list.stdout
    );

    // Reset the password: the printed temporary password logs in, with a forced change.
    let reset = run(&db, v(&["user", "reset-password", "yakuzai-1"])).await;
    reset.assert_code(0);
    let temporary = reset.stdout.trim().to_owned();
    renkei_testkit::rows::edit_organization(
        &app.services.db,
        "pharm-3",
        renkei_testkit::rows::OrganizationEdit {
            require_totp: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("two-factor off for the web login");
    let b = Browser::new(&app);
    assert_eq!(
        b.try_login("yakuzai-1", &temporary).await.location(),
        Some("/password")
    );

    // Lock by failed logins, unlock from the command line.
    crate::web_client::web_user(&app, "pharm-3", "pharmacy", "yakuzai-2").await;
    let c = Browser::new(&app);
    for _ in 0..5 {
        c.try_login("yakuzai-2", "wrong-password-2").await;
    }
    assert_ne!(
        c.try_login("yakuzai-2", PASSWORD).await.location(),
        Some("/")
    );
    run(&db, v(&["user", "unlock", "yakuzai-2"]))
        .await
        .assert_code(0);
    assert_eq!(
        c.try_login("yakuzai-2", PASSWORD).await.location(),
        Some("/")
    );
    run(&db, v(&["user", "reset-two-factor", "yakuzai-2"]))
        .await
        .assert_code(0);

    // Deactivate: the organisation's users can no longer log in or use their tokens.
    let token2 = renkei_service::admin::issue_token(&app.services, "yakuzai-2", "t", None)
        .await
        .expect("token");
    run(&db, v(&["org", "deactivate", "pharm-3"]))
        .await
        .assert_code(0);
    assert_ne!(
        Browser::new(&app)
            .try_login("yakuzai-2", PASSWORD)
            .await
            .location(),
        Some("/")
    );
    app.get("/api/v1/pathways", &token2)
        .await
        .assert_status(401);
    // The revoked tokens' rows still match what the audit log recorded of them.
    let verified = run(&db, v(&["verify"])).await;
    verified.assert_code(0);
    assert!(
        verified.stdout.contains("all chains intact"),
        "{}",
        verified.stdout
    );
    let listed = run(&db, v(&["org", "list"])).await;
    assert!(
        listed
            .stdout
            .lines()
            .any(|l| l.starts_with("pharm-3\t") && l.ends_with("\tdeactivated")),
        "{}",
        listed.stdout
    );
    // The command runs on the real clock: who logged in today is not idle for a day
    // (the 90-day rule itself is tested with the test clock through the API).
    let idle = run(&db, v(&["user", "list", "--inactive-days", "1"])).await;
    idle.assert_code(0);
    assert!(!idle.stdout.contains("\tyakuzai-2\t"), "{}", idle.stdout);
    let all = run(&db, v(&["user", "list"])).await;
    assert!(all.stdout.contains("\tyakuzai-2\t"), "{}", all.stdout);

    let r = app
        .get_query("/api/v1/audit", &region, &[("limit", "1000")])
        .await;
    let by_command: Vec<String> = r.body["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|e| e["practitioner_id"].is_null() && e["outcome"] == "allowed")
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect();
    for a in [
        "organization.update",
        "organization.require_two_factor",
        "organization.deactivate",
        "user.create",
        "user.update",
        "user.disable",
        "user.enable",
        "user.reset_password",
        "user.unlock",
        "user.reset_two_factor",
    ] {
        assert!(
            by_command.iter().any(|x| x == a),
            "{a} audited as the administration command (no practitioner): {by_command:?}"
        );
    }
}
