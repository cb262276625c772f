//! Reads the FHIR interface needs that no other use case makes.

use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::audit_events;
use crate::queries_access::AuditEventRow;

/// One audit event by its id.
pub async fn audit_event_by_id<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<AuditEventRow>, StoreError> {
    Ok(audit_events::Entity::find_by_id(id).one(c).await?)
}
