//! Ending a care-team organisation's access to a plan (issue 18 point 10): on a date, or
//! at once ("remove"), never by deleting its row; and the read-after-end period
//! (`care_team.read_after_end_days`) that the access decision applies. What a member's
//! row gives it at a moment is decided in `renkei_domain::access` ([`standing`]); this
//! module loads the facts and records the change.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::Rule;
use renkei_domain::access::{
    Action, EndRefusal, MemberRecord, StageEnds, TeamMember, TeamRole, access_ends_at,
    may_end_access,
};
use renkei_domain::calendar::tokyo_date;
use renkei_domain::entry::{EntryKind, PlanState, PlanStatus};
use renkei_domain::evidence::EvidenceKind;
use renkei_store::queries::{self, CarePlanRow, EntryRow};
use renkei_store::queries_access::{self as qa, TeamMemberRow};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::audit::{AuditRecord, Outcome, RequestMeta};
use crate::{Actor, ErrorCode, ServiceError, Services};

/// The care-team settings of one server, shared by every clone of [`Services`].
#[derive(Clone, Debug)]
pub struct CareTeamSettings {
    /// Days of read access after an organisation's stages ended; negative: no limit.
    read_after_end_days: Arc<AtomicI64>,
}

impl Default for CareTeamSettings {
    fn default() -> Self {
        CareTeamSettings {
            read_after_end_days: Arc::new(AtomicI64::new(-1)),
        }
    }
}

impl CareTeamSettings {
    /// Days an organisation keeps read access after the last of its stages ended
    /// (`None`: no limit).
    pub fn read_after_end_days(&self) -> Option<u32> {
        u32::try_from(self.read_after_end_days.load(Ordering::Relaxed)).ok()
    }

    pub fn set_read_after_end_days(&self, days: Option<u32>) {
        self.read_after_end_days
            .store(days.map_or(-1, i64::from), Ordering::Relaxed);
    }
}

impl Services {
    /// The same services with `care_team.read_after_end_days` set.
    pub fn with_read_after_end_days(self, days: Option<u32>) -> Self {
        self.care_team.set_read_after_end_days(days);
        self
    }
}

/// A stored care-team row as the domain sees it (`None` for an unknown role).
pub(crate) fn member_record(row: &TeamMemberRow) -> Option<MemberRecord> {
    Some(MemberRecord {
        member: TeamMember {
            organization_id: row.organization_id,
            role: TeamRole::parse(&row.role)?,
            stages: serde_json::from_str(&row.stages).unwrap_or_default(),
            read_only: false,
        },
        access_ends_at: row.access_ends_at,
    })
}

/// The moment of the access decision and what bounds access in time.
#[derive(Debug, Clone)]
pub struct AccessAt {
    pub now: DateTime<Utc>,
    pub read_after_end_days: Option<u32>,
    /// Each `stage_end` entry of the plan: stage and the moment it took effect (loaded
    /// only when a read-after-end period is set).
    pub stage_ends: Vec<(String, DateTime<Utc>)>,
}

impl AccessAt {
    /// At `now`, with no read-after-end period.
    pub fn now_only(now: DateTime<Utc>) -> Self {
        AccessAt {
            now,
            read_after_end_days: None,
            stage_ends: Vec::new(),
        }
    }

    /// At `now` with the server's period, the stage ends taken from a plan's entries.
    pub fn from_entries(services: &Services, now: DateTime<Utc>, entries: &[EntryRow]) -> Self {
        AccessAt {
            now,
            read_after_end_days: services.care_team.read_after_end_days(),
            stage_ends: entries
                .iter()
                .filter(|e| e.kind == EntryKind::StageEnd.as_str())
                .map(|e| (e.stage.clone(), e.effective_at))
                .collect(),
        }
    }

    /// The stage facts of `plan` for the domain.
    pub fn stage_facts(&self, plan: &CarePlanRow) -> StageEnds {
        StageEnds {
            current_stage: plan.current_stage.clone(),
            current_ended: plan.stage_ended,
            ended: self.stage_ends.clone(),
        }
    }
}

