//! Start-up: connect, check and publish the template files, load the registry. The
//! schema is migrated by the caller (the CLI's `migrate` and `serve`) before this runs.

use std::path::Path;

use crate::pathways::{self, PathwayRegistry};
use sea_orm::DatabaseConnection;

use crate::{Clock, DbSettings, Services, connect};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// Template files with errors, or a published version whose file changed; one line each.
    #[error("pathway templates refused:\n{}", .0.join("\n"))]
    Templates(Vec<String>),
    #[error(transparent)]
    Service(#[from] crate::ServiceError),
}

/// Connects, publishes every new template version under `pathways_dir` and refuses to
/// start if a published version's file changed.
pub async fn start(settings: &DbSettings, pathways_dir: &Path) -> Result<Services, StartupError> {
    let db = connect(settings).await?;
    start_on(db, pathways_dir).await
}

/// [`start`] on a pool already open (and migrated by the caller).
pub async fn start_on(
    db: DatabaseConnection,
    pathways_dir: &Path,
) -> Result<Services, StartupError> {
    let loaded = pathways::load_dir(pathways_dir).map_err(StartupError::Templates)?;
    let clock = Clock::default();
    let report = pathways::publish(&db, &loaded, clock.now())
        .await
        .map_err(StartupError::Templates)?;
    for (code, version) in &report.published {
        tracing::info!(pathway.code = %code, pathway.version = version, "published pathway version");
    }
    let registry = PathwayRegistry::load(&db).await?;
    let mut services = Services::new(db, registry);
    services.clock = clock;
    Ok(services)
}
