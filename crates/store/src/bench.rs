//! Storage for the benchmark tool: multi-row inserts of a generated dataset (rows
//! computed and chained by the domain's rules before they reach here) and the reads
//! that pick a reader for the read benchmarks. Rows come in and go out as plain structs.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect,
};
use uuid::Uuid;

use crate::entity::{
    care_plans, care_team_members, consents, entries, patient_identifiers, patients, practitioners,
};

/// A patient to insert.
#[derive(Debug, Clone)]
pub struct PatientRow {
    pub id: Uuid,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub kana_key: String,
    pub birth_date: NaiveDate,
    pub sex: String,
    pub created_at: DateTime<Utc>,
}

/// A patient's identifier at an organisation, to insert.
#[derive(Debug, Clone)]
pub struct PatientIdentifierRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub organization_id: Uuid,
    pub value: String,
}

/// A care plan to insert.
#[derive(Debug, Clone)]
pub struct CarePlanRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub pathway_version_id: Uuid,
    pub planner_organization_id: Uuid,
    /// The planner's area.
    pub region: String,
    pub status: String,
    pub current_stage: String,
    pub stage_started: bool,
    pub stage_ended: bool,
    pub started_at: DateTime<Utc>,
    pub last_seq: i64,
    pub head_hash: String,
    pub row_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A care team member to insert.
#[derive(Debug, Clone)]
pub struct CareTeamRow {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    /// The plan's region.
    pub region: String,
    pub organization_id: Uuid,
    pub role: String,
    /// JSON array of stage codes, as text.
    pub stages: String,
    pub added_at: DateTime<Utc>,
    pub added_by: Option<Uuid>,
}

/// A consent to insert.
#[derive(Debug, Clone)]
pub struct ConsentRow {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    /// The plan's region.
    pub region: String,
    pub scope: String,
    /// JSON array of organisation ids, as text.
    pub organizations: String,
    /// JSON array of purposes, as text.
    pub purposes: String,
    pub method: String,
    pub signer: String,
    pub proxy_relationship: Option<String>,
    pub obtained_by_organization_id: Uuid,
    pub obtained_by: Uuid,
    pub obtained_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawal_reason: Option<String>,
    pub row_version: i32,
}