/// The moment and bounds of an access decision on `plan` at `now`: the plan's stage ends
/// are read only when the server sets a read-after-end period.
pub(crate) async fn access_at<C: ConnectionTrait>(
    c: &C,
    services: &Services,
    plan: &CarePlanRow,
    now: DateTime<Utc>,
) -> Result<AccessAt, ServiceError> {
    let days = services.care_team.read_after_end_days();
    let stage_ends = match days {
        Some(_) => qa::stage_ends_of(c, &[plan.id])
            .await?
            .into_iter()
            .map(|(_, stage, at)| (stage, at))
            .collect(),
        None => Vec::new(),
    };
    Ok(AccessAt {
        now,
        read_after_end_days: days,
        stage_ends,
    })
}

/// How a care-team member is listed: with its end of access and, when the period
/// applies, the last day it reads the plan.
pub(crate) fn member_term(
    row: &TeamMemberRow,
    plan: &CarePlanRow,
    at: &AccessAt,
) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let ends_on = row
        .access_ends_on
        .as_deref()
        .and_then(|d| d.parse::<NaiveDate>().ok());
    let read_until = member_record(row).and_then(|r| {
        renkei_domain::access::read_until(&r.member, &at.stage_facts(plan), at.read_after_end_days)
    });
    (ends_on, read_until)
}

