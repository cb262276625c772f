//! Queries, generic over `ConnectionTrait` so they run on the pool or in a transaction.
//! Every hot query is served by an index created in the migrations.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entity::{
    api_tokens, care_plans, entries, idempotency_keys, organizations, pathway_versions,
    patient_identifiers, patients, practitioners,
};
use crate::error::StoreError;

pub use crate::entity::{
    api_tokens::Model as ApiTokenRow, care_plans::Model as CarePlanRow, entries::Model as EntryRow,
    idempotency_keys::Model as IdempotencyRow, organizations::Model as OrganizationRow,
    pathway_versions::Model as PathwayVersionRow,
    patient_identifiers::Model as PatientIdentifierRow, patients::Model as PatientRow,
    practitioners::Model as PractitionerRow,
};

type R<T> = Result<T, StoreError>;

// ---------------------------------------------------------------- organizations

pub async fn insert_organization<C: ConnectionTrait>(c: &C, row: OrganizationRow) -> R<()> {
    organizations::Entity::insert(organizations::ActiveModel {
        id: Set(row.id),
        code: Set(row.code),
        name: Set(row.name),
        kind: Set(row.kind),
        area: Set(row.area),
        created_at: Set(row.created_at),
        require_totp: Set(row.require_totp),
        phone: Set(row.phone),
        fax: Set(row.fax),
        address: Set(row.address),
        deactivated_at: Set(row.deactivated_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn organization_by_code<C: ConnectionTrait>(
    c: &C,
    code: &str,
) -> R<Option<OrganizationRow>> {
    Ok(organizations::Entity::find()
        .filter(organizations::Column::Code.eq(code))
        .one(c)
        .await?)
}

pub async fn organization_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<OrganizationRow>> {
    Ok(organizations::Entity::find_by_id(id).one(c).await?)
}

/// Sets (or clears) the liaison office's telephone of organisation `id`.
pub async fn set_organization_phone<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    phone: Option<String>,
) -> R<()> {
    organizations::Entity::update_many()
        .col_expr(
            organizations::Column::Phone,
            sea_orm::sea_query::Expr::value(phone),
        )
        .filter(organizations::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn list_organizations<C: ConnectionTrait>(c: &C) -> R<Vec<OrganizationRow>> {
    Ok(organizations::Entity::find()
        .order_by_asc(organizations::Column::Code)
        .all(c)
        .await?)
}

// ---------------------------------------------------------------- practitioners, tokens

pub async fn insert_practitioner<C: ConnectionTrait>(c: &C, row: PractitionerRow) -> R<()> {
    practitioners::Entity::insert(practitioners::ActiveModel {
        id: Set(row.id),
        login: Set(row.login),
        name: Set(row.name),
        profession: Set(row.profession),
        organization_id: Set(row.organization_id),
        password_hash: Set(row.password_hash),
        must_change_password: Set(row.must_change_password),
        roles: Set(row.roles),
        disabled_at: Set(row.disabled_at),
        created_at: Set(row.created_at),
        failed_logins: Set(row.failed_logins),
        locked_until: Set(row.locked_until),
        totp_secret: Set(row.totp_secret),
        totp_enabled: Set(row.totp_enabled),
        totp_last_step: Set(row.totp_last_step),
        recovery_codes: Set(row.recovery_codes),
        password_changed_at: Set(row.password_changed_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn practitioner_by_login<C: ConnectionTrait>(
    c: &C,
    login: &str,
) -> R<Option<PractitionerRow>> {
    Ok(practitioners::Entity::find()
        .filter(practitioners::Column::Login.eq(login))
        .one(c)
        .await?)
}

pub async fn practitioner_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<PractitionerRow>> {
    Ok(practitioners::Entity::find_by_id(id).one(c).await?)
}

pub async fn insert_token<C: ConnectionTrait>(c: &C, row: ApiTokenRow) -> R<()> {
    api_tokens::Entity::insert(api_tokens::ActiveModel {
        id: Set(row.id),
        practitioner_id: Set(row.practitioner_id),
        token_hash: Set(row.token_hash),
        label: Set(row.label),
        scopes: Set(row.scopes),
        created_at: Set(row.created_at),
        expires_at: Set(row.expires_at),
        revoked_at: Set(row.revoked_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn token_by_hash<C: ConnectionTrait>(c: &C, hash: &str) -> R<Option<ApiTokenRow>> {
    Ok(api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(hash))
        .one(c)
        .await?)
}

// ---------------------------------------------------------------- patients

pub async fn insert_patient<C: ConnectionTrait>(
    c: &C,
    row: PatientRow,
    identifiers: Vec<PatientIdentifierRow>,
) -> R<()> {
    patients::Entity::insert(patients::ActiveModel {
        id: Set(row.id),
        family_name: Set(row.family_name),
        given_name: Set(row.given_name),
        family_kana: Set(row.family_kana),
        given_kana: Set(row.given_kana),
        kana_key: Set(row.kana_key),
        birth_date: Set(row.birth_date),
        sex: Set(row.sex),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(c)
    .await?;
    for ident in identifiers {
        patient_identifiers::Entity::insert(patient_identifiers::ActiveModel {
            id: Set(ident.id),
            patient_id: Set(ident.patient_id),
            organization_id: Set(ident.organization_id),
            value: Set(ident.value),
        })
        .exec_without_returning(c)
        .await?;
    }
    Ok(())
}

pub async fn patient_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<PatientRow>> {
    Ok(patients::Entity::find_by_id(id).one(c).await?)
}

pub async fn identifiers_of<C: ConnectionTrait>(
    c: &C,
    patient: Uuid,
) -> R<Vec<PatientIdentifierRow>> {
    Ok(patient_identifiers::Entity::find()
        .filter(patient_identifiers::Column::PatientId.eq(patient))
        .all(c)
        .await?)
}

pub async fn patient_by_identifier<C: ConnectionTrait>(
    c: &C,
    organization: Uuid,
    value: &str,
) -> R<Option<Uuid>> {
    Ok(patient_identifiers::Entity::find()
        .filter(patient_identifiers::Column::OrganizationId.eq(organization))
        .filter(patient_identifiers::Column::Value.eq(value))
        .one(c)
        .await?
        .map(|r| r.patient_id))
}

/// Escapes `%`, `_` and the escape character itself for a LIKE prefix search.
pub(crate) fn like_prefix(prefix: &str) -> LikeExpr {
    let mut escaped = String::with_capacity(prefix.len() + 1);
    for ch in prefix.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped.push('%');
    LikeExpr::new(escaped).escape('\\')
}

/// Adds one identifier to an existing patient.
pub async fn insert_identifier<C: ConnectionTrait>(c: &C, ident: PatientIdentifierRow) -> R<()> {
    patient_identifiers::Entity::insert(patient_identifiers::ActiveModel {
        id: Set(ident.id),
        patient_id: Set(ident.patient_id),
        organization_id: Set(ident.organization_id),
        value: Set(ident.value),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// What a patient search matches on (all given criteria must hold).
#[derive(Debug, Clone, Default)]
pub struct PatientCriteria {
    /// Normalised kana prefix of family + given name.
    pub kana_prefix: Option<String>,
    /// One word: start of the family or given name; two: starts of family and given.
    pub name_words: Vec<String>,
    pub birth_date: Option<NaiveDate>,
    /// Only these patients (found by identifier).
    pub ids: Option<Vec<Uuid>>,
}

/// Whom a search may reach: patients related to the organisation (one of its
/// identifiers, a plan it plans or is on the care team of) or to the practitioner (a
/// break-glass grant unexpired at `now`). The access decision still has the last word
/// (a care-team organisation without consent is reached here but does not see).
#[derive(Debug, Clone, Copy)]
pub struct PatientReach {
    pub organization: Uuid,
    pub practitioner: Uuid,
    pub now: DateTime<Utc>,
}

fn reach_condition(reach: &PatientReach) -> Condition {
    use crate::entity::{break_glass_grants, care_team_members};
    let own_identifier = Query::select()
        .column(patient_identifiers::Column::PatientId)
        .from(patient_identifiers::Entity)
        .and_where(patient_identifiers::Column::OrganizationId.eq(reach.organization))
        .to_owned();
    let team_plans = Query::select()
        .column(care_team_members::Column::CarePlanId)
        .from(care_team_members::Entity)
        .and_where(care_team_members::Column::OrganizationId.eq(reach.organization))
        .to_owned();
    let break_glass_plans = Query::select()
        .column(break_glass_grants::Column::CarePlanId)
        .from(break_glass_grants::Entity)
        .and_where(break_glass_grants::Column::PractitionerId.eq(reach.practitioner))
        .and_where(break_glass_grants::Column::ExpiresAt.gt(reach.now))
        .to_owned();
    let related_plans = Query::select()
        .column(care_plans::Column::PatientId)
        .from(care_plans::Entity)
        .cond_where(
            Condition::any()
                .add(care_plans::Column::PlannerOrganizationId.eq(reach.organization))
                .add(care_plans::Column::Id.in_subquery(team_plans))
                .add(care_plans::Column::Id.in_subquery(break_glass_plans)),
        )
        .to_owned();
    Condition::any()
        .add(patients::Column::Id.in_subquery(own_identifier))
        .add(patients::Column::Id.in_subquery(related_plans))
}

/// Patients within `reach` matching `criteria`, in (kana, id) order, the first `limit`
/// after the position `after` (a patient's kana key and id) when given. Filtering by
/// reach in the query means no number of other organisations' patients can push the
/// caller's own out of a page.
pub async fn search_patients<C: ConnectionTrait>(
    c: &C,
    criteria: &PatientCriteria,
    reach: &PatientReach,
    after: Option<(&str, Uuid)>,
    limit: u64,
) -> R<Vec<PatientRow>> {
    let mut q = patients::Entity::find().filter(reach_condition(reach));
    if let Some(prefix) = &criteria.kana_prefix {
        q = q.filter(Expr::col(patients::Column::KanaKey).like(like_prefix(prefix)));
    }
    match criteria.name_words.as_slice() {
        [] => {}
        [one] => {
            q = q.filter(
                Condition::any()
                    .add(Expr::col(patients::Column::FamilyName).like(like_prefix(one)))
                    .add(Expr::col(patients::Column::GivenName).like(like_prefix(one)))
                    // The full name typed without a space (山田太郎).
                    .add(
                        Expr::cust(r#"("patients"."family_name" || "patients"."given_name")"#)
                            .like(like_prefix(one)),
                    ),
            );
        }
        [family, given, ..] => {
            q = q
                .filter(Expr::col(patients::Column::FamilyName).like(like_prefix(family)))
                .filter(Expr::col(patients::Column::GivenName).like(like_prefix(given)));
        }
    }
    if let Some(date) = criteria.birth_date {
        q = q.filter(patients::Column::BirthDate.eq(date));
    }
    if let Some(ids) = &criteria.ids {
        q = q.filter(patients::Column::Id.is_in(ids.iter().copied()));
    }
    if let Some((kana, id)) = after {
        q = q.filter(
            Condition::any()
                .add(patients::Column::KanaKey.gt(kana))
                .add(
                    Condition::all()
                        .add(patients::Column::KanaKey.eq(kana))
                        .add(patients::Column::Id.gt(id)),
                ),
        );
    }
    Ok(q.order_by_asc(patients::Column::KanaKey)
        .order_by_asc(patients::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

// ---------------------------------------------------------------- pathway versions

pub async fn insert_pathway_version<C: ConnectionTrait>(c: &C, row: PathwayVersionRow) -> R<()> {
    pathway_versions::Entity::insert(pathway_versions::ActiveModel {
        id: Set(row.id),
        code: Set(row.code),
        version: Set(row.version),
        title_ja: Set(row.title_ja),
        title_en: Set(row.title_en),
        hash: Set(row.hash),
        snapshot: Set(row.snapshot),
        published_at: Set(row.published_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn list_pathway_versions<C: ConnectionTrait>(c: &C) -> R<Vec<PathwayVersionRow>> {
    Ok(pathway_versions::Entity::find()
        .order_by_asc(pathway_versions::Column::Code)
        .order_by_asc(pathway_versions::Column::Version)
        .all(c)
        .await?)
}

// ---------------------------------------------------------------- care plans

pub async fn insert_care_plan<C: ConnectionTrait>(c: &C, row: CarePlanRow) -> R<()> {
    care_plans::Entity::insert(care_plans::ActiveModel {
        id: Set(row.id),
        patient_id: Set(row.patient_id),
        pathway_version_id: Set(row.pathway_version_id),
        planner_organization_id: Set(row.planner_organization_id),
        region: Set(row.region),
        status: Set(row.status),
        current_stage: Set(row.current_stage),
        stage_started: Set(row.stage_started),
        stage_ended: Set(row.stage_ended),
        started_at: Set(row.started_at),
        last_seq: Set(row.last_seq),
        head_hash: Set(row.head_hash),
        row_version: Set(row.row_version),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
        variant: Set(row.variant),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn care_plan_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<CarePlanRow>> {
    Ok(care_plans::Entity::find_by_id(id).one(c).await?)
}

pub async fn care_plans_of_patient<C: ConnectionTrait>(
    c: &C,
    patient: Uuid,
) -> R<Vec<CarePlanRow>> {
    Ok(care_plans::Entity::find()
        .filter(care_plans::Column::PatientId.eq(patient))
        .order_by_asc(care_plans::Column::CreatedAt)
        // Plans made at one instant (a frozen clock, a bulk load) in the order they were
        // made: ids are time-ordered (UUID v7), so every backend and layout agrees.
        .order_by_asc(care_plans::Column::Id)
        .all(c)
        .await?)
}

/// All plan ids, for `verify`.
pub async fn all_care_plans<C: ConnectionTrait>(c: &C) -> R<Vec<CarePlanRow>> {
    Ok(care_plans::Entity::find()
        .order_by_asc(care_plans::Column::Id)
        .all(c)
        .await?)
}

/// Up to `limit` plans after `after` in id order, only those with `status` when given:
/// for walking every plan without holding them all.
pub async fn care_plans_page<C: ConnectionTrait>(
    c: &C,
    status: Option<&str>,
    after: Option<Uuid>,
    limit: u64,
) -> R<Vec<CarePlanRow>> {
    let mut q = care_plans::Entity::find().order_by_asc(care_plans::Column::Id);
    if let Some(status) = status {
        q = q.filter(care_plans::Column::Status.eq(status));
    }
    if let Some(after) = after {
        q = q.filter(care_plans::Column::Id.gt(after));
    }
    Ok(q.limit(limit).all(c).await?)
}

pub async fn count_care_plans<C: ConnectionTrait>(c: &C) -> R<u64> {
    Ok(care_plans::Entity::find().count(c).await?)
}

/// Takes the patient's row lock for the rest of the transaction on PostgreSQL (SQLite
/// write transactions are already exclusive).
pub async fn lock_patient<C: ConnectionTrait>(c: &C, id: Uuid) -> R<()> {
    patients::Entity::update_many()
        .col_expr(patients::Column::Id, Expr::col(patients::Column::Id))
        .filter(patients::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Moves the plan's chain head and stage state after an append.
#[expect(
    clippy::too_many_arguments,
    reason = "the plan head is one update of these columns"
)]
pub async fn advance_care_plan<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    region: &str,
    last_seq: i64,
    head_hash: &str,
    status: &str,
    current_stage: &str,
    stage_started: bool,
    stage_ended: bool,
) -> R<()> {
    care_plans::Entity::update_many()
        .col_expr(care_plans::Column::LastSeq, Expr::value(last_seq))
        .col_expr(care_plans::Column::HeadHash, Expr::value(head_hash))
        .col_expr(care_plans::Column::Status, Expr::value(status))
        .col_expr(care_plans::Column::CurrentStage, Expr::value(current_stage))
        .col_expr(care_plans::Column::StageStarted, Expr::value(stage_started))
        .col_expr(care_plans::Column::StageEnded, Expr::value(stage_ended))
        .col_expr(
            sea_orm::sea_query::Alias::new("work_stale"),
            Expr::value(true),
        )
        .col_expr(
            care_plans::Column::RowVersion,
            Expr::col(care_plans::Column::RowVersion).add(1),
        )
        .filter(care_plans::Column::Id.eq(id))
        .filter(care_plans::Column::Region.eq(region))
        .exec(c)
        .await?;
    crate::council::mark_stale(c, id).await?;
    Ok(())
}

/// Takes the plan's write lock (writers of one plan run one after another: on PostgreSQL
/// the row lock until commit) and reads the plan under it in the same statement, looking
/// in `region` first (the writer's own: nearly every write is to a plan of the writer's
/// region, and on PostgreSQL's partitioned layout the statement then touches that
/// region's partition only), then anywhere. `None`: there is no such plan.
pub async fn lock_care_plan_near<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    region: &str,
    now: DateTime<Utc>,
) -> R<Option<CarePlanRow>> {
    use sea_orm::FromQueryResult;
    if !region.is_empty()
        && let Some(row) = c
            .query_one_raw(lock_in_region(c, id, Some(region), now))
            .await?
    {
        return Ok(Some(CarePlanRow::from_query_result(&row, "")?));
    }
    Ok(
        match c.query_one_raw(lock_in_region(c, id, None, now)).await? {
            Some(row) => Some(CarePlanRow::from_query_result(&row, "")?),
            None => None,
        },
    )
}

/// The one statement of [`lock_care_plan_near`]: takes the plan's write lock and reads
/// the plan under it (`UPDATE … RETURNING`), in `region` when given so PostgreSQL prunes
/// to that region's partition.
pub(crate) fn lock_in_region<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    region: Option<&str>,
    now: DateTime<Utc>,
) -> sea_orm::Statement {
    let backend = c.get_database_backend();
    match region {
        Some(region) => sea_orm::Statement::from_sql_and_values(
            backend,
            r#"UPDATE "care_plans" SET "updated_at" = $2 WHERE "id" = $1 AND "region" = $3 RETURNING *"#,
            [id.into(), now.into(), region.into()],
        ),
        None => sea_orm::Statement::from_sql_and_values(
            backend,
            r#"UPDATE "care_plans" SET "updated_at" = $2 WHERE "id" = $1 RETURNING *"#,
            [id.into(), now.into()],
        ),
    }
}

// ---------------------------------------------------------------- entries

pub async fn insert_entry<C: ConnectionTrait>(c: &C, row: EntryRow) -> R<()> {
    entries::Entity::insert(entries::ActiveModel {
        id: Set(row.id),
        care_plan_id: Set(row.care_plan_id),
        region: Set(row.region),
        seq: Set(row.seq),
        stage: Set(row.stage),
        kind: Set(row.kind),
        effective_at: Set(row.effective_at),
        recorded_at: Set(row.recorded_at),
        author_id: Set(row.author_id),
        organization_id: Set(row.organization_id),
        values_json: Set(row.values_json),
        note: Set(row.note),
        variance: Set(row.variance),
        amends: Set(row.amends),
        reason: Set(row.reason),
        prev_hash: Set(row.prev_hash),
        hash: Set(row.hash),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn entry_by_id<C: ConnectionTrait>(c: &C, id: Uuid) -> R<Option<EntryRow>> {
    Ok(entries::Entity::find_by_id(id).one(c).await?)
}

/// A plan's entries in sequence order.
pub async fn entries_of<C: ConnectionTrait>(c: &C, plan: Uuid) -> R<Vec<EntryRow>> {
    Ok(entries::Entity::find()
        .filter(entries::Column::CarePlanId.eq(plan))
        .order_by_asc(entries::Column::Seq)
        .all(c)
        .await?)
}

/// A plan's entries in chain order, naming the plan's region so that a partitioned
/// layout reads one region's partition (and a foreign partition's server only).
pub async fn entries_of_plan_in<C: ConnectionTrait>(
    c: &C,
    plan: Uuid,
    region: &str,
) -> R<Vec<EntryRow>> {
    Ok(entries::Entity::find()
        .filter(entries::Column::CarePlanId.eq(plan))
        .filter(entries::Column::Region.eq(region))
        .order_by_asc(entries::Column::Seq)
        .all(c)
        .await?)
}

/// The entries of several plans, by plan and then in chain order.
pub async fn entries_of_plans<C: ConnectionTrait>(c: &C, plans: &[Uuid]) -> R<Vec<EntryRow>> {
    Ok(entries::Entity::find()
        .filter(entries::Column::CarePlanId.is_in(plans.iter().copied()))
        .order_by_asc(entries::Column::CarePlanId)
        .order_by_asc(entries::Column::Seq)
        .all(c)
        .await?)
}

/// The plans with these ids, in id order.
pub async fn care_plans_by_ids<C: ConnectionTrait>(c: &C, ids: &[Uuid]) -> R<Vec<CarePlanRow>> {
    Ok(care_plans::Entity::find()
        .filter(care_plans::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(care_plans::Column::Id)
        .all(c)
        .await?)
}

/// Whether some entry already amends `id`.
pub async fn is_amended<C: ConnectionTrait>(c: &C, plan: Uuid, id: Uuid) -> R<bool> {
    Ok(entries::Entity::find()
        .filter(entries::Column::CarePlanId.eq(plan))
        .filter(entries::Column::Amends.eq(id))
        .count(c)
        .await?
        > 0)
}

pub async fn count_entries<C: ConnectionTrait>(c: &C) -> R<u64> {
    Ok(entries::Entity::find().count(c).await?)
}

// ---------------------------------------------------------------- idempotency

pub async fn idempotency_key<C: ConnectionTrait>(
    c: &C,
    practitioner: Uuid,
    key: &str,
) -> R<Option<IdempotencyRow>> {
    Ok(idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::PractitionerId.eq(practitioner))
        .filter(idempotency_keys::Column::Key.eq(key))
        .one(c)
        .await?)
}

pub async fn insert_idempotency_key<C: ConnectionTrait>(c: &C, row: IdempotencyRow) -> R<()> {
    idempotency_keys::Entity::insert(idempotency_keys::ActiveModel {
        id: Set(row.id),
        practitioner_id: Set(row.practitioner_id),
        key: Set(row.key),
        request_hash: Set(row.request_hash),
        care_plan_id: Set(row.care_plan_id),
        response_status: Set(row.response_status),
        response_body: Set(row.response_body),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}
