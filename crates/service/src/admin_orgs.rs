//! Administration of organisations without SQL (issue 18 point 7): edit the name, kind,
//! area, telephone, FAX and address; require two-factor login; deactivate (its users can
//! no longer log in or use tokens) and reactivate. The regional administrator may do all
//! of it; an organisation's administrator edits the contact details and the two-factor
//! requirement of their own organisation. The administration command (the operator, who
//! holds the database) may do all of it too. Every change and every refusal is audited.

use chrono::{DateTime, Utc};
use renkei_domain::{FieldError, Rule};
use renkei_store::admin_users::{self as store, OrganizationFields};
use renkei_store::queries::{self, OrganizationRow};
use serde::Serialize;
use uuid::Uuid;

use crate::admin::{ORGANIZATION_AREA_MAX, ORGANIZATION_KINDS, ORGANIZATION_NAME_MAX};
use crate::audit::{AuditRecord, Outcome, RequestMeta, record, record_now};
use crate::{Actor, ServiceError, Services, begin_write};

/// Who makes an administrative change: a logged-in administrator, or the operator
/// through the `renkei` command on the server.
#[derive(Debug, Clone, Copy)]
pub enum AdminBy<'a> {
    Actor(&'a Actor),
    Operator,
}

impl AdminBy<'_> {
    pub fn regional(&self) -> bool {
        match self {
            AdminBy::Actor(a) => a.has_role("regional_admin"),
            AdminBy::Operator => true,
        }
    }

    /// An administrator of organisation `id` (its own organisation administrator, the
    /// regional administrator or the operator).
    pub fn administers(&self, organization: Uuid) -> bool {
        match self {
            AdminBy::Actor(a) => {
                a.has_role("regional_admin")
                    || (a.has_role("org_admin") && a.organization_id == organization)
            }
            AdminBy::Operator => true,
        }
    }

    /// The audit record of an administrative action by this principal (the operator's
    /// names no practitioner and no organisation).
    pub fn audit(
        &self,
        action: &'static str,
        resource_type: &'static str,
        resource_id: Option<String>,
        outcome: Outcome,
    ) -> AuditRecord {
        match self {
            AdminBy::Actor(a) => AuditRecord::by(a, action, resource_type, resource_id, outcome),
            AdminBy::Operator => AuditRecord {
                practitioner_id: None,
                organization_id: None,
                action,
                resource_type,
                resource_id,
                patient_id: None,
                care_plan_id: None,
                outcome,
                detail: None,
                region: String::new(),
                writes: Vec::new(),
            },
        }
    }
}

/// Records a refusal and answers 403.
pub(crate) async fn refuse(
    services: &Services,
    meta: &RequestMeta,
    by: AdminBy<'_>,
    action: &'static str,
    resource_type: &'static str,
    resource_id: Option<String>,
    why: &str,
) -> ServiceError {
    let rec = by
        .audit(action, resource_type, resource_id, Outcome::Denied)
        .detail(why.to_owned());
    match record_now(services, meta, rec).await {
        Ok(()) => ServiceError::Forbidden,
        Err(e) => e,
    }
}

/// An organisation with everything the administration screens show.
#[derive(Debug, Clone, Serialize)]
pub struct OrganizationDetail {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub area: String,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub address: Option<String>,
    pub require_two_factor: bool,
    pub active: bool,
    pub deactivated_at: Option<DateTime<Utc>>,
}

impl From<OrganizationRow> for OrganizationDetail {
    fn from(r: OrganizationRow) -> Self {
        OrganizationDetail {
            id: r.id,
            code: r.code,
            name: r.name,
            kind: r.kind,
            area: r.area,
            phone: r.phone,
            fax: r.fax,
            address: r.address,
            require_two_factor: r.require_totp,
            active: r.deactivated_at.is_none(),
            deactivated_at: r.deactivated_at,
        }
    }
}

/// What an edit sets (all fields; the form and the API send the whole organisation).
#[derive(Debug, Clone, Default)]
pub struct OrganizationEdit {
    pub name: String,
    pub kind: String,
    pub area: String,
    pub phone: String,
    pub fax: String,
    pub address: String,
}

