//! Words for the audit list (S10): the patients and users its rows are about, by name.
//! The list itself is one audited read (`audit.read`, or the access report); the names
//! are read under that decision, without audit events of their own.

use std::collections::HashMap;

use renkei_domain::access::{GlobalAction, decide_global};
use renkei_store::queries;
use uuid::Uuid;

use crate::access::subject;
use crate::{Actor, ServiceError, Services};

impl Services {
    /// `漢字氏名(カナ)` of each patient of `ids` whose name the actor may see in the
    /// audit list: every patient for the regional administrator (who reviews the access
    /// log and must tell whose record was opened), else the patients the actor's
    /// organisation sees. Others are left out (the page shows them by id).
    pub async fn audit_patient_names(
        &self,
        actor: &Actor,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, String>, ServiceError> {
        let auditor = decide_global(&subject(actor), GlobalAction::ReadAudit);
        let mut out = HashMap::new();
        for id in ids {
            if out.contains_key(id) {
                continue;
            }
            if !auditor && !self.patient_visible(&self.db, actor, *id).await? {
                continue;
            }
            if let Some(p) = queries::patient_by_id(&self.db, *id).await? {
                out.insert(
                    *id,
                    format!(
                        "{} {}({} {})",
                        p.family_name, p.given_name, p.family_kana, p.given_kana
                    ),
                );
            }
        }
        Ok(out)
    }
}
