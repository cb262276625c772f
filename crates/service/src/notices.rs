//! Amendment notices (修正のお知らせ): when an entry is corrected or voided, every other
//! organisation that read or printed the plan (the audit log's reads) between the old
//! version's recording and the correction gets a notice, open until one of its users
//! acknowledges it.

use chrono::{DateTime, Utc};
use renkei_domain::access::Action;
use renkei_domain::entry::EntryKind;
use renkei_store::notices::{self, NoticeRow};
use renkei_store::queries;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::corrections::{ValueChange, value_changes};
use crate::{Actor, ServiceError, Services};

/// Writes the notices about `entry`, the correction or void of `target`, for every other
/// organisation that read or printed the plan after `target` was recorded.
pub(crate) async fn notify_readers<C: ConnectionTrait>(
    c: &C,
    actor: &Actor,
    plan: Uuid,
    region: &str,
    target: Uuid,
    entry: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let Some(old) = queries::entry_by_id(c, target).await? else {
        return Ok(());
    };
    let readers =
        notices::readers_between(c, plan, old.recorded_at, now, actor.organization_id).await?;
    notices::insert_notices(c, plan, region, entry, &readers, now).await?;
    Ok(())
}

/// An open notice as the API and the pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct AmendmentNotice {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub patient_id: Uuid,
    /// `corrected` or `entered_in_error`.
    pub kind: String,
    /// The correction or void.
    pub entry_id: Uuid,
    /// The version it replaced or struck out.
    pub amends: Uuid,
    pub stage: String,
    /// The kind of the corrected entry (`assessment`, `stage_end` …).
    pub entry_kind: String,
    /// The values that changed (empty for a void).
    pub changes: Vec<ValueChange>,
    pub reason: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub organization_name: String,
    pub author_name: String,
    pub created_at: DateTime<Utc>,
}

impl Services {
    async fn notice_view<C: ConnectionTrait>(
        &self,
        c: &C,
        n: &NoticeRow,
    ) -> Result<Option<AmendmentNotice>, ServiceError> {
        let Some(entry) = queries::entry_by_id(c, n.entry_id).await? else {
            return Ok(None);
        };
        let Some(target_id) = entry.amends else {
            return Ok(None);
        };
        let Some(old) = queries::entry_by_id(c, target_id).await? else {
            return Ok(None);
        };
        let Some(plan) = queries::care_plan_by_id(c, n.care_plan_id).await? else {
            return Ok(None);
        };
        let void = entry.kind == EntryKind::EnteredInError.as_str();
        let parse = |t: &str| serde_json::from_str(t).unwrap_or(serde_json::Value::Null);
        let changes = if void {
            Vec::new()
        } else {
            value_changes(&parse(&old.values_json), &parse(&entry.values_json))
        };
        let org = queries::organization_by_id(c, entry.organization_id).await?;
        let author = queries::practitioner_by_id(c, entry.author_id).await?;
        Ok(Some(AmendmentNotice {
            id: n.id,
            care_plan_id: n.care_plan_id,
            patient_id: plan.patient_id,
            kind: if void {
                "entered_in_error"
            } else {
                "corrected"
            }
            .to_owned(),
            entry_id: entry.id,
            amends: old.id,
            stage: entry.stage.clone(),
            entry_kind: old.kind.clone(),
            changes,
            reason: entry.reason.clone(),
            recorded_at: entry.recorded_at,
            organization_name: org.map(|o| o.name).unwrap_or_default(),
            author_name: author.map(|p| p.name).unwrap_or_default(),
            created_at: n.created_at,
        }))
    }

    /// The open amendment notices of the caller's organisation (of one plan, or of every
    /// plan it may still read), oldest first.
    pub async fn amendment_notices(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan: Option<Uuid>,
    ) -> Result<Vec<AmendmentNotice>, ServiceError> {
        if let Some(plan_id) = plan {
            self.authorize_plan(actor, meta, plan_id, Action::ReadPlan)
                .await?;
        }
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                "notice.list",
                "amendment_notice",
                None,
                Outcome::Allowed,
            )
            .plan(plan),
        )
        .await?;
        self.readable_notices(actor, plan).await
    }

    /// The open notices of the actor's organisation on the plans it may read now, without
    /// an audit event of their own (the screen that shows them has one).
    pub(crate) async fn readable_notices(
        &self,
        actor: &Actor,
        plan: Option<Uuid>,
    ) -> Result<Vec<AmendmentNotice>, ServiceError> {
        let rows = notices::open_notices(&self.db, actor.organization_id, plan).await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut readable: std::collections::HashMap<Uuid, bool> = Default::default();
        for n in &rows {
            let ok = match readable.get(&n.care_plan_id) {
                Some(ok) => *ok,
                None => {
                    let ok = self
                        .check_plan(&self.db, actor, n.care_plan_id, Action::ReadPlan)
                        .await?
                        .is_ok();
                    readable.insert(n.care_plan_id, ok);
                    ok
                }
            };
            if ok && let Some(v) = self.notice_view(&self.db, n).await? {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Records that a user of the notice's organisation acknowledged it (audited). A
    /// notice of another organisation is not found; acknowledging twice changes nothing.
    pub async fn acknowledge_notice(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        notice_id: Uuid,
    ) -> Result<(), ServiceError> {
        let Some(n) = notices::notice_by_id(&self.db, notice_id)
            .await?
            .filter(|n| n.organization_id == actor.organization_id)
        else {
            return Err(ServiceError::NotFound("notice"));
        };
        let (plan, _) = self
            .authorize_plan(actor, meta, n.care_plan_id, Action::ReadPlan)
            .await?;
        let now = self.now();
        let changed = notices::acknowledge(&self.db, notice_id, actor.practitioner_id, now).await?;
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                "notice.acknowledge",
                "amendment_notice",
                Some(notice_id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(plan.id))
            .patient(Some(plan.patient_id))
            .region(&plan.region)
            .detail(if changed {
                format!("entry {}", n.entry_id)
            } else {
                format!("entry {} (acknowledged before)", n.entry_id)
            }),
        )
        .await
    }
}
