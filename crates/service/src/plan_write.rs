//! The one way a use case writes to an existing plan: begin the write transaction, lock
//! the plan's row and read it under the lock, decide access on the plan's facts (a
//! refusal is rolled back, recorded as a denied event in a transaction of its own and
//! answered 404 or 403), check If-Match against the plan's version, and finally record
//! the allowed event in the same transaction as the write and commit both.

use renkei_domain::access::{Action, PlanAccess};
use renkei_store::queries::{self, CarePlanRow, IdempotencyRow};

use crate::access::{access_from, not_found_as, plan_access_at};
use crate::audit::{self, AuditRecord, RequestMeta};
use crate::{Actor, ServiceError, Services, WriteTxn, begin_write};

/// A write on a plan whose row is locked, before its access decision.
pub(crate) struct PlanWrite<'s> {
    services: &'s Services,
    actor: &'s Actor,
    meta: &'s RequestMeta,
    txn: WriteTxn,
    plan_id: uuid::Uuid,
    plan: Option<CarePlanRow>,
    denied_as: Option<&'static str>,
    missing_as: Option<&'static str>,
    key: Option<&'s str>,
}

/// A write on a plan the actor may make: the locked plan, its access facts and the open
/// transaction. Dropping it without [`AllowedWrite::commit`] rolls the write back.
pub(crate) struct AllowedWrite<'s> {
    services: &'s Services,
    meta: &'s RequestMeta,
    pub txn: WriteTxn,
    pub plan: CarePlanRow,
    pub access: PlanAccess,
    /// The actor's stored use of the idempotency key named with [`PlanWrite::with_key`].
    pub idempotency: Option<IdempotencyRow>,
}

impl Services {
    /// Begins a write on `plan_id`: the write transaction with the plan's row locked
    /// (writers of one plan run one after another) and the plan read under the lock.
    pub(crate) async fn begin_plan_write<'s>(
        &'s self,
        actor: &'s Actor,
        meta: &'s RequestMeta,
        plan_id: uuid::Uuid,
    ) -> Result<PlanWrite<'s>, ServiceError> {
        let txn = begin_write(&self.db).await?;
        let plan = queries::lock_care_plan_near(&txn, plan_id, &actor.region, self.now()).await?;
        Ok(PlanWrite {
            services: self,
            actor,
            meta,
            txn,
            plan_id,
            plan,
            denied_as: None,
            missing_as: None,
            key: None,
        })
    }

    /// Begins a write on `plan_id` inside `txn`, a write transaction already open (an
    /// import writes to several plans, or one plan several times, all or nothing).
    pub(crate) async fn continue_plan_write<'s>(
        &'s self,
        txn: WriteTxn,
        actor: &'s Actor,
        meta: &'s RequestMeta,
        plan_id: uuid::Uuid,
    ) -> Result<PlanWrite<'s>, ServiceError> {
        let plan = queries::lock_care_plan_near(&txn, plan_id, &actor.region, self.now()).await?;
        Ok(PlanWrite {
            services: self,
            actor,
            meta,
            txn,
            plan_id,
            plan,
            denied_as: None,
            missing_as: None,
            key: None,
        })
    }
}

impl<'s> PlanWrite<'s> {
    /// The transaction, for reads the access decision depends on.
    pub fn txn(&self) -> &WriteTxn {
        &self.txn
    }

    /// The plan as read under its lock (`None`: there is no such plan).
    pub fn plan(&self) -> Option<&CarePlanRow> {
        self.plan.as_ref()
    }

    /// Records a refusal under `action` rather than the plan action's own name.
    pub fn denied_as(mut self, action: &'static str) -> Self {
        self.denied_as = Some(action);
        self
    }

    /// Answers a hidden plan like an unknown `what` (the hand-over, report or consent
    /// the request named), so the answer does not tell that the plan exists.
    pub fn missing_as(mut self, what: &'static str) -> Self {
        self.missing_as = Some(what);
        self
    }

