//! Reads of the rows kept under evidence (`renkei_domain::evidence`): one row by id as
//! a write's transaction leaves it, and every row of a kind a page at a time in id
//! order for `verify`. Which fields the evidence covers is decided in the service.

use renkei_domain::evidence::EvidenceKind;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entity::{
    api_tokens, break_glass_grants, care_plans, care_team_members, consents, patient_identifiers,
    patient_links, patients,
};
use crate::error::StoreError;
use crate::patient_links::PatientLinkRow;
use crate::queries::{ApiTokenRow, CarePlanRow, PatientIdentifierRow, PatientRow};
use crate::queries_access::{BreakGlassRow, ConsentRow, TeamMemberRow};

type R<T> = Result<T, StoreError>;

/// A row of one of the kinds kept under evidence.
#[derive(Debug, Clone)]
pub enum EvidencedRow {
    CarePlan(CarePlanRow),
    CareTeamMember(TeamMemberRow),
    Consent(ConsentRow),
    BreakGlass(BreakGlassRow),
    Token(ApiTokenRow),
    Patient(PatientRow),
    PatientIdentifier(PatientIdentifierRow),
    PatientLink(PatientLinkRow),
}

impl EvidencedRow {
    pub fn id(&self) -> Uuid {
        match self {
            EvidencedRow::CarePlan(r) => r.id,
            EvidencedRow::CareTeamMember(r) => r.id,
            EvidencedRow::Consent(r) => r.id,
            EvidencedRow::BreakGlass(r) => r.id,
            EvidencedRow::Token(r) => r.id,
            EvidencedRow::Patient(r) => r.id,
            EvidencedRow::PatientIdentifier(r) => r.id,
            EvidencedRow::PatientLink(r) => r.id,
        }
    }
}

/// The row of `kind` with `id`, if it exists.
pub async fn row_by_id<C: ConnectionTrait>(
    c: &C,
    kind: EvidenceKind,
    id: Uuid,
) -> R<Option<EvidencedRow>> {
    Ok(match kind {
        EvidenceKind::CarePlan => care_plans::Entity::find_by_id(id)
            .one(c)
            .await?
            .map(EvidencedRow::CarePlan),
        EvidenceKind::CareTeamMember => care_team_members::Entity::find_by_id(id)
            .one(c)
            .await?
            .map(EvidencedRow::CareTeamMember),
        EvidenceKind::Consent => consents::Entity::find_by_id(id)
            .one(c)
            .await?
            .map(EvidencedRow::Consent),
        EvidenceKind::BreakGlass => break_glass_grants::Entity::find_by_id(id)
            .one(c)
            .await?
            .map(EvidencedRow::BreakGlass),
        EvidenceKind::Token => api_tokens::Entity::find_by_id(id)
            .one(c)
            .await?
            .map(EvidencedRow::Token),
        EvidenceKind::Patient => patients::Entity::find_by_id(id)
            .one(c)
            .await?
            .map(EvidencedRow::Patient),
        EvidenceKind::PatientIdentifier => patient_identifiers::Entity::find_by_id(id)
            .one(c)
            .await?
            .map(EvidencedRow::PatientIdentifier),
        EvidenceKind::PatientLink => patient_links::Entity::find_by_id(id)
            .one(c)
            .await?
            .map(EvidencedRow::PatientLink),
    })
}

/// Up to `limit` rows of `kind` in id order, after `after` (from the start when `None`).
pub async fn rows_page<C: ConnectionTrait>(
    c: &C,
    kind: EvidenceKind,
    after: Option<Uuid>,
    limit: u64,
) -> R<Vec<EvidencedRow>> {
    Ok(match kind {
        EvidenceKind::CarePlan => {
            page::<care_plans::Entity, _>(c, care_plans::Column::Id, after, limit)
                .await?
                .into_iter()
                .map(EvidencedRow::CarePlan)
                .collect()
        }
        EvidenceKind::CareTeamMember => {
            page::<care_team_members::Entity, _>(c, care_team_members::Column::Id, after, limit)
                .await?
                .into_iter()
                .map(EvidencedRow::CareTeamMember)
                .collect()
        }
        EvidenceKind::Consent => page::<consents::Entity, _>(c, consents::Column::Id, after, limit)
            .await?
            .into_iter()
            .map(EvidencedRow::Consent)
            .collect(),
        EvidenceKind::BreakGlass => {
            page::<break_glass_grants::Entity, _>(c, break_glass_grants::Column::Id, after, limit)
                .await?
                .into_iter()
                .map(EvidencedRow::BreakGlass)
                .collect()
        }
        EvidenceKind::Token => {
            page::<api_tokens::Entity, _>(c, api_tokens::Column::Id, after, limit)
                .await?
                .into_iter()
                .map(EvidencedRow::Token)
                .collect()
        }
        EvidenceKind::Patient => page::<patients::Entity, _>(c, patients::Column::Id, after, limit)
            .await?
            .into_iter()
            .map(EvidencedRow::Patient)
            .collect(),
        EvidenceKind::PatientIdentifier => {
            page::<patient_identifiers::Entity, _>(c, patient_identifiers::Column::Id, after, limit)
                .await?
                .into_iter()
                .map(EvidencedRow::PatientIdentifier)
                .collect()
        }
        EvidenceKind::PatientLink => {
            page::<patient_links::Entity, _>(c, patient_links::Column::Id, after, limit)
                .await?
                .into_iter()
                .map(EvidencedRow::PatientLink)
                .collect()
        }
    })
}

async fn page<E, C>(c: &C, id: E::Column, after: Option<Uuid>, limit: u64) -> R<Vec<E::Model>>
where
    E: EntityTrait,
    E::Column: ColumnTrait,
    C: ConnectionTrait,
{
    let mut q = E::find().order_by_asc(id);
    if let Some(after) = after {
        q = q.filter(id.gt(after));
    }
    Ok(q.limit(limit).all(c).await?)
}
