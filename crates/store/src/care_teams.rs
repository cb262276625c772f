//! A plan's care-team members with their role parsed, for the use cases that change
//! the team (an accepted hand-over makes its receiver a stage owner).

use chrono::{DateTime, Utc};
use renkei_domain::access::TeamRole;
use renkei_domain::ids::{OrgId, PlanId, PractitionerId};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::care_team_members;
use crate::error::StoreError;

type R<T> = Result<T, StoreError>;

/// An organisation on a plan's care team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareTeamMember {
    pub id: Uuid,
    pub care_plan_id: PlanId,
    pub organization_id: OrgId,
    pub role: TeamRole,
    /// The stages the organisation takes part in.
    pub stages: Vec<String>,
    pub added_at: DateTime<Utc>,
    pub added_by: Option<PractitionerId>,
}

impl TryFrom<care_team_members::Model> for CareTeamMember {
    type Error = StoreError;

    fn try_from(m: care_team_members::Model) -> R<Self> {
        let role =
            TeamRole::parse(&m.role).ok_or_else(|| StoreError::unparsable("team role", &m.role))?;
        let stages = serde_json::from_str(&m.stages)
            .map_err(|_| StoreError::unparsable("team stages", &m.stages))?;
        Ok(CareTeamMember {
            id: m.id,
            care_plan_id: m.care_plan_id.into(),
            organization_id: m.organization_id.into(),
            role,
            stages,
            added_at: m.added_at,
            added_by: m.added_by.map(Into::into),
        })
    }
}

fn stages_text(stages: &[String]) -> String {
    serde_json::Value::from(stages.to_vec()).to_string()
}

/// The member of the plan's team that is `org`, if it is on the team.
pub async fn member_of<C: ConnectionTrait>(
    c: &C,
    plan: PlanId,
    org: OrgId,
) -> R<Option<CareTeamMember>> {
    care_team_members::Entity::find()
        .filter(care_team_members::Column::CarePlanId.eq(plan.0))
        .filter(care_team_members::Column::OrganizationId.eq(org.0))
        .one(c)
        .await?
        .map(CareTeamMember::try_from)
        .transpose()
}

/// Adds a member to the team of a plan of `region` (the plan's).
pub async fn add_member<C: ConnectionTrait>(c: &C, m: &CareTeamMember, region: &str) -> R<()> {
    care_team_members::Entity::insert(care_team_members::ActiveModel {
        id: Set(m.id),
        care_plan_id: Set(m.care_plan_id.0),
        region: Set(region.to_owned()),
        organization_id: Set(m.organization_id.0),
        role: Set(m.role.as_str().to_owned()),
        stages: Set(stages_text(&m.stages)),
        added_at: Set(m.added_at),
        added_by: Set(m.added_by.map(|p| p.0)),
        ..Default::default()
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Sets a member's role and stages.
pub async fn update_member<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    role: TeamRole,
    stages: &[String],
) -> R<()> {
    care_team_members::Entity::update_many()
        .col_expr(
            care_team_members::Column::Stages,
            Expr::value(stages_text(stages)),
        )
        .col_expr(care_team_members::Column::Role, Expr::value(role.as_str()))
        .filter(care_team_members::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(role: &str, stages: &str) -> care_team_members::Model {
        care_team_members::Model {
            id: Uuid::now_v7(),
            care_plan_id: Uuid::now_v7(),
            region: String::new(),
            organization_id: Uuid::now_v7(),
            role: role.into(),
            stages: stages.into(),
            added_at: Utc::now(),
            added_by: None,
            access_ends_on: None,
            access_ends_at: None,
            ended_at: None,
            ended_by: None,
            end_reason: None,
        }
    }

    #[test]
    fn a_member_reads_back_with_its_role_and_stages() {
        let m = CareTeamMember::try_from(model("stage_owner", r#"["acute","recovery"]"#))
            .expect("valid row");
        assert_eq!(m.role, TeamRole::StageOwner);
        assert_eq!(m.stages, vec!["acute".to_owned(), "recovery".to_owned()]);
        assert_eq!(stages_text(&m.stages), r#"["acute","recovery"]"#);
    }

    #[test]
    fn an_unknown_role_or_broken_stages_is_an_error() {
        assert!(CareTeamMember::try_from(model("owner", "[]")).is_err());
        assert!(CareTeamMember::try_from(model("viewer", "acute")).is_err());
    }
}
