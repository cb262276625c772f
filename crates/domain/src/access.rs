//! Need-to-know access decisions (DESIGN.md §3, domain.md §7): one pure function decides
//! whether a practitioner may do an action on a care plan, from the plan's care team,
//! the patient's consent and any break-glass grant.
//!
//! A practitioner whose organisation may not see a plan gets `Hidden` (answered 404, so
//! the plan's existence is not revealed); one who sees it but may not do the action gets
//! `Forbidden` (403).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::calendar::{tokyo_date, tokyo_midnight};
use crate::entry::{AmendTarget, EntryKind, PlanState, PlanStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profession {
    Physician,
    Nurse,
    Therapist,
    Msw,
    LiaisonStaff,
    CareManager,
    Pharmacist,
}

impl Profession {
    pub const ALL: [Profession; 7] = [
        Profession::Physician,
        Profession::Nurse,
        Profession::Therapist,
        Profession::Msw,
        Profession::LiaisonStaff,
        Profession::CareManager,
        Profession::Pharmacist,
    ];

    /// The stored codes, in the order of [`Profession::ALL`].
    pub const CODES: [&'static str; 7] = [
        "physician",
        "nurse",
        "therapist",
        "msw",
        "liaison_staff",
        "care_manager",
        "pharmacist",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "physician" => Profession::Physician,
            "nurse" => Profession::Nurse,
            "therapist" => Profession::Therapist,
            "msw" => Profession::Msw,
            "liaison_staff" => Profession::LiaisonStaff,
            "care_manager" => Profession::CareManager,
            "pharmacist" => Profession::Pharmacist,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Profession::Physician => "physician",
            Profession::Nurse => "nurse",
            Profession::Therapist => "therapist",
            Profession::Msw => "msw",
            Profession::LiaisonStaff => "liaison_staff",
            Profession::CareManager => "care_manager",
            Profession::Pharmacist => "pharmacist",
        }
    }
}

/// A care-team organisation's part in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TeamRole {
    /// 計画管理病院: enrolled the patient; always sees its own plans.
    Planner,
    StageOwner,
    Contributor,
    Viewer,
}

impl TeamRole {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "planner" => TeamRole::Planner,
            "stage_owner" => TeamRole::StageOwner,
            "contributor" => TeamRole::Contributor,
            "viewer" => TeamRole::Viewer,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::Planner => "planner",
            TeamRole::StageOwner => "stage_owner",
            TeamRole::Contributor => "contributor",
            TeamRole::Viewer => "viewer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    pub organization_id: Uuid,
    pub role: TeamRole,
    /// Stages the organisation takes part in (the planner takes part in all).
    pub stages: Vec<String>,
    /// All its stages have ended and it is within the read-after-end period: it reads
    /// the plan (and sends the report back of a stage it ran) but writes nothing else.
    /// See [`team_at`].
    pub read_only: bool,
}

/// The consent in force for a plan, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentState {
    /// No consent recorded, or the last one was withdrawn.
    None,
    /// Sharing with every care-team organisation.
    CareTeam,
    /// Sharing with the listed organisations only.
    Listed(Vec<Uuid>),
}

impl ConsentState {
    /// Whether this consent lets the plan be shared with `org` (once it is on the care
    /// team). The planning organisation needs no consent; ask [`PlanAccess`] for that.
    pub fn covers(&self, org: Uuid) -> bool {
        match self {
            ConsentState::None => false,
            ConsentState::CareTeam => true,
            ConsentState::Listed(orgs) => orgs.contains(&org),
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub practitioner_id: Uuid,
    pub organization_id: Uuid,
    pub profession: Profession,
    pub is_org_admin: bool,
    pub is_regional_admin: bool,
}

/// What is known about the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanAccess {
    pub planner_organization_id: Uuid,
    pub team: Vec<TeamMember>,
    pub consent: ConsentState,
    /// An unexpired break-glass grant of this practitioner on this plan.
    pub break_glass: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    ReadPlan,
    /// Append an entry of a kind in a stage.
    Append {
        kind: EntryKind,
        stage: &'a str,
    },
    /// Amend an entry written by `author_organization`.
    Amend {
        kind: EntryKind,
        stage: &'a str,
        author_organization: Uuid,
    },
    ManageCareTeam,
    RecordConsent,
    /// Ask for emergency read access.
    BreakGlass,
    /// Propose handing the plan over from the current stage (its owner).
    ProposeHandover {
        current_stage: &'a str,
    },
    /// Send the report back for a stage one's organisation ran.
    SendReport {
        stage: &'a str,
    },
    /// Complete, withdraw or migrate the plan (the planning organisation).
    Lifecycle,
    /// Set a per-patient target or interval (a physician on the care team).
    Individualize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not visible to this organisation: answer 404.
    Hidden,
    /// Visible, but not this action: answer 403.
    Forbidden,
}

/// Organisation-level actions that are not about one plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalAction {
    Enrol,
    RegisterPatient,
    ReadAudit,
    ReviewBreakGlass,
    ManageOrganizations,
}

impl PlanAccess {
    fn member(&self, org: Uuid) -> Option<&TeamMember> {
        // An organisation added again after its access ended has two rows: the one
        // with full access counts.
        self.team
            .iter()
            .filter(|m| m.organization_id == org)
            .min_by_key(|m| m.read_only)
    }

    /// Whether the organisation sees the plan through the care team and consent.
    pub fn is_visible_to(&self, org: Uuid) -> bool {
        if org == self.planner_organization_id {
            return true;
        }
        self.member(org).is_some() && self.consent.covers(org)
    }

    /// Whether the plan may be handed over to `org`: the planner always takes it back,
    /// another organisation only while the patient's consent covers it (else it would be
    /// handed a plan it cannot see).
    pub fn may_receive(&self, org: Uuid) -> bool {
        org == self.planner_organization_id || self.consent.covers(org)
    }
}

/// Which professions may write which entry kinds.
fn may_write(profession: Profession, kind: EntryKind) -> bool {
    use Profession::*;
    match kind {
        EntryKind::Note => true,
        EntryKind::Assessment => matches!(
            profession,
            Physician | Nurse | Therapist | Pharmacist | CareManager
        ),
        EntryKind::Variance => matches!(
            profession,
            Physician | Nurse | Therapist | Msw | LiaisonStaff
        ),
        EntryKind::StageStart | EntryKind::StageEnd => {
            matches!(profession, Physician | Nurse | LiaisonStaff)
        }
        // Process entries are written by their own use cases, each with its own rule.
        EntryKind::Handover | EntryKind::Report | EntryKind::Lifecycle => {
            matches!(profession, Physician | Nurse | LiaisonStaff | Msw)
        }
        EntryKind::Individualize => matches!(profession, Physician),
        // The hand-off sheets (地域生活連携シート A表/B表, 入院時情報提供書,
        // 退院・退所情報記録書) are written by the care manager and by the hospital's
        // liaison, ward and rehabilitation staff; not by the pharmacy.
        EntryKind::Sheet => !matches!(profession, Pharmacist),
        // A void is decided as an amend of the entry it voids (that entry's kind).
        EntryKind::EnteredInError => true,
    }
}

