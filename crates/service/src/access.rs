//! Need-to-know access in use cases: loading a plan's care team, consent and break-glass
//! state, asking the pure decision in `renkei_domain::access`, auditing every outcome;
//! and the use cases that manage care teams, consent, break-glass grants and the audit log.

use renkei_domain::Rule;
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use renkei_domain::FieldError;
use renkei_domain::access::{
    Action, ConsentState, Decision, GlobalAction, MemberRecord, PlanAccess, Profession, Subject,
    TeamRole, decide, decide_global, team_at,
};
use renkei_store::queries::{self, CarePlanRow, IdempotencyRow};
use renkei_store::queries_access::{
    self as qa, AuditEventRow, AuditFilter, BreakGlassRow, ConsentRow, TeamMemberRow,
};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::care_team::AccessAt;
use crate::{Actor, ErrorCode, ServiceError, Services, begin_write};
use renkei_domain::evidence::EvidenceKind;

/// A read of a hand-over or report: its parties, its plan and how it is audited.
pub(crate) struct PartyRead {
    pub from: Uuid,
    pub to: Uuid,
    pub plan_id: Uuid,
    pub action: &'static str,
    pub resource: &'static str,
    /// What a refusal calls it (`hand-over not found`).
    pub missing: &'static str,
    pub id: Uuid,
}

/// Audit events per page a caller may ask for (default 100).
pub const AUDIT_LIMIT: std::ops::RangeInclusive<u64> = 1..=1000;

/// A refused plan action, not yet audited.
#[derive(Debug, Clone)]
pub struct Denial {
    pub action: &'static str,
    pub plan_id: Uuid,
    pub patient_id: Option<Uuid>,
    /// Answer 404 (the plan is not visible) rather than 403.
    pub hidden: bool,
    pub why: &'static str,
}

/// Answers a hidden plan behind a hand-over, report or consent exactly like an unknown
/// `what` ("care plan not found" would tell that the id exists).
pub fn not_found_as(what: &'static str) -> impl FnOnce(ServiceError) -> ServiceError {
    move |e| match e {
        ServiceError::NotFound(_) => ServiceError::NotFound(what),
        e => e,
    }
}

/// The pure-rule view of an actor.
pub fn subject(actor: &Actor) -> Subject {
    Subject {
        practitioner_id: actor.practitioner_id,
        organization_id: actor.organization_id,
        // Professions are validated when a practitioner is added.
        profession: Profession::parse(&actor.profession).unwrap_or(Profession::CareManager),
        is_org_admin: actor.has_role("org_admin"),
        is_regional_admin: actor.has_role("regional_admin"),
    }
}

/// Visible characters a break-glass reason needs at least.
pub const BREAK_GLASS_REASON_MIN: usize = 4;

/// How many characters of `text` a reader sees: not spaces, control or format
/// characters (zero-width spaces and joiners, direction marks, BOM), combining marks
/// (they sit on the character before) or the blank "letters" that render as nothing.
pub fn visible_chars(text: &str) -> usize {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    text.chars()
        .filter(|c| {
            !c.is_whitespace()
                && !matches!(
                    c.general_category(),
                    GeneralCategory::Control
                        | GeneralCategory::Format
                        | GeneralCategory::NonspacingMark
                        | GeneralCategory::EnclosingMark
                        | GeneralCategory::Unassigned
                        | GeneralCategory::PrivateUse
                        | GeneralCategory::Surrogate
                )
                && !matches!(
                    c,
                    '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}'
                )
        })
        .count()
}

/// The consent in force among a plan's consent records.
pub fn consent_state(rows: &[ConsentRow]) -> ConsentState {
    let active = rows.iter().rev().find(|c| c.withdrawn_at.is_none());
    match active {
        None => ConsentState::None,
        Some(c) => {
            let purposes: Vec<String> = serde_json::from_str(&c.purposes).unwrap_or_default();
            if !purposes.iter().any(|p| p == "care") {
                return ConsentState::None;
            }
            if c.scope == "listed" {
                ConsentState::Listed(serde_json::from_str(&c.organizations).unwrap_or_default())
            } else {
                ConsentState::CareTeam
            }
        }
    }
}

/// The rule of a break-glass reason (checked before anything is written; the web form
/// shows it with the form's other problems).
pub fn check_break_glass_reason(reason: &str) -> Result<(), ServiceError> {
    if visible_chars(reason) < BREAK_GLASS_REASON_MIN {
        return Err(ServiceError::field(
            "reason",
            Rule::Required,
            format!(
                "state why emergency access is needed (at least {BREAK_GLASS_REASON_MIN} visible characters)"
            ),
        ));
    }
    Ok(())
}

