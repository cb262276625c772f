//! CareTeam: the organisations sharing one care plan. A team has no row of its own: its
//! id is the plan's id (ids are unique per resource type). Each member organisation is a
//! participant with its team role and the period of its access.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::capability::{LAST_UPDATED, PATIENT, ResourceCapability, STATUS};
use crate::common::{self, code_system, coding};

pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "CareTeam",
    profile: None,
    interactions: &["read", "search-type"],
    search_params: &[PATIENT, STATUS, LAST_UPDATED],
    search_include: &[],
    operations: &[],
};

/// CareTeam.status of a plan with Renkei status `plan_status`.
pub fn status(plan_status: &str) -> &'static str {
    match plan_status {
        "active" => "active",
        _ => "inactive",
    }
}

/// One member organisation.
#[derive(Debug, Clone)]
pub struct MemberView {
    pub organization_id: String,
    pub organization_name: String,
    /// Renkei's team role (`planner`, `member`…).
    pub role: String,
    pub added_at: DateTime<Utc>,
    /// When its access ends or ended, if it does.
    pub ends_at: Option<DateTime<Utc>>,
}

/// What the CareTeam mapper needs.
#[derive(Debug, Clone)]
pub struct TeamView {
    pub plan_id: String,
    pub patient_id: String,
    pub plan_status: String,
    pub title_ja: String,
    pub last_updated: DateTime<Utc>,
    pub planner_organization_id: String,
    pub members: Vec<MemberView>,
}

/// The CareTeam of `t`.
pub fn care_team(t: &TeamView) -> Value {
    crate::common::prune(care_team_unpruned(t))
}

fn care_team_unpruned(t: &TeamView) -> Value {
    let participants: Vec<Value> = t
        .members
        .iter()
        .map(|m| {
            let mut period = json!({ "start": common::instant(m.added_at) });
            if let Some(end) = m.ends_at {
                period["end"] = json!(common::instant(end));
            }
            json!({
                "role": [{ "coding": [coding(&code_system("team-role"), &m.role, None)] }],
                "member": common::reference_with_display("Organization", &m.organization_id, &m.organization_name),
                "period": period,
            })
        })
        .collect();
    json!({
        "resourceType": "CareTeam",
        "id": t.plan_id,
        "meta": common::meta(t.last_updated, None),
        "status": status(&t.plan_status),
        "name": format!("{} ケアチーム", t.title_ja),
        "subject": common::reference("Patient", &t.patient_id),
        "participant": participants,
        "managingOrganization": [common::reference("Organization", &t.planner_organization_id)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_member_is_a_participant_with_role_and_period() {
        let at = DateTime::from_timestamp(1_765_000_000, 0).unwrap_or_default();
        let t = TeamView {
            plan_id: "p1".into(),
            patient_id: "pt1".into(),
            plan_status: "withdrawn".into(),
            title_ja: "脳卒中".into(),
            last_updated: at,
            planner_organization_id: "o1".into(),
            members: vec![MemberView {
                organization_id: "o2".into(),
                organization_name: "回復期病院".into(),
                role: "member".into(),
                added_at: at,
                ends_at: Some(at),
            }],
        };
        let r = care_team(&t);
        assert_eq!(r["status"], "inactive");
        assert_eq!(
            r["participant"][0]["member"]["reference"],
            "Organization/o2"
        );
        assert_eq!(
            r["participant"][0]["role"][0]["coding"][0]["code"],
            "member"
        );
        assert!(r["participant"][0]["period"]["end"].is_string());
    }
}