/// The access decision for `action` on a plan.
pub fn decide(subject: &Subject, action: Action<'_>, plan: &PlanAccess) -> Decision {
    let org = subject.organization_id;
    let visible = plan.is_visible_to(org);
    if !visible {
        return match action {
            Action::ReadPlan if plan.break_glass => Decision::Allow,
            Action::BreakGlass
                if matches!(
                    subject.profession,
                    Profession::Physician | Profession::Nurse | Profession::Pharmacist
                ) =>
            {
                Decision::Allow
            }
            // A break-glass reader sees the plan, so refusing a write is no secret.
            _ if plan.break_glass => Decision::Forbidden,
            _ => Decision::Hidden,
        };
    }
    let is_planner = org == plan.planner_organization_id;
    let member = plan.member(org);
    // Every organisation, the planner included, writes stage entries only in the stages
    // it takes part in (the planner's are its own at enrolment): after handing a patient
    // over, the sender keeps reading and may add notes, but not stage entries (issue 4).
    let writer_for = |stage: &str| -> bool {
        match member {
            Some(m) => m.role != TeamRole::Viewer && m.stages.iter().any(|s| s == stage),
            None => false,
        }
    };
    // A member whose part has ended reads, and sends the report back of a stage it ran.
    if !is_planner && member.is_some_and(|m| m.read_only) {
        let ok = match action {
            Action::ReadPlan => true,
            Action::SendReport { stage } => {
                may_write(subject.profession, EntryKind::Report)
                    && member.is_some_and(|m| m.stages.iter().any(|s| s == stage))
            }
            _ => false,
        };
        return if ok {
            Decision::Allow
        } else {
            Decision::Forbidden
        };
    }
    let ok = match action {
        Action::ReadPlan => true,
        Action::BreakGlass => false,
        Action::Append { kind, stage } => {
            may_write(subject.profession, kind)
                && (writer_for(stage)
                    // Notes and hand-off sheets may be added by any writing member,
                    // whatever the stage (a care manager takes part in no clinical stage).
                    || (matches!(kind, EntryKind::Note | EntryKind::Sheet)
                        && member.is_some_and(|m| m.role != TeamRole::Viewer)))
        }
        Action::Amend {
            kind,
            stage,
            author_organization,
        } => {
            author_organization == org
                && may_write(subject.profession, kind)
                && (writer_for(stage)
                    || (kind == EntryKind::Note
                        && member.is_some_and(|m| m.role != TeamRole::Viewer)))
        }
        Action::ProposeHandover { current_stage } => {
            may_write(subject.profession, EntryKind::Handover) && writer_for(current_stage)
        }
        Action::SendReport { stage } => {
            may_write(subject.profession, EntryKind::Report) && writer_for(stage)
        }
        Action::Lifecycle => is_planner && may_write(subject.profession, EntryKind::Lifecycle),
        Action::Individualize => {
            may_write(subject.profession, EntryKind::Individualize)
                && member.is_some_and(|m| m.role != TeamRole::Viewer)
        }
        Action::ManageCareTeam | Action::RecordConsent => {
            is_planner
                && (subject.is_org_admin
                    || matches!(
                        subject.profession,
                        Profession::Physician
                            | Profession::Nurse
                            | Profession::LiaisonStaff
                            | Profession::Msw
                    ))
        }
    };
    if ok {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

/// Decisions for actions not tied to one plan.
pub fn decide_global(subject: &Subject, action: GlobalAction) -> bool {
    use Profession::*;
    match action {
        GlobalAction::Enrol => matches!(subject.profession, Physician | Nurse | LiaisonStaff | Msw),
        GlobalAction::RegisterPatient => matches!(
            subject.profession,
            Physician | Nurse | LiaisonStaff | Msw | CareManager
        ),
        GlobalAction::ReadAudit | GlobalAction::ReviewBreakGlass => subject.is_regional_admin,
        GlobalAction::ManageOrganizations => subject.is_regional_admin,
    }
}

/// Whether the subject administers anything (its organisation's users, or the region):
/// the administration pages (S10) are open to it and its menu shows them.
pub fn may_administer(subject: &Subject) -> bool {
    subject.is_org_admin || subject.is_regional_admin
}

/// An action a read model offers an actor on a plan: what the actor may do now, given
/// the plan's state, as the write would decide it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PlanAction {
    /// Record the start of a stage (the current one, or a next one after the end).
    StartStage(String),
    /// Record the end of the current stage.
    EndStage(String),
    /// Record an assessment in the current stage.
    Assess(String),
    /// Record a variance in the current stage.
    RecordVariance(String),
    /// Add a note.
    AddNote,
    /// Propose handing the plan over from the current stage.
    ProposeHandover,
    /// Complete, withdraw or migrate the plan.
    Lifecycle,
    ManageCareTeam,
    RecordConsent,
    Individualize,
}

/// Whether the subject's profession may answer a hand-over its organisation is a party
/// to (accept or decline as receiver, withdraw as sender): those who may propose one.
pub fn may_answer_handover(subject: &Subject) -> bool {
    may_write(subject.profession, EntryKind::Handover)
}

/// Whether the subject's organisation may read a hand-over or report of a plan: as a
/// party to it (its sender or receiver) while the patient's consent covers the
/// organisation, or else when it may read the plan itself.
pub fn may_read_party_record(subject: &Subject, plan: &PlanAccess, is_party: bool) -> bool {
    (is_party && plan.consent.covers(subject.organization_id))
        || allows(subject, Action::ReadPlan, plan)
}

/// Whether `decide` allows `action`.
pub fn allows(subject: &Subject, action: Action<'_>, plan: &PlanAccess) -> bool {
    decide(subject, action, plan) == Decision::Allow
}

/// The actions `subject` may take on a plan in `state` now, each allowed by [`decide`]
/// exactly as the write would ask it. `next_stages` are the stages the template allows
/// after the current one. A plan that is no longer active offers nothing.
pub fn allowed_actions(
    subject: &Subject,
    plan: &PlanAccess,
    state: &PlanState,
    next_stages: &[&str],
) -> Vec<PlanAction> {
    let mut out = Vec::new();
    if state.status != PlanStatus::Active {
        return out;
    }
    let cur = state.current_stage.as_str();
    let append =
        |kind: EntryKind, stage: &str| allows(subject, Action::Append { kind, stage }, plan);
    let open = state.stage_started && !state.stage_ended;
    if !state.stage_started {
        if append(EntryKind::StageStart, cur) {
            out.push(PlanAction::StartStage(cur.to_owned()));
        }
    } else if state.stage_ended {
        for n in next_stages {
            if append(EntryKind::StageStart, n) {
                out.push(PlanAction::StartStage((*n).to_owned()));
            }
        }
    }
    if open && append(EntryKind::Assessment, cur) {
        out.push(PlanAction::Assess(cur.to_owned()));
    }
    if open && append(EntryKind::Variance, cur) {
        out.push(PlanAction::RecordVariance(cur.to_owned()));
    }
    if append(EntryKind::Note, cur) {
        out.push(PlanAction::AddNote);
    }
    if open && append(EntryKind::StageEnd, cur) {
        out.push(PlanAction::EndStage(cur.to_owned()));
    }
    if state.stage_started
        && allows(
            subject,
            Action::ProposeHandover { current_stage: cur },
            plan,
        )
    {
        out.push(PlanAction::ProposeHandover);
    }
    for (action, offer) in [
        (Action::Lifecycle, PlanAction::Lifecycle),
        (Action::ManageCareTeam, PlanAction::ManageCareTeam),
        (Action::RecordConsent, PlanAction::RecordConsent),
        (Action::Individualize, PlanAction::Individualize),
    ] {
        if allows(subject, action, plan) {
            out.push(offer);
        }
    }
    out
}

/// Whether `subject` may amend (correct or void) an entry of `kind` in `stage` written by
/// `author_organization` on a plan in `state`: a clinical entry that is the current head
/// of its chain (not superseded by a later correction) and not voided, on an active plan,
/// when [`decide`] allows the amend. Voiding follows the same rule as correcting.
pub fn may_amend_entry(
    subject: &Subject,
    plan: &PlanAccess,
    state: &PlanState,
    entry: &AmendTarget,
    author_organization: Uuid,
) -> bool {
    state.status == PlanStatus::Active
        && entry.kind.is_clinical()
        && !entry.is_already_amended
        && !entry.is_voided
        && allows(
            subject,
            Action::Amend {
                kind: entry.kind,
                stage: &entry.stage,
                author_organization,
            },
            plan,
        )
}

/// Whether `subject` may classify or dismiss an automatic variance raised in `stage`:
/// the variance is a clinical judgement of the stage's care, so a physician, nurse or
/// therapist of an organisation owning the stage (the planner or the stage owner taking
/// part in it; not a contributor or a viewer). `Hidden` when the plan is not visible to
/// the subject's organisation, `Forbidden` when it is but the rule does not hold.
pub fn may_classify_variance(subject: &Subject, plan: &PlanAccess, stage: &str) -> Decision {
    if !plan.is_visible_to(subject.organization_id) {
        return if plan.break_glass {
            Decision::Forbidden
        } else {
            Decision::Hidden
        };
    }
    let owns_stage = plan.member(subject.organization_id).is_some_and(|m| {
        matches!(m.role, TeamRole::Planner | TeamRole::StageOwner)
            && m.stages.iter().any(|s| s == stage)
    });
    let clinical = matches!(
        subject.profession,
        Profession::Physician | Profession::Nurse | Profession::Therapist
    );
    if owns_stage && clinical {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

// ------------------------------------------------------------ care team: end of access

/// When each stage of a plan last ended, and which stage runs now: the facts that bound
/// a member's access in time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageEnds {
    pub current_stage: String,
    /// The current stage has a `stage_end` entry.
    pub current_ended: bool,
    /// Each `stage_end` entry: its stage and the moment it took effect.
    pub ended: Vec<(String, DateTime<Utc>)>,
}

/// A care-team row as stored, before the date decides what it still gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub member: TeamMember,
    /// The moment the member's access ends ("end on a date": the next Tokyo midnight
    /// after the last day; "remove": the moment it was removed).
    pub access_ends_at: Option<DateTime<Utc>>,
}

/// What a member's row gives it at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// What its role and stages give.
    Full,
    /// Read only: its stages have all ended, within the read-after-end period.
    ReadOnly,
    /// Nothing: its access was ended, or the read-after-end period is over.
    None,
}