    /// Reads the actor's stored use of idempotency `key` together with the access facts
    /// (see [`AllowedWrite::idempotency`]).
    pub fn with_key(mut self, key: Option<&'s str>) -> Self {
        self.key = key;
        self
    }

    /// Decides `action` by the domain's access rule on the plan's facts, then checks
    /// `if_match` (when given) against the plan's version.
    pub async fn authorize(
        self,
        action: Action<'_>,
        if_match: Option<i32>,
    ) -> Result<AllowedWrite<'s>, ServiceError> {
        let PlanWrite {
            services,
            actor,
            meta,
            txn,
            plan_id,
            plan,
            denied_as,
            missing_as,
            key,
        } = self;
        let (plan, access, idempotency) = match services
            .decide_plan(&txn, actor, plan_id, plan, action, key)
            .await?
        {
            Ok(v) => v,
            Err(mut denial) => {
                txn.rollback().await?;
                if let Some(name) = denied_as {
                    denial.action = name;
                }
                let refused = services.deny(actor, meta, denial).await;
                return Err(match missing_as {
                    Some(what) => not_found_as(what)(refused),
                    None => refused,
                });
            }
        };
        if if_match.is_some_and(|v| v != plan.row_version) {
            return Err(ServiceError::PreconditionFailed);
        }
        Ok(AllowedWrite {
            services,
            meta,
            txn,
            plan,
            access,
            idempotency,
        })
    }

    /// Decides by a rule of the use case's own over the plan and its access facts (who
    /// may answer a hand-over is not a plan action). A refusal names the denied event
    /// to record and the error to answer.
    pub async fn authorize_by(
        self,
        rule: impl FnOnce(&CarePlanRow, &PlanAccess) -> Result<(), Box<(AuditRecord, ServiceError)>>,
    ) -> Result<AllowedWrite<'s>, ServiceError> {
        let Some(plan) = self.plan else {
            return Err(ServiceError::NotFound("care plan"));
        };
        let access = plan_access_at(
            &self.txn,
            self.services,
            self.actor,
            &plan,
            self.services.now(),
        )
        .await?;
        if let Err(refusal) = rule(&plan, &access) {
            let (record, refused) = *refusal;
            self.txn.rollback().await?;
            audit::record_now(self.services, self.meta, record).await?;
            return Err(refused);
        }
        Ok(AllowedWrite {
            services: self.services,
            meta: self.meta,
            txn: self.txn,
            plan,
            access,
            idempotency: None,
        })
    }

    /// A write by the system itself (automatic entries), which no access rule governs.
    pub fn by_system(self) -> Result<AllowedWrite<'s>, ServiceError> {
        let plan = self.plan.ok_or(ServiceError::NotFound("care plan"))?;
        let access = access_from(
            &plan,
            &[],
            &[],
            false,
            &crate::care_team::AccessAt::now_only(self.services.now()),
        );
        Ok(AllowedWrite {
            services: self.services,
            meta: self.meta,
            txn: self.txn,
            plan,
            access,
            idempotency: None,
        })
    }
}

impl AllowedWrite<'_> {
    /// Records the allowed event in the write's transaction and hands the transaction
    /// back, still open, for the next write of the same unit.
    pub async fn record_and_continue(self, record: AuditRecord) -> Result<WriteTxn, ServiceError> {
        let record = record.region(&self.plan.region);
        audit::record(&self.txn, self.services.now(), self.meta, record).await?;
        Ok(self.txn)
    }

    /// The open transaction, with nothing recorded (the write was not made).
    pub fn into_txn(self) -> WriteTxn {
        self.txn
    }

    /// Records the allowed event in the write's transaction and commits both.
    pub async fn commit(self, record: AuditRecord) -> Result<(), ServiceError> {
        let record = record.region(&self.plan.region);
        audit::record(&self.txn, self.services.now(), self.meta, record).await?;
        self.txn.commit().await?;
        Ok(())
    }
}
