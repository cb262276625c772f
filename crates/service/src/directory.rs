//! The facility directory (手挙げ): which organisations declare which stages of a
//! pathway, with the history of their declarations.

use chrono::{DateTime, Utc};
use renkei_domain::FieldError;
use renkei_domain::Rule;
use renkei_domain::access::Profession;
use renkei_store::declarations::{self, DeclarationRow};
use renkei_store::queries;
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::{Actor, ServiceError, Services, begin_write};

#[derive(Debug, Clone, Serialize)]
pub struct Declaration {
    pub id: Uuid,
    pub organization: String,
    pub pathway: String,
    pub stages: Vec<String>,
    pub note: String,
    pub declared_at: DateTime<Utc>,
    pub superseded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DirectoryEntry {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub area: String,
    pub pathway: String,
    pub stages: Vec<String>,
    pub note: String,
    pub declared_at: DateTime<Utc>,
}

impl Services {
    /// Declares which stages of a pathway an organisation takes (手挙げ). The previous
    /// declaration for the same pathway is kept, marked superseded.
    pub async fn declare(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        organization_code: &str,
        pathway: &str,
        stages: Vec<String>,
        note: &str,
    ) -> Result<Declaration, ServiceError> {
        let txn = begin_write(&self.db).await?;
        let org = queries::organization_by_code(&txn, organization_code)
            .await?
            .ok_or(ServiceError::NotFound("organization"))?;
        let allowed = org.id == actor.organization_id
            && (actor.has_role("org_admin")
                || actor.profession == Profession::LiaisonStaff.as_str());
        if !allowed && !actor.has_role("regional_admin") {
            drop(txn);
            audit::record_now(
                self,
                meta,
                AuditRecord::by(
                    actor,
                    "organization.declare",
                    "organization",
                    Some(organization_code.to_owned()),
                    Outcome::Denied,
                ),
            )
            .await?;
            return Err(ServiceError::Forbidden);
        }
        let Some(published) = self.pathways.latest(pathway) else {
            return Err(ServiceError::field(
                "pathway",
                Rule::Unknown,
                format!("no pathway `{pathway}` is published"),
            ));
        };
        let mut errors = Vec::new();
        if stages.is_empty() {
            errors.push(FieldError::new(
                "stages",
                Rule::Required,
                "name at least one stage",
            ));
        }
        for (i, s) in stages.iter().enumerate() {
            if published.template.stage(s).is_none() {
                errors.push(FieldError::new(
                    format!("stages[{i}]"),
                    Rule::UnknownStage,
                    format!("`{pathway}` has no stage `{s}`"),
                ));
            }
        }
        if note.chars().count() > 2000 {
            errors.push(FieldError::new(
                "note",
                Rule::TooLong,
                "must be at most 2000 characters",
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let now = self.now();
        let row = DeclarationRow {
            id: Uuid::now_v7(),
            organization_id: org.id,
            pathway: pathway.to_owned(),
            stages: serde_json::to_string(&stages).unwrap_or_else(|_| "[]".into()),
            note: note.trim().to_owned(),
            declared_at: now,
            declared_by: actor.practitioner_id,
            superseded_at: None,
        };
        declarations::supersede_and_insert(&txn, row.clone(), now).await?;
        audit::record(
            &txn,
            now,
            meta,
            AuditRecord::by(
                actor,
                "organization.declare",
                "organization",
                Some(org.code.clone()),
                Outcome::Allowed,
            )
            .detail(pathway.to_owned()),
        )
        .await?;
        txn.commit().await?;
        Ok(Declaration {
            id: row.id,
            organization: org.code,
            pathway: row.pathway,
            stages,
            note: row.note,
            declared_at: row.declared_at,
            superseded_at: None,
        })
    }

    /// The declaration history of an organisation, newest first.
    pub async fn declarations(
        &self,
        organization_code: &str,
    ) -> Result<Vec<Declaration>, ServiceError> {
        let org = queries::organization_by_code(&self.db, organization_code)
            .await?
            .ok_or(ServiceError::NotFound("organization"))?;
        let rows = declarations::declarations_of(&self.db, org.id).await?;
        Ok(rows
            .into_iter()
            .map(|r| Declaration {
                id: r.id,
                organization: org.code.clone(),
                pathway: r.pathway,
                stages: serde_json::from_str(&r.stages).unwrap_or_default(),
                note: r.note,
                declared_at: r.declared_at,
                superseded_at: r.superseded_at,
            })
            .collect())
    }

    /// Organisations whose current declaration takes `pathway` (and `stage`, in `area`).
    pub async fn directory(
        &self,
        pathway: Option<&str>,
        stage: Option<&str>,
        area: Option<&str>,
    ) -> Result<Vec<DirectoryEntry>, ServiceError> {
        let rows = declarations::current_declarations(&self.db, pathway).await?;
        let mut out = Vec::new();
        for r in rows {
            let stages: Vec<String> = serde_json::from_str(&r.stages).unwrap_or_default();
            if stage.is_some_and(|s| !stages.iter().any(|x| x == s)) {
                continue;
            }
            let Some(org) = queries::organization_by_id(&self.db, r.organization_id).await? else {
                continue;
            };
            if area.is_some_and(|a| org.area != a) {
                continue;
            }
            out.push(DirectoryEntry {
                code: org.code,
                name: org.name,
                kind: org.kind,
                area: org.area,
                pathway: r.pathway,
                stages,
                note: r.note,
                declared_at: r.declared_at,
            });
        }
        out.sort_by(|a, b| (&a.area, &a.code).cmp(&(&b.area, &b.code)));
        Ok(out)
    }
}
