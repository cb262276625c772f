//! The administration API: organisations and users, by the regional administrator and
//! by an organisation's administrator, with the refusals and the audit trail.

use renkei_testkit::app::send;
use renkei_testkit::{ApiResponse, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

use super::{admin_user, audit_actions, field_names, has_action, regional};
use crate::support::app_or_skip;
use crate::web_client::{Browser, PASSWORD};

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> ApiResponse {
    send(app.request(Method::PUT, path).bearer_auth(token).json(body)).await
}

async fn post(app: &TestApp, path: &str, token: &str) -> ApiResponse {
    app.post_json(path, token, &json!({}), None).await
}

#[tokio::test(flavor = "multi_thread")]
async fn organisations_are_created_edited_made_to_require_two_factor_and_deactivated_through_the_api()
 {
    let app = app_or_skip!();
    let region = regional(&app).await;

    // Create, then edit every field.
    app.post_json(
        "/api/v1/organizations",
        &region,
        &json!({"code": "clinic-new", "name": "新クリニック", "kind": "clinic", "area": "千葉"}),
        None,
    )
    .await
    .assert_status(201);
    let edited = put(
        &app,
        "/api/v1/organizations/clinic-new",
        &region,
        &json!({"name": "新町クリニック", "kind": "clinic", "area": "東葛南部",
                "phone": "047-000-1111", "fax": "047-000-2222", "address": "千葉県船橋市本町1-1"}),
    )
    .await;
    edited.assert_status(200);
    assert_eq!(edited.body["name"], "新町クリニック");
    assert_eq!(edited.body["area"], "東葛南部");
    assert_eq!(edited.body["fax"], "047-000-2222");
    assert_eq!(edited.body["address"], "千葉県船橋市本町1-1");
    assert_eq!(edited.body["active"], true);

    // Every problem at once.
    let bad = put(
        &app,
        "/api/v1/organizations/clinic-new",
        &region,
        &json!({"name": " ", "kind": "castle", "area": "東葛南部",
                "phone": "call me", "fax": "FAX", "address": "x"}),
    )
    .await;
    bad.assert_status(422);
    let mut fields = field_names(&bad.body);
    fields.sort();
    assert_eq!(fields, ["fax", "kind", "name", "phone"], "{}", bad.text);

    // The organisation's own administrator edits the contact details and requires
    // two-factor login, but not the kind or the area, and not another organisation.
    let own = admin_user(
        &app,
        "clinic-new",
        "clinic",
        "clinic-new-admin",
        &["org_admin"],
    )
    .await;
    put(
        &app,
        "/api/v1/organizations/clinic-new",
        &own,
        &json!({"name": "新町クリニック", "kind": "clinic", "area": "東葛南部",
                "phone": "047-000-3333"}),
    )
    .await
    .assert_status(200);
    let kind = put(
        &app,
        "/api/v1/organizations/clinic-new",
        &own,
        &json!({"name": "新町クリニック", "kind": "pharmacy", "area": "千葉"}),
    )
    .await;
    kind.assert_status(422);
    let mut fields = field_names(&kind.body);
    fields.sort();
    assert_eq!(fields, ["area", "kind"], "{}", kind.text);
    app.ensure_org("acute-1", "acute_hospital").await;
    put(
        &app,
        "/api/v1/organizations/acute-1",
        &own,
        &json!({"name": "乗っ取り病院", "kind": "acute_hospital", "area": "千葉"}),
    )
    .await
    .assert_status(403);
    let tf = app
        .post_json(
            "/api/v1/organizations/clinic-new/two-factor",
            &own,
            &json!({"required": true}),
            None,
        )
        .await;
    tf.assert_status(200);
    assert_eq!(tf.body["require_two_factor"], true);
    let got = app.get("/api/v1/organizations/clinic-new", &region).await;
    got.assert_status(200);
    assert_eq!(got.body["require_two_factor"], true);
    assert_eq!(got.body["phone"], "047-000-3333");

    // Only the regional administrator deactivates, never their own organisation.
    post(&app, "/api/v1/organizations/clinic-new/deactivate", &own)
        .await
        .assert_status(403);
    post(
        &app,
        "/api/v1/organizations/region-office/deactivate",
        &region,
    )
    .await
    .assert_status(422);

    // A user of the organisation with an open session and a token…
    let nurse_token = app
        .user_token("clinic-new", "clinic", "clinic-new-nurse")
        .await;
    app.get("/api/v1/pathways", &nurse_token)
        .await
        .assert_status(200);
    crate::web_client::web_user(&app, "clinic-new", "clinic", "clinic-new-web").await;
    renkei_testkit::rows::edit_organization(
        &app.services.db,
        "clinic-new",
        renkei_testkit::rows::OrganizationEdit {
            require_totp: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("two-factor off for the web login");
    let web = Browser::new(&app);
    web.login("clinic-new-web", PASSWORD).await;

    // …loses both on the next request once it is deactivated, and cannot log in.
    let off = post(&app, "/api/v1/organizations/clinic-new/deactivate", &region).await;
    off.assert_status(200);
    assert_eq!(off.body["active"], false);
    app.get("/api/v1/pathways", &nurse_token)
        .await
        .assert_status(401);
    app.get("/api/v1/pathways", &own).await.assert_status(401);
    let page = web.get("/worklist").await;
    assert_eq!(page.status, 303, "the session ended: {}", page.text);
    let again = Browser::new(&app);
    let tried = again.try_login("clinic-new-web", PASSWORD).await;
    assert_ne!(
        tried.location(),
        Some("/"),
        "a deactivated organisation's user cannot log in"
    );
    assert!(
        again.get("/worklist").await.status != 200,
        "no session after a refused login"
    );

    // Reactivated: a new login works; the revoked token stays revoked.
    post(&app, "/api/v1/organizations/clinic-new/reactivate", &region)
        .await
        .assert_status(200);
    app.get("/api/v1/pathways", &nurse_token)
        .await
        .assert_status(401);
    Browser::new(&app).login("clinic-new-web", PASSWORD).await;

    let allowed = audit_actions(&app, &region, "allowed").await;
    for action in [
        "organization.create",
        "organization.update",
        "organization.require_two_factor",
        "organization.deactivate",
        "organization.reactivate",
    ] {
        assert!(has_action(&allowed, action), "{action} audited");
    }
    let denied = audit_actions(&app, &region, "denied").await;
    assert!(has_action(&denied, "organization.update"));
    assert!(has_action(&denied, "organization.deactivate"));
    assert!(
        denied
            .iter()
            .any(|(a, d)| a == "login.password" && d == "organization_deactivated"),
        "{denied:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_user_loses_the_open_session_and_the_token_on_the_next_request() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    crate::web_client::web_user(&app, "acute-1", "acute_hospital", "leaver").await;
    let token = renkei_service::admin::issue_token(&app.services, "leaver", "t", None)
        .await
        .expect("token");
    let web = Browser::new(&app);
    web.login("leaver", PASSWORD).await;
    app.get("/api/v1/pathways", &token).await.assert_status(200);

    post(&app, "/api/v1/users/leaver/disable", &region)
        .await
        .assert_status(204);
    app.get("/api/v1/pathways", &token).await.assert_status(401);
    let page = web.get("/worklist").await;
    assert_eq!(page.status, 303, "{}", page.text);
    assert!(
        page.location().is_some_and(|l| l.starts_with("/login")),
        "{:?}",
        page.location()
    );
    let users = app.get("/api/v1/users", &region).await;
    let leaver = users.body["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["login"] == "leaver").cloned())
        .expect("listed");
    assert_eq!(leaver["disabled"], true);

    // Enabled again: the old token and session stay revoked, a new login works.
    post(&app, "/api/v1/users/leaver/enable", &region)
        .await
        .assert_status(204);
    app.get("/api/v1/pathways", &token).await.assert_status(401);
    assert_eq!(web.get("/worklist").await.status, 303);
    Browser::new(&app).login("leaver", PASSWORD).await;

    // An administrator cannot disable themselves.
    post(&app, "/api/v1/users/region-admin/disable", &region)
        .await
        .assert_status(422);
    let allowed = audit_actions(&app, &region, "allowed").await;
    assert!(
        allowed
            .iter()
            .any(|(a, d)| a == "user.disable" && d.contains("1 session(s) and 1 token(s) revoked")),
        "{allowed:?}"
    );
    assert!(has_action(&allowed, "user.enable"));
}

#[tokio::test(flavor = "multi_thread")]
async fn users_are_created_edited_reset_and_unlocked_and_an_org_admin_only_administers_their_own() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    let org_admin = admin_user(
        &app,
        "recovery-1",
        "recovery_hospital",
        "recovery-admin",
        &["org_admin"],
    )
    .await;

    // Create: a temporary password, to be changed at the first login.
    let created = app
        .post_json(
            "/api/v1/users",
            &org_admin,
            &json!({"organization": "recovery-1", "login": "new-pt", "name": "理学 花子",
                    "profession": "therapist", "roles": []}),
            None,
        )
        .await;
    created.assert_status(201);
    let temporary = created.body["temporary_password"]
        .as_str()
        .expect("temporary password")
        .to_owned();
    let b = Browser::new(&app);
    let first = b.try_login("new-pt", &temporary).await;
    assert_eq!(first.location(), Some("/password"), "forced change");

    // Every problem at once; an organisation administrator grants no regional role and
    // creates nobody in another organisation.
    let bad = app
        .post_json(
            "/api/v1/users",
            &org_admin,
            &json!({"organization": "recovery-1", "login": "Bad Login", "name": "",
                    "profession": "wizard", "roles": ["regional_admin"]}),
            None,
        )
        .await;
    bad.assert_status(422);
    let mut fields = field_names(&bad.body);
    fields.sort();
    assert_eq!(
        fields,
        ["login", "name", "profession", "roles[0]"],
        "{}",
        bad.text
    );
    app.ensure_org("acute-1", "acute_hospital").await;
    app.post_json(
        "/api/v1/users",
        &org_admin,
        &json!({"organization": "acute-1", "login": "intruder", "name": "侵入 者",
                "profession": "nurse", "roles": []}),
        None,
    )
    .await
    .assert_status(403);
    crate::web_client::web_user(&app, "acute-1", "acute_hospital", "acute-nurse-x").await;
    post(
        &app,
        "/api/v1/users/acute-nurse-x/reset-password",
        &org_admin,
    )
    .await
    .assert_status(403);
    // A nurse is no administrator at all.
    let nurse = app
        .user_token("acute-1", "acute_hospital", "plain-nurse")
        .await;
    app.get("/api/v1/users", &nurse).await.assert_status(403);

    // Edit profession and roles.
    put(
        &app,
        "/api/v1/users/new-pt",
        &org_admin,
        &json!({"name": "理学 花子", "profession": "msw", "roles": ["org_admin"]}),
    )
    .await
    .assert_status(204);
    let listed = app.get("/api/v1/users", &org_admin).await;
    listed.assert_status(200);
    let users = listed.body["users"].as_array().cloned().unwrap_or_default();
    assert!(
        users.iter().all(|u| u["organization"] == "recovery-1"),
        "an organisation administrator lists their own users only"
    );
    let pt = users
        .iter()
        .find(|u| u["login"] == "new-pt")
        .expect("new-pt listed");
    assert_eq!(pt["profession"], "msw");
    assert_eq!(pt["roles"], json!(["org_admin"]));

    // Reset the password: the old one fails, the temporary one forces a change.
    crate::web_client::web_user(&app, "recovery-1", "recovery_hospital", "forgetful").await;
    let session = Browser::new(&app);
    session.login("forgetful", PASSWORD).await;
    let reset = post(&app, "/api/v1/users/forgetful/reset-password", &org_admin).await;
    reset.assert_status(200);
    let temporary = reset.body["temporary_password"]
        .as_str()
        .expect("pw")
        .to_owned();
    assert_eq!(
        session.get("/worklist").await.status,
        303,
        "the open session ended"
    );
    assert_ne!(
        Browser::new(&app)
            .try_login("forgetful", PASSWORD)
            .await
            .location(),
        Some("/"),
        "the old password no longer works"
    );
    assert_eq!(
        Browser::new(&app)
            .try_login("forgetful", &temporary)
            .await
            .location(),
        Some("/password")
    );

    // Lock by failed logins, then unlock.
    crate::web_client::web_user(&app, "recovery-1", "recovery_hospital", "clumsy").await;
    let c = Browser::new(&app);
    for _ in 0..5 {
        c.try_login("clumsy", "wrong-password-1").await;
    }
    let locked = c.try_login("clumsy", PASSWORD).await;
    assert_ne!(locked.location(), Some("/"), "locked: {}", locked.text);
    post(&app, "/api/v1/users/clumsy/unlock", &org_admin)
        .await
        .assert_status(204);
    let unlocked = c.try_login("clumsy", PASSWORD).await;
    assert_eq!(unlocked.location(), Some("/"), "{}", unlocked.text);

    // Reset two-factor login.
    renkei_testkit::rows::edit_practitioner(
        &app.services.db,
        "clumsy",
        renkei_testkit::rows::PractitionerEdit {
            totp_enabled: Some(true),
            ..Default::default()
        },
    )
    .await
    .expect("two-factor on");
    post(&app, "/api/v1/users/clumsy/reset-two-factor", &org_admin)
        .await
        .assert_status(204);
    let after = app.get("/api/v1/users", &org_admin).await;
    let clumsy = after.body["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["login"] == "clumsy").cloned())
        .expect("listed");
    assert_eq!(clumsy["two_factor"], false);

    let allowed = audit_actions(&app, &region, "allowed").await;
    for action in [
        "user.create",
        "user.update",
        "user.reset_password",
        "user.unlock",
        "user.reset_two_factor",
    ] {
        assert!(has_action(&allowed, action), "{action} audited");
    }
    let denied = audit_actions(&app, &region, "denied").await;
    assert!(has_action(&denied, "user.create"));
    assert!(has_action(&denied, "user.reset_password"));
}

#[tokio::test(flavor = "multi_thread")]
async fn users_who_have_not_logged_in_for_90_days_are_listed() {
    let app = app_or_skip!();
    let region = regional(&app).await;
    crate::web_client::web_user(&app, "acute-1", "acute_hospital", "active-one").await;
    crate::web_client::web_user(&app, "acute-1", "acute_hospital", "idle-one").await;
    Browser::new(&app).login("idle-one", PASSWORD).await;
    app.services.clock.advance(chrono::Duration::days(91));
    Browser::new(&app).login("active-one", PASSWORD).await;
    let region = {
        // The clock moved: the administrator's token has no expiry.
        region
    };
    let r = app
        .get_query("/api/v1/users", &region, &[("inactive_days", "90")])
        .await;
    r.assert_status(200);
    let logins: Vec<&str> = r.body["users"]
        .as_array()
        .map(|u| u.iter().filter_map(|u| u["login"].as_str()).collect())
        .unwrap_or_default();
    assert!(logins.contains(&"idle-one"), "{logins:?}");
    assert!(!logins.contains(&"active-one"), "{logins:?}");
    app.get_query("/api/v1/users", &region, &[("inactive_days", "0")])
        .await
        .assert_status(422);
}
