//! Set-up for access tests: practitioners of any profession and role with an API token,
//! and disabling a practitioner (there is no use case for that yet).

use renkei_service::admin::{self, NewPractitioner};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use uuid::Uuid;

use crate::app::TestApp;

/// A practitioner created for a test, with a bearer token.
#[derive(Debug, Clone)]
pub struct TestPractitioner {
    pub id: Uuid,
    pub login: String,
    pub organization: String,
    pub profession: String,
    pub roles: Vec<String>,
    pub token: String,
}

/// Creates practitioner `login` of `profession` with `roles` (`org_admin`,
/// `regional_admin`) in organisation `org_code` (created as `org_kind` when missing),
/// and issues an API token.
pub async fn practitioner(
    app: &TestApp,
    org_code: &str,
    org_kind: &str,
    login: &str,
    profession: &str,
    roles: &[&str],
) -> TestPractitioner {
    app.ensure_org(org_code, org_kind).await;
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let id = admin::add_practitioner(
        &app.services,
        NewPractitioner {
            organization_code: org_code.to_owned(),
            login: login.to_owned(),
            name: format!("{login} テスト"),
            profession: profession.to_owned(),
            roles: roles.clone(),
            password: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("add practitioner {login}: {e:?}"));
    let token = admin::issue_token(&app.services, login, "test", None)
        .await
        .unwrap_or_else(|e| panic!("issue token for {login}: {e:?}"));
    TestPractitioner {
        id,
        login: login.to_owned(),
        organization: org_code.to_owned(),
        profession: profession.to_owned(),
        roles,
        token,
    }
}

/// Marks a practitioner disabled (as an administrator would): their tokens stop working.
pub async fn disable_practitioner(app: &TestApp, id: Uuid) {
    let db = &app.services.db;
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => "UPDATE practitioners SET disabled_at = $1 WHERE id = $2",
        _ => "UPDATE practitioners SET disabled_at = ? WHERE id = ?",
    };
    let res = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [chrono::Utc::now().into(), id.into()],
        ))
        .await
        .unwrap_or_else(|e| panic!("disable practitioner {id}: {e}"));
    assert_eq!(res.rows_affected(), 1, "no practitioner {id} to disable");
}