/// Longest postal address, in characters.
pub const ADDRESS_MAX: usize = 300;

/// A telephone or FAX number: digits, hyphens, parentheses, spaces and a leading `+`,
/// at most 20 characters, at least one digit.
pub fn is_phone(p: &str) -> bool {
    p.chars().count() <= 20
        && p.chars().any(|c| c.is_ascii_digit())
        && p.chars().enumerate().all(|(i, c)| {
            c.is_ascii_digit() || matches!(c, '-' | '(' | ')' | ' ') || (c == '+' && i == 0)
        })
}

fn optional(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Every problem of an edit at once.
pub fn validate_edit(e: &OrganizationEdit) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(err) = renkei_domain::text::check_name("name", &e.name, ORGANIZATION_NAME_MAX) {
        errors.push(err);
    }
    if !ORGANIZATION_KINDS.contains(&e.kind.as_str()) {
        errors.push(FieldError::new(
            "kind",
            Rule::Allowed,
            format!("kind must be one of {}", ORGANIZATION_KINDS.join(", ")),
        ));
    }
    if let Err(err) = renkei_domain::text::check_name("area", &e.area, ORGANIZATION_AREA_MAX) {
        errors.push(err);
    }
    for (field, value) in [("phone", &e.phone), ("fax", &e.fax)] {
        if let Some(v) = optional(value)
            && !is_phone(&v)
        {
            errors.push(FieldError::new(
                field,
                Rule::Format,
                "a telephone number: digits, hyphens, parentheses, at most 20 characters",
            ));
        }
    }
    if let Some(a) = optional(&e.address)
        && let Err(err) = renkei_domain::text::check_name("address", &a, ADDRESS_MAX)
    {
        errors.push(err);
    }
    errors
}

async fn organization(services: &Services, code: &str) -> Result<OrganizationRow, ServiceError> {
    queries::organization_by_code(&services.db, code)
        .await?
        .ok_or(ServiceError::NotFound("organization"))
}

/// Every organisation with its details (the regional administrator and the operator),
/// or the administrator's own (an organisation administrator).
pub async fn organizations_for(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
) -> Result<Vec<OrganizationDetail>, ServiceError> {
    let all = queries::list_organizations(&services.db).await?;
    let rows: Vec<OrganizationDetail> = all
        .into_iter()
        .filter(|o| by.administers(o.id))
        .map(OrganizationDetail::from)
        .collect();
    if rows.is_empty() && !by.regional() {
        return Err(refuse(
            services,
            meta,
            by,
            "organization.list",
            "organization",
            None,
            "not an administrator",
        )
        .await);
    }
    Ok(rows)
}

/// One organisation's details, for one of its administrators.
pub async fn organization_detail(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    code: &str,
) -> Result<OrganizationDetail, ServiceError> {
    let org = organization(services, code).await?;
    if !by.administers(org.id) {
        return Err(refuse(
            services,
            meta,
            by,
            "organization.read",
            "organization",
            Some(org.id.to_string()),
            "not an administrator of this organisation",
        )
        .await);
    }
    Ok(org.into())
}