/// A chained entry to insert (hash computed by the caller).
#[derive(Debug, Clone)]
pub struct EntryRow {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    /// The plan's region.
    pub region: String,
    pub seq: i64,
    pub stage: String,
    pub kind: String,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub author_id: Uuid,
    pub organization_id: Uuid,
    pub values_json: String,
    pub note: Option<String>,
    pub variance: Option<String>,
    pub amends: Option<Uuid>,
    pub reason: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// Rows of one batch, inserted in foreign-key order.
#[derive(Debug, Default)]
pub struct DatasetRows {
    pub patients: Vec<PatientRow>,
    pub identifiers: Vec<PatientIdentifierRow>,
    pub plans: Vec<CarePlanRow>,
    pub team: Vec<CareTeamRow>,
    pub consents: Vec<ConsentRow>,
    pub entries: Vec<EntryRow>,
    /// The council's report facts of the plans (computed from the entries above).
    pub report_facts: Vec<renkei_domain::council::ReportFactsRow>,
}

/// Multi-row INSERT size: 500 × 16 columns stays under SQLite's and PostgreSQL's
/// bind-parameter limits.
const ROWS_PER_INSERT: usize = 500;

/// Inserts every row of `rows` (in chunks of multi-row INSERTs) on `c`, usually an open
/// write transaction.
pub async fn insert_dataset_rows<C: ConnectionTrait>(
    c: &C,
    rows: DatasetRows,
) -> Result<(), DbErr> {
    insert_chunks::<patients::Entity, _>(
        c,
        rows.patients
            .into_iter()
            .map(|r| {
                patients::Model {
                    id: r.id,
                    family_name: r.family_name,
                    given_name: r.given_name,
                    family_kana: r.family_kana,
                    given_kana: r.given_kana,
                    kana_key: r.kana_key,
                    birth_date: r.birth_date,
                    sex: r.sex,
                    created_at: r.created_at,
                }
                .into_active_model()
                .reset_all()
            })
            .collect(),
    )
    .await?;
    insert_chunks::<patient_identifiers::Entity, _>(
        c,
        rows.identifiers
            .into_iter()
            .map(|r| {
                patient_identifiers::Model {
                    id: r.id,
                    patient_id: r.patient_id,
                    organization_id: r.organization_id,
                    value: r.value,
                }
                .into_active_model()
                .reset_all()
            })
            .collect(),
    )
    .await?;
    insert_chunks::<care_plans::Entity, _>(
        c,
        rows.plans
            .into_iter()
            .map(|r| {
                care_plans::Model {
                    id: r.id,
                    patient_id: r.patient_id,
                    pathway_version_id: r.pathway_version_id,
                    planner_organization_id: r.planner_organization_id,
                    region: r.region,
                    status: r.status,
                    current_stage: r.current_stage,
                    stage_started: r.stage_started,
                    stage_ended: r.stage_ended,
                    started_at: r.started_at,
                    last_seq: r.last_seq,
                    head_hash: r.head_hash,
                    row_version: r.row_version,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                    variant: None,
                }
                .into_active_model()
                .reset_all()
            })
            .collect(),
    )
    .await?;
    insert_chunks::<care_team_members::Entity, _>(
        c,
        rows.team
            .into_iter()
            .map(|r| {
                care_team_members::Model {
                    id: r.id,
                    care_plan_id: r.care_plan_id,
                    region: r.region,
                    organization_id: r.organization_id,
                    role: r.role,
                    stages: r.stages,
                    added_at: r.added_at,
                    added_by: r.added_by,
                    access_ends_on: None,
                    access_ends_at: None,
                    ended_at: None,
                    ended_by: None,
                    end_reason: None,
                }
                .into_active_model()
                .reset_all()
            })
            .collect(),
    )
    .await?;
    insert_chunks::<consents::Entity, _>(
        c,
        rows.consents
            .into_iter()
            .map(|r| {
                consents::Model {
                    id: r.id,
                    care_plan_id: r.care_plan_id,
                    region: r.region,
                    scope: r.scope,
                    organizations: r.organizations,
                    purposes: r.purposes,
                    method: r.method,
                    signer: r.signer,
                    proxy_relationship: r.proxy_relationship,
                    obtained_by_organization_id: r.obtained_by_organization_id,
                    obtained_by: r.obtained_by,
                    obtained_at: r.obtained_at,
                    recorded_at: r.recorded_at,
                    withdrawn_at: r.withdrawn_at,
                    withdrawal_reason: r.withdrawal_reason,
                    row_version: r.row_version,
                }
                .into_active_model()
                .reset_all()
            })
            .collect(),
    )
    .await?;
    insert_chunks::<entries::Entity, _>(
        c,
        rows.entries
            .into_iter()
            .map(|r| {
                entries::Model {
                    id: r.id,
                    care_plan_id: r.care_plan_id,
                    region: r.region,
                    seq: r.seq,
                    stage: r.stage,
                    kind: r.kind,
                    effective_at: r.effective_at,
                    recorded_at: r.recorded_at,
                    author_id: r.author_id,
                    organization_id: r.organization_id,
                    values_json: r.values_json,
                    note: r.note,
                    variance: r.variance,
                    amends: r.amends,
                    reason: r.reason,
                    prev_hash: r.prev_hash,
                    hash: r.hash,
                }
                .into_active_model()
                .reset_all()
            })
            .collect(),
    )
    .await?;
    crate::council::upsert(c, &rows.report_facts, chrono::Utc::now())
        .await
        .map_err(|e| match e {
            crate::StoreError::Db(e) | crate::StoreError::Unavailable(e) => e,
            other => DbErr::Custom(other.to_string()),
        })?;
    Ok(())
}

async fn insert_chunks<E, C>(c: &C, mut rows: Vec<E::ActiveModel>) -> Result<(), DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
    E::ActiveModel: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(ROWS_PER_INSERT));
        let chunk = std::mem::replace(&mut rows, rest);
        E::insert_many(chunk).exec_without_returning(c).await?;
    }
    Ok(())
}

