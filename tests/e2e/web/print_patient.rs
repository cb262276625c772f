//! Issue 13 §8: the printed 計画書. The patient's copy speaks to the patient — the goals
//! in the template's patient wording (else their title), the diagnosis of the referral,
//! each facility's liaison office with its telephone, and no projected discharge date once
//! the patient has gone home; the staff copy cuts a note longer than a page with
//! 「続きは画面で」 and its length. Both are A4 sheets (print CSS `@page { size: A4 }`).

use renkei_testkit::app::send;
use renkei_testkit::builders::days_ago;
use reqwest::Method;
use serde_json::json;

use crate::support::{app_or_skip, append, consent, stroke_plan};
use crate::web_client::{Browser, PASSWORD, web_user};

#[tokio::test]
async fn the_patient_copy_speaks_to_the_patient_and_the_staff_copy_cuts_long_notes() {
    let app = app_or_skip!();
    web_user(&app, "acute-1", "acute_hospital", "print-web").await;
    let a = renkei_service::admin::issue_token(&app.services, "print-web", "test", None)
        .await
        .expect("token");
    let r = app
        .user_token("recovery-1", "recovery_hospital", "print-rec")
        .await;
    renkei_service::admin::set_organization_phone(&app.services, "acute-1", Some("043-000-0101"))
        .await
        .expect("phone");
    renkei_service::admin::set_organization_phone(
        &app.services,
        "recovery-1",
        Some("043-000-0202"),
    )
    .await
    .expect("phone");
    assert!(
        renkei_service::admin::set_organization_phone(&app.services, "acute-1", Some("電話して"))
            .await
            .is_err(),
        "a telephone number is digits"
    );
    let plan = stroke_plan(&app, &a, 30).await;
    consent(&app, &a, &plan).await;
    append(
        &app,
        &a,
        &plan,
        json!({"stage": "acute", "kind": "stage_start", "effective_at": days_ago(29)}),
    )
    .await;

    let b = Browser::new(&app);
    b.login("print-web", PASSWORD).await;
    // Still in hospital: a projected discharge date is printed.
    let before = b.get(&format!("/care-plans/{plan}/print")).await;
    before.assert_status(200);
    assert!(before.text.contains("(退院の目安 "), "{}", before.text);

    let h = app
        .post_json(
            &format!("/api/v1/care-plans/{plan}/handovers"),
            &a,
            &json!({"to_organization": "recovery-1", "stage": "recovery",
                    "referral": {"diagnosis": "脳梗塞(右中大脳動脈領域)", "clinical_type": "cardioembolic"}}),
            None,
        )
        .await;
    h.assert_status(201);
    let id = h.body["id"].as_str().expect("id");
    send(
        app.request(Method::POST, &format!("/api/v1/handovers/{id}/accept"))
            .bearer_auth(&r)
            .header("If-Match", "\"1\""),
    )
    .await
    .assert_status(200);
    append(
        &app,
        &r,
        &plan,
        json!({"stage": "recovery", "kind": "stage_start", "effective_at": days_ago(20)}),
    )
    .await;
    let long = "リハビリの経過。".repeat(250);
    append(
        &app,
        &r,
        &plan,
        json!({"stage": "recovery", "kind": "note", "effective_at": days_ago(10), "note": long}),
    )
    .await;
    append(
        &app,
        &r,
        &plan,
        json!({"stage": "recovery", "kind": "stage_end", "effective_at": days_ago(2),
               "values": {"destination": "home"}}),
    )
    .await;

    let print = b.get(&format!("/care-plans/{plan}/print")).await;
    print.assert_status(200);
    for want in [
        "脳梗塞(右中大脳動脈領域)(心原性脳塞栓症)",
        "電話 043-000-0101",
        "電話 043-000-0202",
        "退院されました",
        // The template's patient wording (stroke v2), not the goal's staff title.
        "3週間ほどでリハビリ専門の病院へ移れる状態になる",
    ] {
        assert!(print.text.contains(want), "{want}: {}", print.text);
    }
    assert!(
        !print.text.contains("(退院の目安 "),
        "no projected discharge date: {}",
        print.text
    );

    let staff = b
        .get(&format!("/care-plans/{plan}/print?version=staff"))
        .await;
    staff.assert_status(200);
    let n = long.chars().count();
    assert!(
        staff.text.contains(&format!("…(続きは画面で・全{n}文字)")),
        "{}",
        staff.text
    );
    assert!(!staff.text.contains(&long), "the whole note is not printed");
    let css = b.get("/static/ui.css").await;
    assert!(css.text.contains("size: A4"), "A4 sheets");
}