/// Everything the access decision needs about `plan` for `actor`, with break-glass
/// grants unexpired at `at`.
pub async fn plan_access_at<C: ConnectionTrait>(
    c: &C,
    services: &Services,
    actor: &Actor,
    plan: &CarePlanRow,
    at: DateTime<Utc>,
) -> Result<PlanAccess, ServiceError> {
    let rows = qa::access_rows(c, plan.id, actor.practitioner_id, at, None).await?;
    let when = crate::care_team::access_at(c, services, plan, at).await?;
    Ok(access_from(
        plan,
        &rows.team,
        &rows.consents,
        rows.break_glass,
        &when,
    ))
}

/// The access facts of `plan` from its team and consent rows (loaded by the caller,
/// e.g. for many plans at once) and whether the actor holds a break-glass grant on it,
/// at a moment: members whose access is over are left out, those in their
/// read-after-end period are read only ([`renkei_domain::access::team_at`]).
pub fn access_from(
    plan: &CarePlanRow,
    team: &[TeamMemberRow],
    consents: &[ConsentRow],
    break_glass: bool,
    at: &AccessAt,
) -> PlanAccess {
    let records: Vec<MemberRecord> = team
        .iter()
        .filter_map(crate::care_team::member_record)
        .collect();
    PlanAccess {
        planner_organization_id: plan.planner_organization_id,
        team: team_at(
            &records,
            &at.stage_facts(plan),
            at.read_after_end_days,
            at.now,
        ),
        consent: consent_state(consents),
        break_glass,
    }
}

