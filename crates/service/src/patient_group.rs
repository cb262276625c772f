//! The records read as one patient: a record merged into another (名寄せ, see
//! [`crate::patient_merge`]) reads as its survivor, and the survivor reads with every
//! record merged into it. Every read that starts from a patient goes through here.

use renkei_store::patient_links as store;
use renkei_store::queries;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::ServiceError;

/// The record a read of `id` shows: the survivor of its unreversed link, or itself.
pub(crate) async fn survivor<C: ConnectionTrait>(c: &C, id: Uuid) -> Result<Uuid, ServiceError> {
    Ok(store::active_for_merged(c, id)
        .await?
        .map(|l| l.survivor_id)
        .unwrap_or(id))
}

/// The records read as one with `id`: its survivor first, then the records merged into it.
pub(crate) async fn group<C: ConnectionTrait>(c: &C, id: Uuid) -> Result<Vec<Uuid>, ServiceError> {
    let s = survivor(c, id).await?;
    let mut out = vec![s];
    for l in store::active_for_survivor(c, s).await? {
        if !out.contains(&l.merged_id) {
            out.push(l.merged_id);
        }
    }
    Ok(out)
}

/// The patient numbers of every record of `id`'s group.
pub(crate) async fn group_identifiers<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Vec<queries::PatientIdentifierRow>, ServiceError> {
    let mut out = Vec::new();
    for p in group(c, id).await? {
        out.extend(queries::identifiers_of(c, p).await?);
    }
    Ok(out)
}

/// The care plans of every record of `id`'s group.
pub(crate) async fn group_plans<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Vec<queries::CarePlanRow>, ServiceError> {
    let mut out = Vec::new();
    for p in group(c, id).await? {
        out.extend(queries::care_plans_of_patient(c, p).await?);
    }
    Ok(out)
}
