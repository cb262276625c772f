//! Loading template files, publishing versions (immutable once published) and the
//! in-memory registry of every published version, parsed once at start-up.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use renkei_domain::template::{PathwayTemplate, Variant, parse_template, version_from_file_name};
use renkei_store::queries::{self, PathwayVersionRow};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use crate::error::ServiceError;

/// A template file read and validated from disk.
#[derive(Debug, Clone)]
pub struct LoadedTemplate {
    pub path: PathBuf,
    pub template: PathwayTemplate,
}

/// Reads every `<dir>/<code>/v<N>.toml`; returns all templates or every error found,
/// each as `file:line:column: message`.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedTemplate>, Vec<String>> {
    let mut errors = Vec::new();
    let mut loaded = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            return Err(vec![format!(
                "{}: cannot read directory: {e}",
                dir.display()
            )]);
        }
    };
    let mut subdirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for sub in subdirs {
        let code = sub
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&sub) {
            Ok(e) => e.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                errors.push(format!("{}: cannot read directory: {e}", sub.display()));
                continue;
            }
        };
        files.sort();
        let mut versions: Vec<u32> = Vec::new();
        for file in files {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !name.ends_with(".toml") {
                continue;
            }
            let Some(version) = version_from_file_name(&name) else {
                errors.push(format!(
                    "{}:1:1: file name must be v<N>.toml with N = 1, 2, …",
                    file.display()
                ));
                continue;
            };
            let source = match std::fs::read_to_string(&file) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(format!("{}:1:1: cannot read: {e}", file.display()));
                    continue;
                }
            };
            match parse_template(&source, Some((&code, version))) {
                Ok(template) => {
                    versions.push(version);
                    loaded.push(LoadedTemplate {
                        path: file.clone(),
                        template,
                    });
                }
                Err(diags) => {
                    for d in diags {
                        errors.push(format!("{}:{d}", file.display()));
                    }
                }
            }
        }
        versions.sort_unstable();
        for (i, v) in versions.iter().enumerate() {
            if *v != i as u32 + 1 {
                errors.push(format!(
                    "{}: versions must be contiguous from v1; v{} is missing",
                    sub.display(),
                    i + 1
                ));
                break;
            }
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}

/// One published version, parsed.
#[derive(Debug)]
pub struct PublishedPathway {
    pub id: Uuid,
    pub hash: String,
    /// The template as published, or for a plan on a variant, resolved for that variant
    /// (`hash` stays the published version's).
    pub template: PathwayTemplate,
    /// The variant `template` is resolved for.
    pub variant: Option<Variant>,
}

/// Every published version, by id and by `(code, version)`.
#[derive(Debug, Default)]
pub struct PathwayRegistry {
    by_id: HashMap<Uuid, Arc<PublishedPathway>>,
    by_key: BTreeMap<(String, u32), Uuid>,
    /// Each version's template resolved for each of its variants, made once at load.
    by_variant: HashMap<(Uuid, String), Arc<PublishedPathway>>,
}

impl PathwayRegistry {
    /// Reads every stored version (including versions whose file was since removed).
    pub async fn load<C: ConnectionTrait>(db: &C) -> Result<Self, ServiceError> {
        let rows = queries::list_pathway_versions(db).await?;
        let mut reg = PathwayRegistry::default();
        for row in rows {
            let template: PathwayTemplate = serde_json::from_str(&row.snapshot).map_err(|e| {
                anyhow::anyhow!(
                    "stored snapshot of {} v{} is unreadable: {e}",
                    row.code,
                    row.version
                )
            })?;
            reg.by_key
                .insert((row.code.clone(), row.version as u32), row.id);
            for v in &template.variants {
                if let Some(resolved) = template.for_variant(&v.code) {
                    reg.by_variant.insert(
                        (row.id, v.code.clone()),
                        Arc::new(PublishedPathway {
                            id: row.id,
                            hash: row.hash.clone(),
                            template: resolved,
                            variant: Some(v.clone()),
                        }),
                    );
                }
            }
            reg.by_id.insert(
                row.id,
                Arc::new(PublishedPathway {
                    id: row.id,
                    hash: row.hash,
                    template,
                    variant: None,
                }),
            );
        }
        Ok(reg)
    }

