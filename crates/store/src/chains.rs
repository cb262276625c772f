//! The entry chains read whole, for `verify`: every entry in (plan, seq) order, a page
//! at a time.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entity::entries;
use crate::error::StoreError;
use crate::queries::EntryRow;

/// Up to `limit` entries in (plan, seq) order, after the entry `(plan, seq)` (from the
/// start when `None`).
pub async fn entries_page<C: ConnectionTrait>(
    c: &C,
    after: Option<(Uuid, i64)>,
    limit: u64,
) -> Result<Vec<EntryRow>, StoreError> {
    let mut q = entries::Entity::find()
        .order_by_asc(entries::Column::CarePlanId)
        .order_by_asc(entries::Column::Seq);
    if let Some((plan, seq)) = after {
        q = q.filter(
            Condition::any()
                .add(entries::Column::CarePlanId.gt(plan))
                .add(
                    Condition::all()
                        .add(entries::Column::CarePlanId.eq(plan))
                        .add(entries::Column::Seq.gt(seq)),
                ),
        );
    }
    Ok(q.limit(limit).all(c).await?)
}