/// The audit action name of a plan action.
fn action_name(action: &Action<'_>) -> &'static str {
    match action {
        Action::ReadPlan => "care_plan.read",
        Action::Append { .. } => "entry.append",
        Action::Amend { .. } => "entry.amend",
        Action::ManageCareTeam => "care_team.add",
        Action::RecordConsent => "consent.record",
        Action::BreakGlass => "break_glass.grant",
        Action::ProposeHandover { .. } => "handover.propose",
        Action::SendReport { .. } => "report.send",
        Action::Lifecycle => "care_plan.lifecycle",
        Action::Individualize => "care_plan.individualize",
    }
}

impl Services {
    /// Loads a plan and checks `action` on it, without auditing: a denial comes back as
    /// `Err(Denial)` so a caller holding a write transaction can roll it back before
    /// [`Services::deny`] records the denial in a transaction of its own.
    pub async fn check_plan<C: ConnectionTrait>(
        &self,
        c: &C,
        actor: &Actor,
        plan_id: Uuid,
        action: Action<'_>,
    ) -> Result<Result<(CarePlanRow, PlanAccess), Denial>, ServiceError> {
        let plan = queries::care_plan_by_id(c, plan_id).await?;
        Ok(self
            .decide_plan(c, actor, plan_id, plan, action, None)
            .await?
            .map(|(plan, access, _)| (plan, access)))
    }

    /// [`Services::check_plan`] on a plan already read (`None`: there is no such plan).
    /// With `key`, the actor's stored use of that idempotency key is read in the same
    /// statement as the access facts and handed back with them.
    pub(crate) async fn decide_plan<C: ConnectionTrait>(
        &self,
        c: &C,
        actor: &Actor,
        plan_id: Uuid,
        plan: Option<CarePlanRow>,
        action: Action<'_>,
        key: Option<&str>,
    ) -> Result<Result<(CarePlanRow, PlanAccess, Option<IdempotencyRow>), Denial>, ServiceError>
    {
        let name = action_name(&action);
        let Some(plan) = plan else {
            return Ok(Err(Denial {
                action: name,
                plan_id,
                patient_id: None,
                hidden: true,
                why: "no such care plan",
            }));
        };
        let now = self.now();
        let rows = qa::access_rows(c, plan.id, actor.practitioner_id, now, key).await?;
        let when = crate::care_team::access_at(c, self, &plan, now).await?;
        let access = access_from(&plan, &rows.team, &rows.consents, rows.break_glass, &when);
        Ok(match decide(&subject(actor), action, &access) {
            Decision::Allow => Ok((plan, access, rows.idempotency)),
            Decision::Hidden => Err(Denial {
                action: name,
                plan_id,
                patient_id: Some(plan.patient_id),
                hidden: true,
                why: "not on the care team, or no consent",
            }),
            Decision::Forbidden => Err(Denial {
                action: name,
                plan_id,
                patient_id: Some(plan.patient_id),
                hidden: false,
                why: "action not allowed for this organization or profession",
            }),
        })
    }

    /// Audits a denial and turns it into the error the client sees (404 or 403).
    pub async fn deny(&self, actor: &Actor, meta: &RequestMeta, d: Denial) -> ServiceError {
        if let Err(e) = self
            .audit_denied(actor, meta, d.action, d.plan_id, d.patient_id, d.why)
            .await
        {
            return e;
        }
        if d.hidden {
            ServiceError::NotFound("care plan")
        } else {
            ServiceError::Forbidden
        }
    }

    /// [`Services::check_plan`] plus auditing a denial, for callers without an open
    /// write transaction.
    pub async fn authorize_plan(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        action: Action<'_>,
    ) -> Result<(CarePlanRow, PlanAccess), ServiceError> {
        match self.check_plan(&self.db, actor, plan_id, action).await? {
            Ok(v) => Ok(v),
            Err(d) => Err(self.deny(actor, meta, d).await),
        }
    }

    async fn audit_denied(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        action: &'static str,
        plan_id: Uuid,
        patient: Option<Uuid>,
        why: &str,
    ) -> Result<(), ServiceError> {
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                action,
                "care_plan",
                Some(plan_id.to_string()),
                Outcome::Denied,
            )
            .plan(Some(plan_id))
            .patient(patient)
            .detail(why),
        )
        .await
    }

    /// Checks an organisation-level action; a refusal is audited and answered 403.
    pub async fn authorize_global(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        action: GlobalAction,
        audit_action: &'static str,
        resource_type: &'static str,
    ) -> Result<(), ServiceError> {
        if decide_global(&subject(actor), action) {
            return Ok(());
        }
        audit::record_now(
            self,
            meta,
            AuditRecord::by(actor, audit_action, resource_type, None, Outcome::Denied)
                .detail("role or profession does not allow this"),
        )
        .await?;
        Err(ServiceError::Forbidden)
    }

    /// Plans the actor's organisation may see (as planner, through team and consent, or
    /// through the actor's own break-glass grants), among `candidates`.
    pub async fn visible_plans<C: ConnectionTrait>(
        &self,
        c: &C,
        actor: &Actor,
        candidates: Vec<CarePlanRow>,
    ) -> Result<Vec<CarePlanRow>, ServiceError> {
        let mut out = Vec::new();
        for plan in candidates {
            let access = plan_access_at(c, self, actor, &plan, self.now()).await?;
            if decide(&subject(actor), Action::ReadPlan, &access) == Decision::Allow {
                out.push(plan);
            }
        }
        Ok(out)
    }

    /// Whether the actor's organisation may see a patient: it holds one of the patient's
    /// identifiers, or sees one of the patient's plans.
    pub async fn patient_visible<C: ConnectionTrait>(
        &self,
        c: &C,
        actor: &Actor,
        patient_id: Uuid,
    ) -> Result<bool, ServiceError> {
        // A merged record reads as its survivor, with every record of the group.
        let idents = crate::patient_group::group_identifiers(c, patient_id).await?;
        if idents
            .iter()
            .any(|i| i.organization_id == actor.organization_id)
        {
            return Ok(true);
        }
        let plans = crate::patient_group::group_plans(c, patient_id).await?;
        Ok(!self.visible_plans(c, actor, plans).await?.is_empty())
    }

    /// Whether the actor's organisation itself sees a patient (an identifier, or a plan
    /// through care team and consent), leaving out the actor's own break-glass grants:
    /// emergency access is read-only and lends the organisation nothing to write on.
    pub async fn patient_visible_to_org<C: ConnectionTrait>(
        &self,
        c: &C,
        actor: &Actor,
        patient_id: Uuid,
    ) -> Result<bool, ServiceError> {
        let idents = crate::patient_group::group_identifiers(c, patient_id).await?;
        if idents
            .iter()
            .any(|i| i.organization_id == actor.organization_id)
        {
            return Ok(true);
        }
        for plan in crate::patient_group::group_plans(c, patient_id).await? {
            let access = plan_access_at(c, self, actor, &plan, self.now()).await?;
            if access.is_visible_to(actor.organization_id) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether the actor's organisation, a party to a hand-over or report of the plan (its
    /// sender or receiver), may read it without otherwise seeing the plan: only while the
    /// patient's consent covers the organisation, since a withdrawal stops every
    /// organisation's access but the planner's.
    pub async fn party_may_read<C: ConnectionTrait>(
        &self,
        c: &C,
        actor: &Actor,
        plan_id: Uuid,
    ) -> Result<bool, ServiceError> {
        Ok(consent_state(&qa::consents_of(c, plan_id).await?).covers(actor.organization_id))
    }

    /// Whether a hand-over or report of `plan` shows on the worklist of a party to it:
    /// the planner's always, another organisation's while the consent covers it.
    pub async fn party_may_list(
        &self,
        actor: &Actor,
        plan: &CarePlanRow,
    ) -> Result<bool, ServiceError> {
        Ok(plan.planner_organization_id == actor.organization_id
            || self.party_may_read(&self.db, actor, plan.id).await?)
    }

    /// Lets a hand-over's or report's sender or receiver read it (while they may read
    /// the plan as a party), or else whoever may read the plan; a refusal looks like a
    /// missing one. The read is audited.
    pub(crate) async fn authorize_party_read(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        read: PartyRead,
    ) -> Result<(), ServiceError> {
        let party = (read.from == actor.organization_id || read.to == actor.organization_id)
            && self.party_may_read(&self.db, actor, read.plan_id).await?;
        if !party {
            self.authorize_plan(actor, meta, read.plan_id, Action::ReadPlan)
                .await
                .map_err(crate::access::not_found_as(read.missing))?;
        }
        let plan = queries::care_plan_by_id(&self.db, read.plan_id).await?;
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                read.action,
                read.resource,
                Some(read.id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(read.plan_id))
            .patient(plan.map(|p| p.patient_id)),
        )
        .await
    }

    // ------------------------------------------------------------ care team

    /// Adds an organisation to a plan's care team (the planner's use case).
    pub async fn add_team_member(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        organization_code: &str,
        stages: Vec<String>,
        role: &str,
    ) -> Result<Vec<CareTeamMember>, ServiceError> {
        let write = self
            .begin_plan_write(actor, meta, plan_id)
            .await?
            .authorize(Action::ManageCareTeam, None)
            .await?;
        let (txn, plan) = (&write.txn, &write.plan);
        let template = &self.pathway_of_plan(plan)?.template;
        let mut errors = Vec::new();
        let role = match TeamRole::parse(role) {
            Some(TeamRole::Planner) | None => {
                errors.push(FieldError::new(
                    "role",
                    Rule::Allowed,
                    "role must be stage_owner, contributor or viewer",
                ));
                None
            }
            Some(r) => Some(r),
        };
        if stages.is_empty() {
            errors.push(FieldError::new(
                "stages",
                Rule::Required,
                "name at least one stage",
            ));
        }
        for (i, s) in stages.iter().enumerate() {
            if template.stage(s).is_none() {
                errors.push(FieldError::new(
                    format!("stages[{i}]"),
                    Rule::UnknownStage,
                    format!(
                        "stage `{s}` is not defined in {} v{}",
                        template.code, template.version
                    ),
                ));
            }
        }
        let org = queries::organization_by_code(txn, organization_code).await?;
        if org.is_none() {
            errors.push(FieldError::new(
                "organization",
                Rule::Unknown,
                format!("organization `{organization_code}` does not exist"),
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let (Some(org), Some(role)) = (org, role) else {
            return Err(ServiceError::Validation(errors));
        };
        let now = self.now();
        let existing = qa::team_of(txn, plan_id)
            .await?
            .into_iter()
            .find(|m| m.organization_id == org.id);
        if existing
            .as_ref()
            .is_some_and(|m| m.access_ends_at.is_none_or(|t| t > now))
        {
            return Err(ServiceError::Conflict {
                code: ErrorCode::Duplicate,
                message: format!("{organization_code} is already on the care team"),
            });
        }
        let stages_text = serde_json::to_string(&stages).unwrap_or_else(|_| "[]".into());
        // An organisation whose access ended comes back on its own row.
        let member_id = existing.as_ref().map_or_else(Uuid::now_v7, |m| m.id);
        if existing.is_some() {
            qa::reinstate_team_member(
                txn,
                member_id,
                role.as_str(),
                &stages_text,
                now,
                actor.practitioner_id,
            )
            .await?;
        } else {
            qa::insert_team_member(
                txn,
                TeamMemberRow {
                    id: member_id,
                    care_plan_id: plan_id,
                    region: plan.region.clone(),
                    organization_id: org.id,
                    role: role.as_str().to_owned(),
                    stages: stages_text,
                    added_at: now,
                    added_by: Some(actor.practitioner_id),
                    access_ends_on: None,
                    access_ends_at: None,
                    ended_at: None,
                    ended_by: None,
                    end_reason: None,
                },
            )
            .await?;
        }
        renkei_store::work_index::mark_stale(txn, plan_id).await?;
        let at = crate::care_team::access_at(txn, self, plan, now).await?;
        let team = crate::care_team::team_view(txn, plan, &at).await?;
        let record = AuditRecord::by(
            actor,
            "care_team.add",
            "care_plan",
            Some(plan_id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan_id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::CareTeamMember, member_id)
        .detail(format!("{organization_code} as {}", role.as_str()));
        write.commit(record).await?;
        Ok(team)
    }

    pub async fn care_team(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
    ) -> Result<Vec<CareTeamMember>, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        let at = crate::care_team::access_at(&self.db, self, &plan, self.now()).await?;
        let team = crate::care_team::team_view(&self.db, &plan, &at).await?;
        self.audit_read(actor, meta, "care_team.read", &plan)
            .await?;
        Ok(team)
    }

    /// Records an allowed read of a plan's data.
    pub async fn audit_read(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        action: &'static str,
        plan: &CarePlanRow,
    ) -> Result<(), ServiceError> {
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                action,
                "care_plan",
                Some(plan.id.to_string()),
                Outcome::Allowed,
            )
            .plan(Some(plan.id))
            .patient(Some(plan.patient_id))
            .region(&plan.region),
        )
        .await
    }

    // ------------------------------------------------------------ consent

    pub async fn record_consent(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        input: NewConsent,
    ) -> Result<Consent, ServiceError> {
        let write = self
            .begin_plan_write(actor, meta, plan_id)
            .await?
            .authorize(Action::RecordConsent, None)
            .await?;
        let (txn, plan) = (&write.txn, &write.plan);
        let mut errors = Vec::new();
        if !matches!(input.scope.as_str(), "care_team" | "listed") {
            errors.push(FieldError::new(
                "scope",
                Rule::Allowed,
                "scope must be care_team or listed",
            ));
        }
        let mut org_ids = Vec::new();
        for (i, code) in input.organizations.iter().enumerate() {
            match queries::organization_by_code(txn, code).await? {
                Some(o) => org_ids.push(o.id),
                None => errors.push(FieldError::new(
                    format!("organizations[{i}]"),
                    Rule::Unknown,
                    format!("organization `{code}` does not exist"),
                )),
            }
        }
        if input.scope == "listed" && input.organizations.is_empty() {
            errors.push(FieldError::new(
                "organizations",
                Rule::Required,
                "a listed consent names at least one organization",
            ));
        }
        if input.scope == "care_team" && !input.organizations.is_empty() {
            errors.push(FieldError::new(
                "organizations",
                Rule::NotAllowed,
                "organizations are listed only with scope `listed`",
            ));
        }
        let purposes: HashSet<&str> = input.purposes.iter().map(String::as_str).collect();
        if purposes.is_empty() || !purposes.iter().all(|p| matches!(*p, "care" | "statistics")) {
            errors.push(FieldError::new(
                "purposes",
                Rule::Allowed,
                "purposes are one or both of care, statistics",
            ));
        }
        if !matches!(input.method.as_str(), "paper" | "electronic") {
            errors.push(FieldError::new(
                "method",
                Rule::Allowed,
                "method must be paper or electronic",
            ));
        }
        match input.signer.as_str() {
            "self" => {
                if input.proxy_relationship.is_some() {
                    errors.push(FieldError::new(
                        "proxy_relationship",
                        Rule::NotAllowed,
                        "only a proxy signer has a relationship",
                    ));
                }
            }
            "proxy" => {
                if input
                    .proxy_relationship
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty())
                {
                    errors.push(FieldError::new(
                        "proxy_relationship",
                        Rule::Required,
                        "a proxy signer needs the relationship to the patient (e.g. 長男)",
                    ));
                }
            }
            _ => errors.push(FieldError::new(
                "signer",
                Rule::Allowed,
                "signer must be self or proxy",
            )),
        }
        let now = self.now();
        let obtained_at = crate::truncate_micros(input.obtained_at);
        if obtained_at > now + chrono::Duration::minutes(5) {
            errors.push(FieldError::new(
                "obtained_at",
                Rule::InFuture,
                "must not be in the future",
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        if qa::consents_of(txn, plan_id)
            .await?
            .iter()
            .any(|c| c.withdrawn_at.is_none())
        {
            return Err(ServiceError::Conflict {
                code: ErrorCode::Duplicate,
                message: "this care plan already has an active consent; withdraw it first".into(),
            });
        }
        let mut purposes: Vec<String> = purposes.into_iter().map(str::to_owned).collect();
        purposes.sort();
        let row = ConsentRow {
            id: Uuid::now_v7(),
            care_plan_id: plan_id,
            region: plan.region.clone(),
            scope: input.scope,
            organizations: serde_json::to_string(&org_ids).unwrap_or_else(|_| "[]".into()),
            purposes: serde_json::to_string(&purposes).unwrap_or_else(|_| "[]".into()),
            method: input.method,
            signer: input.signer,
            proxy_relationship: input.proxy_relationship,
            obtained_by_organization_id: actor.organization_id,
            obtained_by: actor.practitioner_id,
            obtained_at,
            recorded_at: now,
            withdrawn_at: None,
            withdrawal_reason: None,
            row_version: 1,
        };
        qa::insert_consent(txn, row.clone()).await?;
        renkei_store::work_index::mark_stale(txn, plan_id).await?;
        let record = AuditRecord::by(
            actor,
            "consent.record",
            "consent",
            Some(row.id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan_id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::Consent, row.id);
        let consent = consent_view(txn, row).await?;
        write.commit(record).await?;
        Ok(consent)
    }

    pub async fn withdraw_consent(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        consent_id: Uuid,
        reason: &str,
    ) -> Result<Consent, ServiceError> {
        if reason.trim().is_empty() {
            return Err(ServiceError::field(
                "reason",
                Rule::Required,
                "a withdrawal needs a reason",
            ));
        }
        let Some(consent) = qa::consent_by_id(&self.db, consent_id).await? else {
            return Err(ServiceError::NotFound("consent"));
        };
        // A consent of a plan one may not see is answered like an unknown one.
        let write = self
            .begin_plan_write(actor, meta, consent.care_plan_id)
            .await?
            .denied_as("consent.withdraw")
            .missing_as("consent")
            .authorize(Action::RecordConsent, None)
            .await?;
        let (txn, plan) = (&write.txn, &write.plan);
        if !qa::withdraw_consent(txn, consent_id, self.now(), reason.trim()).await? {
            return Err(ServiceError::Conflict {
                code: ErrorCode::Duplicate,
                message: "this consent was already withdrawn".into(),
            });
        }
        renkei_store::work_index::mark_stale(txn, plan.id).await?;
        let record = AuditRecord::by(
            actor,
            "consent.withdraw",
            "consent",
            Some(consent_id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan.id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::Consent, consent_id);
        let row = qa::consent_by_id(txn, consent_id)
            .await?
            .ok_or(ServiceError::NotFound("consent"))?;
        let consent = consent_view(txn, row).await?;
        write.commit(record).await?;
        Ok(consent)
    }

    pub async fn consents(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
    ) -> Result<Vec<Consent>, ServiceError> {
        let (plan, _) = self
            .authorize_plan(actor, meta, plan_id, Action::ReadPlan)
            .await?;
        let mut out = Vec::new();
        for row in qa::consents_of(&self.db, plan_id).await? {
            out.push(consent_view(&self.db, row).await?);
        }
        self.audit_read(actor, meta, "consent.read", &plan).await?;
        Ok(out)
    }

    /// The planner's plans still without an active consent seven days after enrolment
    /// (the reimbursement rule asks for consent within seven days).
    pub async fn consent_reminders(
        &self,
        actor: &Actor,
    ) -> Result<Vec<ConsentReminder>, ServiceError> {
        let cutoff = self.now() - chrono::Duration::days(7);
        let mut out = Vec::new();
        for plan in qa::plans_of_planner(&self.db, actor.organization_id).await? {
            if plan.status != "active" || plan.created_at > cutoff {
                continue;
            }
            let consents = qa::consents_of(&self.db, plan.id).await?;
            if consent_state(&consents) == ConsentState::None {
                out.push(ConsentReminder {
                    care_plan_id: plan.id,
                    enrolled_at: plan.created_at,
                    days_without_consent: (self.now() - plan.created_at).num_days(),
                });
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------ break-glass

    pub async fn break_glass(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        reason: &str,
    ) -> Result<BreakGlassGrant, ServiceError> {
        check_break_glass_reason(reason)?;
        let write = self
            .begin_plan_write(actor, meta, plan_id)
            .await?
            .authorize(Action::BreakGlass, None)
            .await?;
        let now = self.now();
        let row = BreakGlassRow {
            id: Uuid::now_v7(),
            care_plan_id: plan_id,
            region: write.plan.region.clone(),
            practitioner_id: actor.practitioner_id,
            organization_id: actor.organization_id,
            reason: reason.trim().to_owned(),
            granted_at: now,
            expires_at: now + self.break_glass_duration,
            reviewed_at: None,
            reviewed_by: None,
        };
        qa::insert_break_glass(&write.txn, row.clone()).await?;
        let record = AuditRecord::by(
            actor,
            "break_glass.grant",
            "care_plan",
            Some(plan_id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan_id))
        .patient(Some(write.plan.patient_id))
        .wrote(EvidenceKind::BreakGlass, row.id)
        .detail("break-glass");
        write.commit(record).await?;
        Ok(grant_view(row))
    }

    pub async fn list_break_glass(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Vec<BreakGlassGrant>, ServiceError> {
        self.authorize_global(
            actor,
            meta,
            GlobalAction::ReviewBreakGlass,
            "break_glass.list",
            "break_glass",
        )
        .await?;
        Ok(qa::list_break_glass(&self.db, 500)
            .await?
            .into_iter()
            .map(grant_view)
            .collect())
    }

    pub async fn review_break_glass(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: Uuid,
    ) -> Result<(), ServiceError> {
        self.authorize_global(
            actor,
            meta,
            GlobalAction::ReviewBreakGlass,
            "break_glass.review",
            "break_glass",
        )
        .await?;
        let txn = begin_write(&self.db).await?;
        if !qa::review_break_glass(&txn, id, actor.practitioner_id, self.now()).await? {
            return Err(ServiceError::NotFound("break-glass grant"));
        }
        audit::record(
            &txn,
            self.now(),
            meta,
            AuditRecord::by(
                actor,
                "break_glass.review",
                "break_glass",
                Some(id.to_string()),
                Outcome::Allowed,
            )
            .wrote(EvidenceKind::BreakGlass, id),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    // ------------------------------------------------------------ audit log

    /// Audit events for the regional administrator, newest first; `limit` must lie in
    /// [`AUDIT_LIMIT`] (refused, not clamped).
    pub async fn audit_log(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        filter: AuditFilter,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, ServiceError> {
        self.authorize_global(actor, meta, GlobalAction::ReadAudit, "audit.read", "audit")
            .await?;
        if !AUDIT_LIMIT.contains(&limit) {
            return Err(ServiceError::field(
                "limit",
                Rule::Range,
                format!(
                    "must be between {} and {}",
                    AUDIT_LIMIT.start(),
                    AUDIT_LIMIT.end()
                ),
            ));
        }
        let rows = qa::audit_events(&self.read_db, &filter, limit).await?;
        audit::record_now(
            self,
            meta,
            AuditRecord::by(actor, "audit.read", "audit", None, Outcome::Allowed)
                .patient(filter.patient),
        )
        .await?;
        Ok(rows.into_iter().map(audit_view).collect())
    }

    /// Who accessed this patient's data and when, for a disclosure request: the regional
    /// administrator, or an organisation administrator whose organisation sees the patient.
    pub async fn access_report(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        patient_id: Uuid,
    ) -> Result<Vec<AuditEvent>, ServiceError> {
        let allowed = actor.has_role("regional_admin")
            || (actor.has_role("org_admin")
                && self.patient_visible(&self.db, actor, patient_id).await?);
        if !allowed {
            audit::record_now(
                self,
                meta,
                AuditRecord::by(
                    actor,
                    "patient.access_report",
                    "patient",
                    Some(patient_id.to_string()),
                    Outcome::Denied,
                )
                .patient(Some(patient_id)),
            )
            .await?;
            return Err(ServiceError::NotFound("patient"));
        }
        if queries::patient_by_id(&self.db, patient_id)
            .await?
            .is_none()
        {
            return Err(ServiceError::NotFound("patient"));
        }
        let rows = qa::audit_events(
            &self.read_db,
            &AuditFilter {
                patient: Some(patient_id),
                ..Default::default()
            },
            1000,
        )
        .await?;
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                "patient.access_report",
                "patient",
                Some(patient_id.to_string()),
                Outcome::Allowed,
            )
            .patient(Some(patient_id)),
        )
        .await?;
        Ok(rows.into_iter().map(audit_view).collect())
    }
}

pub use crate::care_team::CareTeamMember;

#[derive(Debug, Clone)]
pub struct NewConsent {
    pub scope: String,
    pub organizations: Vec<String>,
    pub purposes: Vec<String>,
    pub method: String,
    pub signer: String,
    pub proxy_relationship: Option<String>,
    pub obtained_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Consent {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub scope: String,
    pub organizations: Vec<String>,
    pub purposes: Vec<String>,
    pub method: String,
    pub signer: String,
    pub proxy_relationship: Option<String>,
    pub obtained_by: String,
    pub obtained_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawal_reason: Option<String>,
    pub active: bool,
}

async fn consent_view<C: ConnectionTrait>(c: &C, row: ConsentRow) -> Result<Consent, ServiceError> {
    let ids: Vec<Uuid> = serde_json::from_str(&row.organizations).unwrap_or_default();
    let mut organizations = Vec::new();
    for id in ids {
        if let Some(o) = queries::organization_by_id(c, id).await? {
            organizations.push(o.code);
        }
    }
    let obtained_by = queries::organization_by_id(c, row.obtained_by_organization_id)
        .await?
        .map(|o| o.code)
        .unwrap_or_default();
    Ok(Consent {
        id: row.id,
        care_plan_id: row.care_plan_id,
        scope: row.scope,
        organizations,
        purposes: serde_json::from_str(&row.purposes).unwrap_or_default(),
        method: row.method,
        signer: row.signer,
        proxy_relationship: row.proxy_relationship,
        obtained_by,
        obtained_at: row.obtained_at,
        recorded_at: row.recorded_at,
        active: row.withdrawn_at.is_none(),
        withdrawn_at: row.withdrawn_at,
        withdrawal_reason: row.withdrawal_reason,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsentReminder {
    pub care_plan_id: Uuid,
    pub enrolled_at: DateTime<Utc>,
    pub days_without_consent: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakGlassGrant {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub practitioner_id: Uuid,
    pub organization_id: Uuid,
    pub reason: String,
    pub granted_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

fn grant_view(r: BreakGlassRow) -> BreakGlassGrant {
    BreakGlassGrant {
        id: r.id,
        care_plan_id: r.care_plan_id,
        practitioner_id: r.practitioner_id,
        organization_id: r.organization_id,
        reason: r.reason,
        granted_at: r.granted_at,
        expires_at: r.expires_at,
        reviewed_at: r.reviewed_at,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub practitioner_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub patient_id: Option<Uuid>,
    pub care_plan_id: Option<Uuid>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
    pub hash: String,
}

fn audit_view(r: AuditEventRow) -> AuditEvent {
    AuditEvent {
        id: r.id,
        seq: r.local_id,
        at: r.at,
        practitioner_id: r.practitioner_id,
        organization_id: r.organization_id,
        action: r.action,
        resource_type: r.resource_type,
        resource_id: r.resource_id,
        patient_id: r.patient_id,
        care_plan_id: r.care_plan_id,
        outcome: r.outcome,
        request_id: r.request_id,
        client_addr: r.client_addr,
        detail: r.detail,
        hash: r.leaf_hash.or(r.hash).unwrap_or_default(),
    }
}

// ------------------------------------------------------------------ hand-over read marks

impl Services {
    /// The incoming hand-overs still awaiting an answer that nobody of the actor's
    /// organisation has opened yet (the 未読 of the 連携受信箱).
    pub async fn unread_handovers(&self, actor: &Actor) -> Result<HashSet<Uuid>, ServiceError> {
        Ok(
            renkei_store::handovers::unread_handovers(&self.db, actor.organization_id.into())
                .await?
                .into_iter()
                .collect(),
        )
    }

    /// Marks a hand-over as opened by the actor's organisation, if it is addressed to
    /// it (the first opening counts; later ones change nothing). Call it after the
    /// hand-over was shown (`get_handover` checked the access and audited the read).
    pub async fn mark_handover_read(&self, actor: &Actor, id: Uuid) -> Result<(), ServiceError> {
        use renkei_store::handovers as store;
        let Some(h) = store::handover_by_id(&self.db, id).await? else {
            return Err(ServiceError::NotFound("hand-over"));
        };
        if h.to_organization_id.0 != actor.organization_id {
            return Ok(());
        }
        // Two people of the same facility may open it at once: the first mark stays.
        store::mark_handover_read(
            &self.db,
            id,
            h.to_organization_id,
            actor.practitioner_id.into(),
            self.now(),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::visible_chars;

    #[test]
    fn only_visible_characters_count() {
        assert_eq!(visible_chars("意識障害"), 4);
        assert_eq!(visible_chars("  a b  "), 2);
        // Zero-width space, joiner, word joiner, BOM, RTL mark, control characters.
        assert_eq!(
            visible_chars("a\u{200B}\u{200D}\u{2060}\u{FEFF}\u{200F}\u{7}b"),
            2
        );
        // Ideographic space and the Hangul filler render as nothing.
        assert_eq!(visible_chars("\u{3000}\u{3164}急変"), 2);
        // A combining mark is part of the letter before it.
        assert_eq!(visible_chars("e\u{301}"), 1);
    }
}