impl Services {
    /// Ends an organisation's access to a plan (the planner's use case): with `last_day`
    /// its access stops after that Tokyo day; without, at once ("remove"). The row stays,
    /// listed as ended. Refused for the planner and for the owner of the running stage.
    pub async fn end_team_member(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        plan_id: Uuid,
        organization_code: &str,
        last_day: Option<NaiveDate>,
        reason: &str,
    ) -> Result<Vec<CareTeamMember>, ServiceError> {
        let write = self
            .begin_plan_write(actor, meta, plan_id)
            .await?
            .denied_as("care_team.end")
            .authorize(Action::ManageCareTeam, None)
            .await?;
        let (txn, plan) = (&write.txn, &write.plan);
        let now = self.now();
        let mut errors = Vec::new();
        if reason.trim().is_empty() {
            errors.push(renkei_domain::FieldError::new(
                "reason",
                Rule::Required,
                "ending an organisation's access needs a reason",
            ));
        }
        let org = queries::organization_by_code(txn, organization_code).await?;
        let team = qa::team_of(txn, plan_id).await?;
        // One row per organisation (one added again after its end is put back on it).
        let row = org
            .as_ref()
            .and_then(|o| team.iter().find(|m| m.organization_id == o.id));
        let Some(row) = row.cloned() else {
            return Err(ServiceError::NotFound("care-team member"));
        };
        let state = PlanState {
            status: PlanStatus::parse(&plan.status).unwrap_or(PlanStatus::Active),
            current_stage: plan.current_stage.clone(),
            stage_started: plan.stage_started,
            stage_ended: plan.stage_ended,
            started_at: plan.started_at,
        };
        let record = member_record(&row).ok_or(ServiceError::NotFound("care-team member"))?;
        match may_end_access(&record, &state, last_day, now) {
            Ok(()) => {}
            Err(EndRefusal::Planner) => errors.push(renkei_domain::FieldError::new(
                "organization",
                Rule::PlannerStays,
                "the planning organization stays on its plan's care team",
            )),
            Err(EndRefusal::OwnsRunningStage) => errors.push(renkei_domain::FieldError::new(
                "organization",
                Rule::StageRunning,
                format!(
                    "{organization_code} owns the running stage `{}`: end its access after that stage ends",
                    plan.current_stage
                ),
            )),
            Err(EndRefusal::InPast) => errors.push(renkei_domain::FieldError::new(
                "on",
                Rule::InPast,
                "the last day of access must be today or later",
            )),
            Err(EndRefusal::AlreadyEnded) => {
                return Err(ServiceError::Conflict {
                    code: ErrorCode::Duplicate,
                    message: format!("{organization_code}'s access has already ended"),
                });
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let day = last_day.unwrap_or_else(|| tokyo_date(now));
        let ends_at = access_ends_at(last_day, now);
        if !qa::end_team_member(
            txn,
            row.id,
            &day.to_string(),
            ends_at,
            now,
            actor.practitioner_id,
            reason.trim(),
        )
        .await?
        {
            return Err(ServiceError::Conflict {
                code: ErrorCode::Duplicate,
                message: format!("{organization_code}'s access has already ended"),
            });
        }
        renkei_store::work_index::mark_stale(txn, plan_id).await?;
        let at = access_at(txn, self, plan, now).await?;
        let team = team_view(txn, plan, &at).await?;
        let how = if last_day.is_some() {
            format!("{organization_code}: last day {day}")
        } else {
            format!("{organization_code}: removed")
        };
        let record = AuditRecord::by(
            actor,
            "care_team.end",
            "care_plan",
            Some(plan_id.to_string()),
            Outcome::Allowed,
        )
        .plan(Some(plan_id))
        .patient(Some(plan.patient_id))
        .wrote(EvidenceKind::CareTeamMember, row.id)
        .detail(how);
        write.commit(record).await?;
        Ok(team)
    }
}

impl Services {
    /// Whether the actor may manage the plan's care team and consent (the planning
    /// organisation's staff, as the writes decide): the web page shows its forms only
    /// then. Not audited: it reads nothing the page has not already read and audited.
    pub async fn may_manage_care_team(
        &self,
        actor: &Actor,
        plan_id: Uuid,
    ) -> Result<bool, ServiceError> {
        Ok(self
            .check_plan(&self.db, actor, plan_id, Action::ManageCareTeam)
            .await?
            .is_ok())
    }

    /// The stage codes and Japanese titles of the plan's pathway, in order (the add form
    /// offers them).
    pub async fn care_team_stages(
        &self,
        plan_id: Uuid,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        let plan = queries::care_plan_by_id(&self.db, plan_id)
            .await?
            .ok_or(ServiceError::NotFound("care plan"))?;
        Ok(self
            .pathway_of_plan(&plan)?
            .template
            .stages
            .iter()
            .map(|s| (s.code.clone(), s.title.ja.clone()))
            .collect())
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CareTeamMember {
    pub organization: String,
    pub organization_name: String,
    pub role: String,
    pub stages: Vec<String>,
    pub added_at: DateTime<Utc>,
    /// The last day of access (Tokyo) when it was ended on a date or removed.
    pub access_ends_on: Option<chrono::NaiveDate>,
    /// When the read-after-end period applies: the last day it reads the plan.
    pub read_until: Option<chrono::NaiveDate>,
    /// Its access has stopped (ended, removed, or the read-after-end period is over).
    pub ended: bool,
    pub end_reason: Option<String>,
}

pub(crate) async fn team_view<C: ConnectionTrait>(
    c: &C,
    plan: &CarePlanRow,
    at: &AccessAt,
) -> Result<Vec<CareTeamMember>, ServiceError> {
    let mut out = Vec::new();
    let facts = at.stage_facts(plan);
    for m in qa::team_of(c, plan.id).await? {
        let org = queries::organization_by_id(c, m.organization_id).await?;
        let (access_ends_on, read_until) = member_term(&m, plan, at);
        let ended = member_record(&m).is_some_and(|r| {
            renkei_domain::access::standing(&r, &facts, at.read_after_end_days, at.now)
                == renkei_domain::access::Standing::None
        });
        out.push(CareTeamMember {
            organization: org.as_ref().map(|o| o.code.clone()).unwrap_or_default(),
            organization_name: org.map(|o| o.name).unwrap_or_default(),
            role: m.role,
            stages: serde_json::from_str(&m.stages).unwrap_or_default(),
            added_at: m.added_at,
            access_ends_on,
            read_until,
            ended,
            end_reason: m.end_reason,
        });
    }
    Ok(out)
}
