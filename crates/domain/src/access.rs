//! Need-to-know access decisions (DESIGN.md §3, domain.md §7): one pure function decides
//! whether a practitioner may do an action on a care plan, from the plan's care team,
//! the patient's consent and any break-glass grant.
//!
//! A practitioner whose organisation may not see a plan gets `Hidden` (answered 404, so
//! the plan's existence is not revealed); one who sees it but may not do the action gets
//! `Forbidden` (403).

use uuid::Uuid;

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
        self.team.iter().find(|m| m.organization_id == org)
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
    let ok = match action {
        Action::ReadPlan => true,
        Action::BreakGlass => false,
        Action::Append { kind, stage } => {
            may_write(subject.profession, kind)
                && (writer_for(stage)
                    // Notes may be added by any writing member, whatever the stage.
                    || (kind == EntryKind::Note
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
                },
                TeamMember {
                    organization_id: recovery,
                    role: TeamRole::StageOwner,
                    stages: vec!["recovery".into()],
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