/// The organisation planning the most of the first `sample` care plans, if any.
pub async fn busiest_planner<C: ConnectionTrait>(
    c: &C,
    sample: u64,
) -> Result<Option<Uuid>, DbErr> {
    let some = care_plans::Entity::find().limit(sample).all(c).await?;
    let mut counts = std::collections::HashMap::new();
    for p in &some {
        *counts.entry(p.planner_organization_id).or_insert(0usize) += 1;
    }
    Ok(counts.into_iter().max_by_key(|(_, n)| *n).map(|(o, _)| o))
}

/// Up to `limit` care plans planned by `org` that have at least one entry.
pub async fn written_plans_of<C: ConnectionTrait>(
    c: &C,
    org: Uuid,
    limit: u64,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(care_plans::Entity::find()
        .filter(care_plans::Column::PlannerOrganizationId.eq(org))
        .filter(care_plans::Column::LastSeq.gt(0))
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect())
}

/// The login of some practitioner of `org`, if it has one.
pub async fn a_login_of<C: ConnectionTrait>(c: &C, org: Uuid) -> Result<Option<String>, DbErr> {
    Ok(practitioners::Entity::find()
        .filter(practitioners::Column::OrganizationId.eq(org))
        .one(c)
        .await?
        .map(|p| p.login))
}

/// The rows as the database keeps them, for computing their evidence from the rows in
/// hand (the load writes them unchanged).
impl PatientRow {
    pub fn stored(&self) -> crate::queries::PatientRow {
        crate::queries::PatientRow {
            id: self.id,
            family_name: self.family_name.clone(),
            given_name: self.given_name.clone(),
            family_kana: self.family_kana.clone(),
            given_kana: self.given_kana.clone(),
            kana_key: self.kana_key.clone(),
            birth_date: self.birth_date,
            sex: self.sex.clone(),
            created_at: self.created_at,
        }
    }
}

impl PatientIdentifierRow {
    pub fn stored(&self) -> crate::queries::PatientIdentifierRow {
        crate::queries::PatientIdentifierRow {
            id: self.id,
            patient_id: self.patient_id,
            organization_id: self.organization_id,
            value: self.value.clone(),
        }
    }
}

impl CarePlanRow {
    pub fn stored(&self) -> crate::queries::CarePlanRow {
        crate::queries::CarePlanRow {
            id: self.id,
            patient_id: self.patient_id,
            pathway_version_id: self.pathway_version_id,
            planner_organization_id: self.planner_organization_id,
            status: self.status.clone(),
            current_stage: self.current_stage.clone(),
            stage_started: self.stage_started,
            stage_ended: self.stage_ended,
            started_at: self.started_at,
            last_seq: self.last_seq,
            head_hash: self.head_hash.clone(),
            row_version: self.row_version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            region: self.region.clone(),
            variant: None,
        }
    }
}

impl CareTeamRow {
    pub fn stored(&self) -> crate::queries_access::TeamMemberRow {
        crate::queries_access::TeamMemberRow {
            id: self.id,
            care_plan_id: self.care_plan_id,
            organization_id: self.organization_id,
            role: self.role.clone(),
            stages: self.stages.clone(),
            added_at: self.added_at,
            added_by: self.added_by,
            region: self.region.clone(),
            access_ends_on: None,
            access_ends_at: None,
            ended_at: None,
            ended_by: None,
            end_reason: None,
        }
    }
}

impl ConsentRow {
    pub fn stored(&self) -> crate::queries_access::ConsentRow {
        crate::queries_access::ConsentRow {
            id: self.id,
            care_plan_id: self.care_plan_id,
            scope: self.scope.clone(),
            organizations: self.organizations.clone(),
            purposes: self.purposes.clone(),
            method: self.method.clone(),
            signer: self.signer.clone(),
            proxy_relationship: self.proxy_relationship.clone(),
            obtained_by_organization_id: self.obtained_by_organization_id,
            obtained_by: self.obtained_by,
            obtained_at: self.obtained_at,
            recorded_at: self.recorded_at,
            withdrawn_at: self.withdrawn_at,
            withdrawal_reason: self.withdrawal_reason.clone(),
            row_version: self.row_version,
            region: self.region.clone(),
        }
    }
}