/// Edits an organisation. Its kind and area belong to the regional administrator; an
/// organisation administrator changing them gets a field error on each, with every
/// other problem of the edit at once.
pub async fn update_organization(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    code: &str,
    edit: OrganizationEdit,
) -> Result<OrganizationDetail, ServiceError> {
    let org = organization(services, code).await?;
    if !by.administers(org.id) {
        return Err(refuse(
            services,
            meta,
            by,
            "organization.update",
            "organization",
            Some(org.id.to_string()),
            "not an administrator of this organisation",
        )
        .await);
    }
    let mut errors = validate_edit(&edit);
    if !by.regional() {
        if edit.kind != org.kind {
            errors.push(FieldError::new(
                "kind",
                Rule::NotAllowed,
                "only the regional administrator changes the kind",
            ));
        }
        if edit.area.trim() != org.area {
            errors.push(FieldError::new(
                "area",
                Rule::NotAllowed,
                "only the regional administrator changes the area",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let fields = OrganizationFields {
        name: edit.name.trim().to_owned(),
        kind: edit.kind.clone(),
        area: edit.area.trim().to_owned(),
        phone: optional(&edit.phone),
        fax: optional(&edit.fax),
        address: optional(&edit.address),
    };
    let changed: Vec<&str> = [
        ("name", fields.name != org.name),
        ("kind", fields.kind != org.kind),
        ("area", fields.area != org.area),
        ("phone", fields.phone != org.phone),
        ("fax", fields.fax != org.fax),
        ("address", fields.address != org.address),
    ]
    .into_iter()
    .filter(|(_, c)| *c)
    .map(|(f, _)| f)
    .collect();
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    store::update_organization(&txn, org.id, fields).await?;
    record(
        &txn,
        at,
        meta,
        by.audit(
            "organization.update",
            "organization",
            Some(org.id.to_string()),
            Outcome::Allowed,
        )
        .detail(format!("{}: changed {}", org.code, changed.join(", "))),
    )
    .await?;
    txn.commit().await?;
    organization(services, code).await.map(Into::into)
}

/// Requires (or stops requiring) two-factor login of every user of the organisation.
pub async fn set_require_two_factor(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    code: &str,
    required: bool,
) -> Result<OrganizationDetail, ServiceError> {
    let org = organization(services, code).await?;
    if !by.administers(org.id) {
        return Err(refuse(
            services,
            meta,
            by,
            "organization.require_two_factor",
            "organization",
            Some(org.id.to_string()),
            "not an administrator of this organisation",
        )
        .await);
    }
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    store::set_require_totp(&txn, org.id, required).await?;
    record(
        &txn,
        at,
        meta,
        by.audit(
            "organization.require_two_factor",
            "organization",
            Some(org.id.to_string()),
            Outcome::Allowed,
        )
        .detail(format!(
            "{}: two-factor login {}",
            org.code,
            if required { "required" } else { "optional" }
        )),
    )
    .await?;
    txn.commit().await?;
    organization(services, code).await.map(Into::into)
}

/// Deactivates (or reactivates) an organisation: the regional administrator only, never
/// their own organisation. Deactivation revokes every session and API token of its
/// users at once; from then on they cannot log in. Nothing of its record is deleted.
pub async fn set_active(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    code: &str,
    active: bool,
) -> Result<OrganizationDetail, ServiceError> {
    let action = if active {
        "organization.reactivate"
    } else {
        "organization.deactivate"
    };
    let org = organization(services, code).await?;
    if !by.regional() {
        return Err(refuse(
            services,
            meta,
            by,
            action,
            "organization",
            Some(org.id.to_string()),
            "only the regional administrator may",
        )
        .await);
    }
    if let AdminBy::Actor(a) = by
        && !active
        && a.organization_id == org.id
    {
        return Err(ServiceError::field(
            "organization",
            Rule::ToSelf,
            "an administrator cannot deactivate their own organisation",
        ));
    }
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    let mut sessions = 0;
    let mut tokens = Vec::new();
    if active {
        store::set_deactivated(&txn, org.id, None).await?;
    } else {
        store::set_deactivated(&txn, org.id, Some(org.deactivated_at.unwrap_or(at))).await?;
        for p in store::practitioners_of(&txn, org.id).await? {
            let (s, t) = store::revoke_all_access(&txn, p, at).await?;
            sessions += s;
            tokens.extend(t);
        }
    }
    let mut rec = by
        .audit(
            action,
            "organization",
            Some(org.id.to_string()),
            Outcome::Allowed,
        )
        .detail(if active {
            org.code.clone()
        } else {
            format!(
                "{}: {sessions} session(s) and {} token(s) revoked",
                org.code,
                tokens.len()
            )
        });
    for t in tokens {
        rec = rec.wrote(renkei_domain::evidence::EvidenceKind::Token, t);
    }
    record(&txn, at, meta, rec).await?;
    txn.commit().await?;
    organization(services, code).await.map(Into::into)
}
