//! Who may classify or dismiss an automatic variance.

use renkei_domain::access::{
    ConsentState, Decision, PlanAccess, Profession, Subject, TeamMember, TeamRole,
    may_classify_variance,
};
use uuid::Uuid;

const PLANNER: Uuid = Uuid::from_u128(1);
const RECOVERY: Uuid = Uuid::from_u128(2);
const CONTRIBUTOR: Uuid = Uuid::from_u128(3);
const VIEWER: Uuid = Uuid::from_u128(4);
const STRANGER: Uuid = Uuid::from_u128(5);

fn subject(org: Uuid, profession: Profession) -> Subject {
    Subject {
        practitioner_id: Uuid::from_u128(99),
        organization_id: org,
        profession,
        is_org_admin: true,
        is_regional_admin: true,
    }
}

fn plan(break_glass: bool) -> PlanAccess {
    let member = |organization_id, role, stages: &[&str]| TeamMember {
        organization_id,
        role,
        stages: stages.iter().map(|s| (*s).to_owned()).collect(),
        read_only: false,
    };
    PlanAccess {
        planner_organization_id: PLANNER,
        team: vec![
            member(PLANNER, TeamRole::Planner, &["acute"]),
            member(RECOVERY, TeamRole::StageOwner, &["recovery"]),
            member(CONTRIBUTOR, TeamRole::Contributor, &["recovery"]),
            member(VIEWER, TeamRole::Viewer, &["recovery"]),
        ],
        consent: ConsentState::CareTeam,
        break_glass,
    }
}

#[test]
fn a_clinician_of_the_organisation_owning_the_stage_may_classify() {
    for p in [
        Profession::Physician,
        Profession::Nurse,
        Profession::Therapist,
    ] {
        assert_eq!(
            may_classify_variance(&subject(PLANNER, p), &plan(false), "acute"),
            Decision::Allow,
            "{p:?}"
        );
        assert_eq!(
            may_classify_variance(&subject(RECOVERY, p), &plan(false), "recovery"),
            Decision::Allow,
            "{p:?}"
        );
    }
}

#[test]
fn other_professions_and_organisations_are_forbidden() {
    for p in [
        Profession::Msw,
        Profession::LiaisonStaff,
        Profession::CareManager,
        Profession::Pharmacist,
    ] {
        assert_eq!(
            may_classify_variance(&subject(RECOVERY, p), &plan(false), "recovery"),
            Decision::Forbidden,
            "{p:?}: administrators without a clinical role do not classify"
        );
    }
    let nurse = |org| subject(org, Profession::Nurse);
    // The owner of another stage, a contributor and a viewer see the plan but do not own
    // the stage.
    assert_eq!(
        may_classify_variance(&nurse(RECOVERY), &plan(false), "acute"),
        Decision::Forbidden
    );
    assert_eq!(
        may_classify_variance(&nurse(PLANNER), &plan(false), "recovery"),
        Decision::Forbidden
    );
    for org in [CONTRIBUTOR, VIEWER] {
        assert_eq!(
            may_classify_variance(&nurse(org), &plan(false), "recovery"),
            Decision::Forbidden
        );
    }
}

#[test]
fn an_organisation_that_does_not_see_the_plan_is_not_told_it_exists() {
    let nurse = subject(STRANGER, Profession::Nurse);
    assert_eq!(
        may_classify_variance(&nurse, &plan(false), "recovery"),
        Decision::Hidden
    );
    // A break-glass reader sees the plan, so the refusal is no secret.
    assert_eq!(
        may_classify_variance(&nurse, &plan(true), "recovery"),
        Decision::Forbidden
    );
    let mut no_consent = plan(false);
    no_consent.consent = ConsentState::None;
    assert_eq!(
        may_classify_variance(
            &subject(RECOVERY, Profession::Nurse),
            &no_consent,
            "recovery"
        ),
        Decision::Hidden
    );
}