    /// [`Self::for_plan`] by `(code, version)`: what a plan on `variant` of that version
    /// reads.
    pub fn find_for(
        &self,
        code: &str,
        version: u32,
        variant: Option<&str>,
    ) -> Option<&Arc<PublishedPathway>> {
        let id = *self.by_key.get(&(code.to_owned(), version))?;
        self.for_plan(id, variant)
    }

    /// The version a plan pins as the plan reads it: resolved for the plan's variant when
    /// it has one (the version as published when the variant is unknown to it).
    pub fn for_plan(&self, id: Uuid, variant: Option<&str>) -> Option<&Arc<PublishedPathway>> {
        variant
            .and_then(|v| self.by_variant.get(&(id, v.to_owned())))
            .or_else(|| self.by_id.get(&id))
    }

    pub fn get(&self, id: Uuid) -> Option<&Arc<PublishedPathway>> {
        self.by_id.get(&id)
    }

    pub fn find(&self, code: &str, version: u32) -> Option<&Arc<PublishedPathway>> {
        self.by_key
            .get(&(code.to_owned(), version))
            .and_then(|id| self.by_id.get(id))
    }

    /// The highest published version of `code`.
    pub fn latest(&self, code: &str) -> Option<&Arc<PublishedPathway>> {
        self.by_key
            .range((code.to_owned(), 0)..=(code.to_owned(), u32::MAX))
            .next_back()
            .and_then(|(_, id)| self.by_id.get(id))
    }

    /// All versions ordered by code then version.
    pub fn all(&self) -> impl Iterator<Item = &Arc<PublishedPathway>> {
        self.by_key.values().filter_map(|id| self.by_id.get(id))
    }
}

/// What publishing did.
#[derive(Debug, Default)]
pub struct PublishReport {
    pub published: Vec<(String, u32)>,
    pub unchanged: Vec<(String, u32)>,
}

/// Compares files with the published versions: a file whose version is published with
/// another hash is an error naming the file.
pub async fn check_against<C: ConnectionTrait>(
    db: &C,
    loaded: &[LoadedTemplate],
) -> Result<PublishReport, Vec<String>> {
    let rows = queries::list_pathway_versions(db)
        .await
        .map_err(|e| vec![format!("cannot read published versions: {e}")])?;
    let stored: HashMap<(String, u32), &PathwayVersionRow> = rows
        .iter()
        .map(|r| ((r.code.clone(), r.version as u32), r))
        .collect();
    let mut errors = Vec::new();
    let mut report = PublishReport::default();
    for l in loaded {
        let key = (l.template.code.clone(), l.template.version);
        let hash = l.template.content_hash();
        match stored.get(&key) {
            Some(row) if row.hash != hash => errors.push(format!(
                "{}: {} v{} is already published with hash {} but the file now hashes to {hash}; \
                 a published version is immutable — restore the file and publish the change as v{}",
                l.path.display(),
                key.0,
                key.1,
                row.hash,
                rows.iter()
                    .filter(|r| r.code == key.0)
                    .map(|r| r.version as u32)
                    .max()
                    .unwrap_or(key.1)
                    + 1
            )),
            Some(_) => report.unchanged.push(key),
            None => report.published.push(key),
        }
    }
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(errors)
    }
}

/// Publishes every new version in one transaction; refuses everything if any published
/// version's file has changed.
pub async fn publish(
    db: &DatabaseConnection,
    loaded: &[LoadedTemplate],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PublishReport, Vec<String>> {
    let txn = crate::begin_write(db)
        .await
        .map_err(|e| vec![format!("cannot publish: {e}")])?;
    let report = check_against(&txn, loaded).await?;
    for l in loaded {
        let key = (l.template.code.clone(), l.template.version);
        if !report.published.contains(&key) {
            continue;
        }
        let row = PathwayVersionRow {
            id: Uuid::now_v7(),
            code: l.template.code.clone(),
            version: l.template.version as i32,
            title_ja: l.template.title.ja.clone(),
            title_en: l.template.title.en.clone(),
            hash: l.template.content_hash(),
            snapshot: l.template.canonical_json(),
            published_at: now,
        };
        queries::insert_pathway_version(&txn, row)
            .await
            .map_err(|e| vec![format!("{}: cannot publish: {e}", l.path.display())])?;
    }
    txn.commit()
        .await
        .map_err(|e| vec![format!("cannot publish: {e}")])?;
    Ok(report)
}