/// The Tokyo date the last of `stages` ended, when every one of them has ended (a stage
/// that runs now, or never ended, has not). `None` for no stages.
pub fn stages_ended_on(stages: &[String], facts: &StageEnds) -> Option<NaiveDate> {
    let mut last: Option<DateTime<Utc>> = None;
    if stages.is_empty() {
        return None;
    }
    for s in stages {
        if *s == facts.current_stage && !facts.current_ended {
            return None;
        }
        let end = facts
            .ended
            .iter()
            .filter(|(stage, _)| stage == s)
            .map(|(_, at)| *at)
            .max()?;
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    last.map(tokyo_date)
}

/// The last Tokyo day a non-planner member reads the plan after its stages ended
/// (`read_after_end_days` after the day the last of them ended), when a period is set
/// and its stages have all ended.
pub fn read_until(
    member: &TeamMember,
    facts: &StageEnds,
    read_after_end_days: Option<u32>,
) -> Option<NaiveDate> {
    if member.role == TeamRole::Planner {
        return None;
    }
    let days = read_after_end_days?;
    stages_ended_on(&member.stages, facts)?.checked_add_days(chrono::Days::new(days.into()))
}

/// What a member's row gives it at `now`: nothing once its access was ended; with a
/// read-after-end period set, read only from the end of its last stage through
/// [`read_until`], then nothing. The planner keeps its plan whatever the dates.
pub fn standing(
    record: &MemberRecord,
    facts: &StageEnds,
    read_after_end_days: Option<u32>,
    now: DateTime<Utc>,
) -> Standing {
    if record.member.role == TeamRole::Planner {
        return Standing::Full;
    }
    if record.access_ends_at.is_some_and(|t| now >= t) {
        return Standing::None;
    }
    if stages_ended_on(&record.member.stages, facts).is_none() {
        return Standing::Full;
    }
    match read_until(&record.member, facts, read_after_end_days) {
        None => Standing::Full,
        Some(until) if tokyo_date(now) <= until => Standing::ReadOnly,
        Some(_) => Standing::None,
    }
}

/// The care team as the access decision sees it at `now`: members whose access is over
/// are left out (the plan is hidden from them, as from any outsider), those within the
/// read-after-end period are marked read only.
pub fn team_at(
    records: &[MemberRecord],
    facts: &StageEnds,
    read_after_end_days: Option<u32>,
    now: DateTime<Utc>,
) -> Vec<TeamMember> {
    records
        .iter()
        .filter_map(|r| match standing(r, facts, read_after_end_days, now) {
            Standing::Full => Some(r.member.clone()),
            Standing::ReadOnly => Some(TeamMember {
                read_only: true,
                ..r.member.clone()
            }),
            Standing::None => None,
        })
        .collect()
}

/// The earliest moment after `now` at which the date alone changes what some member's
/// row gives it (an end of access, or the start or end of a read-after-end period).
pub fn next_standing_change(
    records: &[MemberRecord],
    facts: &StageEnds,
    read_after_end_days: Option<u32>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut next: Option<DateTime<Utc>> = None;
    for r in records {
        // A row that gives nothing never gives anything again.
        if standing(r, facts, read_after_end_days, now) == Standing::None {
            continue;
        }
        let mut candidates = Vec::new();
        if let Some(t) = r.access_ends_at {
            candidates.push(t);
        }
        if let Some(until) = read_until(&r.member, facts, read_after_end_days)
            && let Some(day_after) = until.succ_opt()
        {
            candidates.push(tokyo_midnight(day_after));
        }
        for t in candidates.into_iter().filter(|t| *t > now) {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
    }
    next
}

/// Why a member's access may not be ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndRefusal {
    /// The planner (計画管理病院): the plan needs it.
    Planner,
    /// It owns the current stage, which has not ended.
    OwnsRunningStage,
    /// The last day asked for is before today (Tokyo).
    InPast,
    /// Its access has already ended.
    AlreadyEnded,
}

/// Whether `record`'s access may be ended with `last_day` as its last day (`None`:
/// removed now), on a plan in `state`, at `now`.
pub fn may_end_access(
    record: &MemberRecord,
    state: &PlanState,
    last_day: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<(), EndRefusal> {
    let m = &record.member;
    if m.role == TeamRole::Planner {
        return Err(EndRefusal::Planner);
    }
    if record.access_ends_at.is_some_and(|t| now >= t) {
        return Err(EndRefusal::AlreadyEnded);
    }
    if last_day.is_some_and(|d| d < tokyo_date(now)) {
        return Err(EndRefusal::InPast);
    }
    let running = state.status == PlanStatus::Active && !state.stage_ended;
    if running && m.role == TeamRole::StageOwner && m.stages.contains(&state.current_stage) {
        return Err(EndRefusal::OwnsRunningStage);
    }
    Ok(())
}

/// The moment access ends for `last_day` (the next Tokyo midnight), or `now` when the
/// member is removed.
pub fn access_ends_at(last_day: Option<NaiveDate>, now: DateTime<Utc>) -> DateTime<Utc> {
    match last_day.and_then(|d| d.succ_opt()) {
        Some(next) => tokyo_midnight(next),
        None => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (Uuid, Uuid, Uuid) {
        (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3))
    }

    fn subject(org: Uuid, p: Profession) -> Subject {
        Subject {
            practitioner_id: Uuid::from_u128(99),
            organization_id: org,
            profession: p,
            is_org_admin: false,
            is_regional_admin: false,
        }
    }

    fn plan(consent: ConsentState) -> PlanAccess {
        let (planner, recovery, _) = ids();
        PlanAccess {
            planner_organization_id: planner,
            team: vec![
                TeamMember {
                    organization_id: planner,
                    role: TeamRole::Planner,
                    stages: vec!["acute".into(), "recovery".into(), "home".into()],
                    read_only: false,
                },
                TeamMember {
                    organization_id: recovery,
                    role: TeamRole::StageOwner,
                    stages: vec!["recovery".into()],
                    read_only: false,
                },
            ],
            consent,
            break_glass: false,
        }
    }

    #[test]
    fn planner_always_sees_its_plan() {
        let (planner, _, _) = ids();
        for p in Profession::ALL {
            assert_eq!(
                decide(
                    &subject(planner, p),
                    Action::ReadPlan,
                    &plan(ConsentState::None)
                ),
                Decision::Allow
            );
        }
    }

    #[test]
    fn team_member_needs_consent() {
        let (_, recovery, _) = ids();
        let s = subject(recovery, Profession::Nurse);
        assert_eq!(
            decide(&s, Action::ReadPlan, &plan(ConsentState::None)),
            Decision::Hidden
        );
        assert_eq!(
            decide(&s, Action::ReadPlan, &plan(ConsentState::CareTeam)),
            Decision::Allow
        );
        assert_eq!(
            decide(&s, Action::ReadPlan, &plan(ConsentState::Listed(vec![]))),
            Decision::Hidden
        );
        assert_eq!(
            decide(
                &s,
                Action::ReadPlan,
                &plan(ConsentState::Listed(vec![recovery]))
            ),
            Decision::Allow
        );
    }

    #[test]
    fn outsiders_are_hidden_and_break_glass_reads_only() {
        let (_, _, outsider) = ids();
        let s = subject(outsider, Profession::Physician);
        let mut p = plan(ConsentState::CareTeam);
        assert_eq!(decide(&s, Action::ReadPlan, &p), Decision::Hidden);
        assert_eq!(decide(&s, Action::BreakGlass, &p), Decision::Allow);
        p.break_glass = true;
        assert_eq!(decide(&s, Action::ReadPlan, &p), Decision::Allow);
        assert_eq!(
            decide(
                &s,
                Action::Append {
                    kind: EntryKind::Note,
                    stage: "acute"
                },
                &p
            ),
            Decision::Forbidden
        );
        let msw = subject(outsider, Profession::Msw);
        p.break_glass = false;
        assert_eq!(decide(&msw, Action::BreakGlass, &p), Decision::Hidden);
    }

    #[test]
    fn writers_are_limited_to_their_stages_and_professions() {
        let (planner, recovery, _) = ids();
        let p = plan(ConsentState::CareTeam);
        let pt = subject(recovery, Profession::Therapist);
        let append = |kind, stage| Action::Append { kind, stage };
        assert_eq!(
            decide(&pt, append(EntryKind::Assessment, "recovery"), &p),
            Decision::Allow
        );
        assert_eq!(
            decide(&pt, append(EntryKind::Assessment, "acute"), &p),
            Decision::Forbidden
        );
        assert_eq!(
            decide(&pt, append(EntryKind::StageStart, "recovery"), &p),
            Decision::Forbidden
        );
        assert_eq!(
            decide(&pt, append(EntryKind::Note, "acute"), &p),
            Decision::Allow
        );
        let cm = subject(planner, Profession::CareManager);
        assert_eq!(
            decide(&cm, append(EntryKind::Variance, "acute"), &p),
            Decision::Forbidden
        );
        assert_eq!(
            decide(&cm, append(EntryKind::Assessment, "acute"), &p),
            Decision::Allow
        );
    }

    #[test]
    fn a_care_manager_on_the_team_writes_sheets_whatever_the_stage() {
        let (_, _, office) = ids();
        let mut p = plan(ConsentState::CareTeam);
        p.team.push(TeamMember {
            organization_id: office,
            role: TeamRole::Contributor,
            stages: vec!["home".into()],
            read_only: false,
        });
        let sheet = |stage| Action::Append {
            kind: EntryKind::Sheet,
            stage,
        };
        let cm = subject(office, Profession::CareManager);
        // The plan is still in the acute stage: the A表 goes to the hospital at admission.
        assert_eq!(decide(&cm, sheet("acute"), &p), Decision::Allow);
        assert_eq!(decide(&cm, sheet("home"), &p), Decision::Allow);
        // Not through an assessment of a stage the office takes no part in.
        assert_eq!(
            decide(
                &cm,
                Action::Append {
                    kind: EntryKind::Assessment,
                    stage: "acute"
                },
                &p
            ),
            Decision::Forbidden
        );
        let pharmacist = subject(office, Profession::Pharmacist);
        assert_eq!(decide(&pharmacist, sheet("acute"), &p), Decision::Forbidden);
        // Without the patient's consent the office does not see the plan at all.
        let mut no_consent = p.clone();
        no_consent.consent = ConsentState::None;
        assert_eq!(decide(&cm, sheet("acute"), &no_consent), Decision::Hidden);
        // A viewer reads the sheets but writes none; an office off the team sees nothing.
        p.team[2].role = TeamRole::Viewer;
        assert_eq!(decide(&cm, sheet("acute"), &p), Decision::Forbidden);
        assert_eq!(decide(&cm, Action::ReadPlan, &p), Decision::Allow);
        let other = subject(Uuid::from_u128(77), Profession::CareManager);
        assert_eq!(decide(&other, sheet("acute"), &p), Decision::Hidden);
    }

    #[test]
    fn the_planner_writes_stage_entries_only_in_its_own_stages() {
        let (planner, _, _) = ids();
        let mut p = plan(ConsentState::None);
        // As enrolment records it: the planner's own stages are only the first one.
        p.team[0].stages = vec!["acute".into()];
        let nurse = subject(planner, Profession::Nurse);
        for kind in [
            EntryKind::StageStart,
            EntryKind::Assessment,
            EntryKind::Variance,
        ] {
            assert_eq!(
                decide(
                    &nurse,
                    Action::Append {
                        kind,
                        stage: "recovery"
                    },
                    &p
                ),
                Decision::Forbidden
            );
            assert_eq!(
                decide(
                    &nurse,
                    Action::Append {
                        kind,
                        stage: "acute"
                    },
                    &p
                ),
                Decision::Allow
            );
        }
        // Notes stay open to the sender, in any stage.
        assert_eq!(
            decide(
                &nurse,
                Action::Append {
                    kind: EntryKind::Note,
                    stage: "recovery"
                },
                &p
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(
                &nurse,
                Action::ProposeHandover {
                    current_stage: "recovery"
                },
                &p
            ),
            Decision::Forbidden
        );
    }

    #[test]
    fn amend_only_by_the_authors_organization() {
        let (planner, recovery, _) = ids();
        let p = plan(ConsentState::CareTeam);
        let nurse = subject(recovery, Profession::Nurse);
        let amend = |org| Action::Amend {
            kind: EntryKind::Assessment,
            stage: "recovery",
            author_organization: org,
        };
        assert_eq!(decide(&nurse, amend(recovery), &p), Decision::Allow);
        assert_eq!(decide(&nurse, amend(planner), &p), Decision::Forbidden);
    }

    #[test]
    fn only_the_planner_manages_team_and_consent() {
        let (planner, recovery, _) = ids();
        let p = plan(ConsentState::CareTeam);
        assert_eq!(
            decide(
                &subject(planner, Profession::LiaisonStaff),
                Action::ManageCareTeam,
                &p
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(
                &subject(planner, Profession::Therapist),
                Action::RecordConsent,
                &p
            ),
            Decision::Forbidden
        );
        assert_eq!(
            decide(
                &subject(recovery, Profession::Physician),
                Action::ManageCareTeam,
                &p
            ),
            Decision::Forbidden
        );
    }

    #[test]
    fn withdrawn_consent_hides_from_team_but_not_planner() {
        let (planner, recovery, _) = ids();
        let p = plan(ConsentState::None);
        assert_eq!(
            decide(
                &subject(recovery, Profession::Physician),
                Action::ReadPlan,
                &p
            ),
            Decision::Hidden
        );
        assert_eq!(
            decide(
                &subject(planner, Profession::Physician),
                Action::ReadPlan,
                &p
            ),
            Decision::Allow
        );
    }

    #[test]
    fn a_hand_over_goes_only_where_the_consent_reaches() {
        let (planner, recovery, outsider) = ids();
        assert!(!plan(ConsentState::None).may_receive(recovery));
        assert!(plan(ConsentState::None).may_receive(planner));
        assert!(plan(ConsentState::CareTeam).may_receive(outsider));
        let listed = plan(ConsentState::Listed(vec![recovery]));
        assert!(listed.may_receive(recovery));
        assert!(!listed.may_receive(outsider));
        assert!(listed.may_receive(planner));
    }

    fn state(stage: &str, started: bool, ended: bool) -> PlanState {
        PlanState {
            status: PlanStatus::Active,
            current_stage: stage.into(),
            stage_started: started,
            stage_ended: ended,
            started_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_stage_owner_is_offered_the_entries_of_its_running_stage() {
        let (_, recovery, _) = ids();
        let s = subject(recovery, Profession::Nurse);
        let got = allowed_actions(
            &s,
            &plan(ConsentState::CareTeam),
            &state("recovery", true, false),
            &["home"],
        );
        assert_eq!(
            got,
            vec![
                PlanAction::Assess("recovery".into()),
                PlanAction::RecordVariance("recovery".into()),
                PlanAction::AddNote,
                PlanAction::EndStage("recovery".into()),
                PlanAction::ProposeHandover,
            ]
        );
    }

    #[test]
    fn professions_shape_the_offer_as_they_shape_the_write() {
        let (_, recovery, _) = ids();
        let access = plan(ConsentState::CareTeam);
        let msw = allowed_actions(
            &subject(recovery, Profession::Msw),
            &access,
            &state("recovery", true, false),
            &[],
        );
        assert!(!msw.contains(&PlanAction::Assess("recovery".into())));
        assert!(msw.contains(&PlanAction::RecordVariance("recovery".into())));
        assert!(!msw.contains(&PlanAction::EndStage("recovery".into())));
        let therapist = allowed_actions(
            &subject(recovery, Profession::Therapist),
            &access,
            &state("recovery", false, false),
            &[],
        );
        assert_eq!(therapist, vec![PlanAction::AddNote]);
    }

    #[test]
    fn every_offer_is_a_write_the_decision_allows() {
        let (planner, recovery, outsider) = ids();
        for org in [planner, recovery, outsider] {
            for p in Profession::ALL {
                for consent in [ConsentState::None, ConsentState::CareTeam] {
                    let s = subject(org, p);
                    let access = plan(consent);
                    for (stage, started, ended) in [
                        ("acute", false, false),
                        ("acute", true, false),
                        ("acute", true, true),
                        ("recovery", true, false),
                    ] {
                        let st = state(stage, started, ended);
                        for a in allowed_actions(&s, &access, &st, &["recovery"]) {
                            let action = match &a {
                                PlanAction::StartStage(x) => Action::Append {
                                    kind: EntryKind::StageStart,
                                    stage: x,
                                },
                                PlanAction::EndStage(x) => Action::Append {
                                    kind: EntryKind::StageEnd,
                                    stage: x,
                                },
                                PlanAction::Assess(x) => Action::Append {
                                    kind: EntryKind::Assessment,
                                    stage: x,
                                },
                                PlanAction::RecordVariance(x) => Action::Append {
                                    kind: EntryKind::Variance,
                                    stage: x,
                                },
                                PlanAction::AddNote => Action::Append {
                                    kind: EntryKind::Note,
                                    stage,
                                },
                                PlanAction::ProposeHandover => Action::ProposeHandover {
                                    current_stage: stage,
                                },
                                PlanAction::Lifecycle => Action::Lifecycle,
                                PlanAction::ManageCareTeam => Action::ManageCareTeam,
                                PlanAction::RecordConsent => Action::RecordConsent,
                                PlanAction::Individualize => Action::Individualize,
                            };
                            assert_eq!(decide(&s, action, &access), Decision::Allow, "{a:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_next_stage_is_offered_once_the_current_one_ended() {
        let (planner, recovery, _) = ids();
        let access = plan(ConsentState::CareTeam);
        let ended = state("acute", true, true);
        let owner = allowed_actions(
            &subject(recovery, Profession::Nurse),
            &access,
            &ended,
            &["recovery"],
        );
        assert!(owner.contains(&PlanAction::StartStage("recovery".into())));
        assert!(!owner.contains(&PlanAction::EndStage("acute".into())));
        let planner_nurse = allowed_actions(
            &subject(planner, Profession::Nurse),
            &access,
            &ended,
            &["recovery"],
        );
        assert!(planner_nurse.contains(&PlanAction::Lifecycle));
        assert!(planner_nurse.contains(&PlanAction::StartStage("recovery".into())));
    }

    #[test]
    fn viewers_break_glass_readers_and_ended_plans_are_offered_nothing_to_write() {
        let (planner, recovery, outsider) = ids();
        let mut access = plan(ConsentState::CareTeam);
        access.team[1].role = TeamRole::Viewer;
        let running = state("recovery", true, false);
        assert!(
            allowed_actions(
                &subject(recovery, Profession::Physician),
                &access,
                &running,
                &[]
            )
            .is_empty()
        );
        let mut glass = plan(ConsentState::None);
        glass.break_glass = true;
        assert!(
            allowed_actions(
                &subject(outsider, Profession::Physician),
                &glass,
                &running,
                &[]
            )
            .is_empty()
        );
        let mut done = running.clone();
        done.status = PlanStatus::Completed;
        assert!(
            allowed_actions(
                &subject(planner, Profession::Physician),
                &plan(ConsentState::CareTeam),
                &done,
                &[]
            )
            .is_empty()
        );
    }

    #[test]
    fn handovers_are_answered_by_those_who_propose_them() {
        let (planner, _, _) = ids();
        let answering: Vec<Profession> = Profession::ALL
            .into_iter()
            .filter(|p| may_answer_handover(&subject(planner, *p)))
            .collect();
        assert_eq!(
            answering,
            vec![
                Profession::Physician,
                Profession::Nurse,
                Profession::Msw,
                Profession::LiaisonStaff
            ]
        );
    }

    #[test]
    fn only_the_authors_organisation_amends_an_open_entry() {
        let (planner, recovery, _) = ids();
        let access = plan(ConsentState::CareTeam);
        let running = state("recovery", true, false);
        let target = AmendTarget {
            stage: "recovery".into(),
            kind: EntryKind::Assessment,
            is_amendment: false,
            is_already_amended: false,
            head: None,
            is_voided: false,
        };
        let nurse = subject(recovery, Profession::Nurse);
        assert!(may_amend_entry(
            &nurse, &access, &running, &target, recovery
        ));
        assert!(!may_amend_entry(
            &nurse, &access, &running, &target, planner
        ));
        let amended = AmendTarget {
            is_already_amended: true,
            ..target.clone()
        };
        assert!(!may_amend_entry(
            &nurse, &access, &running, &amended, recovery
        ));
        // A correction is the head of its chain and is corrected (or voided) in turn.
        let head_correction = AmendTarget {
            is_amendment: true,
            ..target.clone()
        };
        assert!(may_amend_entry(
            &nurse,
            &access,
            &running,
            &head_correction,
            recovery
        ));
        let voided = AmendTarget {
            is_voided: true,
            ..target.clone()
        };
        assert!(!may_amend_entry(
            &nurse, &access, &running, &voided, recovery
        ));
        let process = AmendTarget {
            kind: EntryKind::Handover,
            ..target.clone()
        };
        assert!(!may_amend_entry(
            &nurse, &access, &running, &process, recovery
        ));
        let mut done = running.clone();
        done.status = PlanStatus::Withdrawn;
        assert!(!may_amend_entry(&nurse, &access, &done, &target, recovery));
    }

    #[test]
    fn party_record_needs_consent_or_plan_access() {
        let (planner, recovery, other) = ids();
        let none = plan(ConsentState::None);
        // The planner reads its plan's hand-overs, party or not.
        assert!(may_read_party_record(
            &subject(planner, Profession::Nurse),
            &none,
            false
        ));
        // A receiver without consent reads nothing; with consent, as a party only.
        let receiver = subject(recovery, Profession::Nurse);
        assert!(!may_read_party_record(&receiver, &none, true));
        let mut outside = plan(ConsentState::CareTeam);
        outside.team.retain(|m| m.organization_id != recovery);
        assert!(may_read_party_record(&receiver, &outside, true));
        assert!(!may_read_party_record(&receiver, &outside, false));
        // An organisation that is neither party nor on the team reads nothing.
        assert!(!may_read_party_record(
            &subject(other, Profession::Physician),
            &plan(ConsentState::CareTeam),
            false
        ));
    }

    #[test]
    fn administration_is_for_org_and_regional_admins_only() {
        let (planner, _, _) = ids();
        let mut s = subject(planner, Profession::Physician);
        assert!(!may_administer(&s));
        assert!(!decide_global(&s, GlobalAction::ReadAudit));
        s.is_org_admin = true;
        assert!(may_administer(&s));
        assert!(!decide_global(&s, GlobalAction::ReviewBreakGlass));
        s.is_org_admin = false;
        s.is_regional_admin = true;
        assert!(may_administer(&s));
        assert!(decide_global(&s, GlobalAction::ReviewBreakGlass));
    }
}

#[cfg(test)]
mod end_of_access {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const PLANNER: Uuid = Uuid::from_u128(1);
    const RECOVERY: Uuid = Uuid::from_u128(2);

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        // Hours in Tokyo time.
        crate::calendar::TOKYO
            .with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .expect("valid time")
            .with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn record(org: Uuid, role: TeamRole, stages: &[&str]) -> MemberRecord {
        MemberRecord {
            member: TeamMember {
                organization_id: org,
                role,
                stages: stages.iter().map(|s| (*s).to_owned()).collect(),
                read_only: false,
            },
            access_ends_at: None,
        }
    }

    /// The recovery stage ended on 2026-03-10 at 10:00 Tokyo; the plan is in `home`.
    fn recovery_ended() -> StageEnds {
        StageEnds {
            current_stage: "home".into(),
            current_ended: false,
            ended: vec![
                ("acute".into(), at(2026, 2, 20, 9)),
                ("recovery".into(), at(2026, 3, 10, 10)),
            ],
        }
    }

    fn plan_with(team: Vec<TeamMember>) -> PlanAccess {
        PlanAccess {
            planner_organization_id: PLANNER,
            team,
            consent: ConsentState::CareTeam,
            break_glass: false,
        }
    }

    fn subject(org: Uuid) -> Subject {
        Subject {
            practitioner_id: Uuid::from_u128(99),
            organization_id: org,
            profession: Profession::Nurse,
            is_org_admin: false,
            is_regional_admin: false,
        }
    }

    fn running(stage: &str) -> PlanState {
        PlanState {
            status: PlanStatus::Active,
            current_stage: stage.into(),
            stage_started: true,
            stage_ended: false,
            started_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn without_a_period_a_member_whose_stages_ended_keeps_its_access() {
        let r = record(RECOVERY, TeamRole::StageOwner, &["recovery"]);
        assert_eq!(
            standing(&r, &recovery_ended(), None, at(2030, 1, 1, 12)),
            Standing::Full
        );
    }

    #[test]
    fn read_access_lasts_the_period_after_the_last_stage_ended_then_stops() {
        let r = record(RECOVERY, TeamRole::StageOwner, &["recovery"]);
        let facts = recovery_ended();
        assert_eq!(
            read_until(&r.member, &facts, Some(30)),
            Some(date(2026, 4, 9))
        );
        // Before the end of its stage: full access.
        let before = StageEnds {
            current_stage: "recovery".into(),
            current_ended: false,
            ended: vec![("acute".into(), at(2026, 2, 20, 9))],
        };
        assert_eq!(
            standing(&r, &before, Some(30), at(2026, 3, 1, 12)),
            Standing::Full
        );
        assert_eq!(
            standing(&r, &facts, Some(30), at(2026, 3, 10, 11)),
            Standing::ReadOnly
        );
        // The last day is a whole Tokyo day.
        assert_eq!(
            standing(&r, &facts, Some(30), at(2026, 4, 9, 23)),
            Standing::ReadOnly
        );
        assert_eq!(
            standing(&r, &facts, Some(30), at(2026, 4, 10, 0)),
            Standing::None
        );
    }

    #[test]
    fn a_member_of_several_stages_counts_from_the_last_one_and_not_before_all_ended() {
        let r = record(RECOVERY, TeamRole::Contributor, &["acute", "recovery"]);
        assert_eq!(
            stages_ended_on(&r.member.stages, &recovery_ended()),
            Some(date(2026, 3, 10))
        );
        let home = record(RECOVERY, TeamRole::Contributor, &["recovery", "home"]);
        assert_eq!(
            stages_ended_on(&home.member.stages, &recovery_ended()),
            None
        );
        assert_eq!(
            standing(&home, &recovery_ended(), Some(0), at(2027, 1, 1, 0)),
            Standing::Full
        );
        // A stage that ran again and runs now has not ended.
        let again = StageEnds {
            current_stage: "recovery".into(),
            ..recovery_ended()
        };
        assert_eq!(stages_ended_on(&r.member.stages, &again), None);
    }

    #[test]
    fn the_planner_keeps_its_plan_whatever_the_dates() {
        let mut r = record(PLANNER, TeamRole::Planner, &["acute"]);
        r.access_ends_at = Some(at(2026, 3, 1, 0));
        assert_eq!(
            standing(&r, &recovery_ended(), Some(0), at(2030, 1, 1, 0)),
            Standing::Full
        );
        assert_eq!(read_until(&r.member, &recovery_ended(), Some(0)), None);
    }

    #[test]
    fn after_its_access_ended_a_member_has_none() {
        let mut r = record(RECOVERY, TeamRole::Viewer, &["home"]);
        r.access_ends_at = Some(access_ends_at(Some(date(2026, 3, 31)), at(2026, 3, 1, 9)));
        assert_eq!(r.access_ends_at, Some(at(2026, 4, 1, 0)));
        assert_eq!(
            standing(&r, &recovery_ended(), None, at(2026, 3, 31, 23)),
            Standing::Full
        );
        assert_eq!(
            standing(&r, &recovery_ended(), None, at(2026, 4, 1, 0)),
            Standing::None
        );
        let team = team_at(&[r], &recovery_ended(), None, at(2026, 4, 1, 0));
        assert!(team.is_empty());
        let p = plan_with(team);
        assert_eq!(
            decide(&subject(RECOVERY), Action::ReadPlan, &p),
            Decision::Hidden
        );
    }

    #[test]
    fn a_removed_member_loses_access_at_once() {
        let now = at(2026, 3, 5, 14);
        assert_eq!(access_ends_at(None, now), now);
    }

    #[test]
    fn within_the_period_the_member_reads_and_reports_but_writes_nothing_else() {
        let r = record(RECOVERY, TeamRole::StageOwner, &["recovery"]);
        let team = team_at(
            &[r, record(PLANNER, TeamRole::Planner, &["acute"])],
            &recovery_ended(),
            Some(30),
            at(2026, 3, 20, 12),
        );
        assert!(
            team.iter()
                .any(|m| m.organization_id == RECOVERY && m.read_only)
        );
        let p = plan_with(team);
        let s = subject(RECOVERY);
        assert_eq!(decide(&s, Action::ReadPlan, &p), Decision::Allow);
        assert_eq!(
            decide(&s, Action::SendReport { stage: "recovery" }, &p),
            Decision::Allow
        );
        for action in [
            Action::Append {
                kind: EntryKind::Note,
                stage: "home",
            },
            Action::Append {
                kind: EntryKind::Assessment,
                stage: "recovery",
            },
            Action::Individualize,
            Action::SendReport { stage: "acute" },
        ] {
            assert_eq!(decide(&s, action, &p), Decision::Forbidden, "{action:?}");
        }
    }

    #[test]
    fn a_member_added_again_after_its_end_counts_with_its_new_row() {
        let mut old = record(RECOVERY, TeamRole::StageOwner, &["recovery"]);
        old.access_ends_at = Some(at(2026, 3, 1, 0));
        let new = record(RECOVERY, TeamRole::Contributor, &["home"]);
        let team = team_at(&[old, new], &recovery_ended(), Some(0), at(2026, 3, 20, 0));
        assert_eq!(team.len(), 1);
        let p = plan_with(team);
        assert_eq!(
            decide(
                &subject(RECOVERY),
                Action::Append {
                    kind: EntryKind::Note,
                    stage: "home"
                },
                &p
            ),
            Decision::Allow
        );
    }

    #[test]
    fn the_planner_and_the_owner_of_the_running_stage_cannot_be_ended() {
        let now = at(2026, 3, 1, 12);
        let planner = record(PLANNER, TeamRole::Planner, &["acute"]);
        assert_eq!(
            may_end_access(&planner, &running("acute"), None, now),
            Err(EndRefusal::Planner)
        );
        let owner = record(RECOVERY, TeamRole::StageOwner, &["recovery"]);
        assert_eq!(
            may_end_access(&owner, &running("recovery"), Some(date(2026, 6, 1)), now),
            Err(EndRefusal::OwnsRunningStage)
        );
        let mut ended_stage = running("recovery");
        ended_stage.stage_ended = true;
        assert_eq!(may_end_access(&owner, &ended_stage, None, now), Ok(()));
        // A contributor to the running stage may be ended.
        let contributor = record(RECOVERY, TeamRole::Contributor, &["recovery"]);
        assert_eq!(
            may_end_access(&contributor, &running("recovery"), None, now),
            Ok(())
        );
        assert_eq!(
            may_end_access(
                &contributor,
                &running("acute"),
                Some(date(2026, 2, 28)),
                now
            ),
            Err(EndRefusal::InPast)
        );
        assert_eq!(
            may_end_access(&contributor, &running("acute"), Some(date(2026, 3, 1)), now),
            Ok(())
        );
        let mut gone = contributor.clone();
        gone.access_ends_at = Some(now);
        assert_eq!(
            may_end_access(&gone, &running("acute"), None, now),
            Err(EndRefusal::AlreadyEnded)
        );
    }

    #[test]
    fn the_next_change_is_the_end_of_access_or_of_the_period() {
        let mut r = record(RECOVERY, TeamRole::StageOwner, &["recovery"]);
        let now = at(2026, 3, 20, 12);
        assert_eq!(
            next_standing_change(&[r.clone()], &recovery_ended(), Some(30), now),
            Some(at(2026, 4, 10, 0))
        );
        r.access_ends_at = Some(at(2026, 3, 25, 0));
        assert_eq!(
            next_standing_change(&[r.clone()], &recovery_ended(), Some(30), now),
            Some(at(2026, 3, 25, 0))
        );
        assert_eq!(
            next_standing_change(&[r], &recovery_ended(), None, at(2026, 3, 26, 0)),
            None
        );
    }

    proptest! {
        /// Access only shrinks as time passes: full, then read only, then none — never
        /// back.
        #[test]
        fn standing_never_grows_back_over_time(
            days in proptest::option::of(0u32..400),
            end_offset in proptest::option::of(0i64..800),
            stage_hours in 0i64..(400 * 24),
            a in 0i64..(900 * 24),
            b in 0i64..(900 * 24),
        ) {
            let base = at(2026, 1, 1, 0);
            let facts = StageEnds {
                current_stage: "home".into(),
                current_ended: false,
                ended: vec![("recovery".into(), base + chrono::Duration::hours(stage_hours))],
            };
            let mut r = record(RECOVERY, TeamRole::StageOwner, &["recovery"]);
            r.access_ends_at = end_offset.map(|d| base + chrono::Duration::days(d));
            let (early, late) = (a.min(b), a.max(b));
            let rank = |s: Standing| match s {
                Standing::Full => 2,
                Standing::ReadOnly => 1,
                Standing::None => 0,
            };
            let s1 = standing(&r, &facts, days, base + chrono::Duration::hours(early));
            let s2 = standing(&r, &facts, days, base + chrono::Duration::hours(late));
            prop_assert!(rank(s2) <= rank(s1), "{s1:?} then {s2:?}");
        }

        /// Between two changes the date alone does not change what a member has, and at
        /// the named change it does.
        #[test]
        fn nothing_changes_before_the_next_change(
            days in proptest::option::of(0u32..60),
            end_offset in proptest::option::of(0i64..120),
            stage_hours in 0i64..(60 * 24),
            later_hours in 0i64..(140 * 24),
        ) {
            let base = at(2026, 1, 1, 0);
            // A stage's end is recorded once it happened: judge only after it.
            let now_hours = stage_hours + later_hours;
            let facts = StageEnds {
                current_stage: "home".into(),
                current_ended: false,
                ended: vec![("recovery".into(), base + chrono::Duration::hours(stage_hours))],
            };
            let mut r = record(RECOVERY, TeamRole::StageOwner, &["recovery"]);
            r.access_ends_at = end_offset.map(|d| base + chrono::Duration::days(d));
            let now = base + chrono::Duration::hours(now_hours);
            let here = standing(&r, &facts, days, now);
            match next_standing_change(std::slice::from_ref(&r), &facts, days, now) {
                Some(next) => {
                    prop_assert!(next > now);
                    let just_before = next - chrono::Duration::seconds(1);
                    prop_assert_eq!(standing(&r, &facts, days, just_before), here);
                    prop_assert_ne!(standing(&r, &facts, days, next), here);
                }
                None => {
                    let far = now + chrono::Duration::days(5000);
                    prop_assert_eq!(standing(&r, &facts, days, far), here);
                }
            }
        }

        /// Whatever the dates, a member with no standing is hidden from and a read-only
        /// one may not append.
        #[test]
        fn the_decision_follows_the_standing(
            days in proptest::option::of(0u32..60),
            now_hours in 0i64..(200 * 24),
        ) {
            let base = at(2026, 1, 1, 0);
            let facts = StageEnds {
                current_stage: "home".into(),
                current_ended: false,
                ended: vec![("recovery".into(), base + chrono::Duration::days(10))],
            };
            let r = record(RECOVERY, TeamRole::StageOwner, &["recovery"]);
            let now = base + chrono::Duration::hours(now_hours);
            let p = plan_with(team_at(std::slice::from_ref(&r), &facts, days, now));
            let s = subject(RECOVERY);
            let read = decide(&s, Action::ReadPlan, &p);
            let note = decide(&s, Action::Append { kind: EntryKind::Note, stage: "home" }, &p);
            match standing(&r, &facts, days, now) {
                Standing::Full => {
                    prop_assert_eq!(read, Decision::Allow);
                    prop_assert_eq!(note, Decision::Allow);
                }
                Standing::ReadOnly => {
                    prop_assert_eq!(read, Decision::Allow);
                    prop_assert_eq!(note, Decision::Forbidden);
                }
                Standing::None => prop_assert_eq!(read, Decision::Hidden),
            }
        }
    }
}
