//! The operators' commands: backups with generations, the restore check and the
//! retention export.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use renkei_service::backup::{self, generations};

use crate::config::Config;

/// `renkei backup --dir DIR [--keep N]`: a new generation, its manifest, the rotation.
pub async fn backup_generation(url: &str, dir: &Path, keep: u32) -> anyhow::Result<ExitCode> {
    if url.starts_with("postgres") {
        eprintln!("error: {}", backup::POSTGRES_ADVICE);
        return Ok(ExitCode::FAILURE);
    }
    let db = renkei_service::connect(&crate::settings(url)).await?;
    let at = renkei_service::Clock::default().now();
    let report = match generations::backup_generation(&db, url, dir, keep as usize, at).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!(
        "backup written to {} ({} bytes, sha256 {}): integrity {}, {} care plans, {} entries, all chains intact",
        report.copy.path.display(),
        report.manifest.bytes,
        report.manifest.sha256,
        report.copy.integrity,
        report.copy.verify.care_plans,
        report.copy.verify.entries,
    );
    for k in &report.manifest.audit_checkpoints {
        println!(
            "audit checkpoint {}: tree size {}, root {}",
            k.region, k.tree_size, k.root_hash
        );
    }
    println!("manifest {}", report.manifest_path.display());
    for old in &report.removed {
        println!("removed old generation {}", old.display());
    }
    println!(
        "{} generation(s) kept in {} (keep {keep})",
        generations::list(dir).map(|l| l.len()).unwrap_or(0),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `renkei restore --check FILE|DIR`.
pub async fn restore_check(target: &Path) -> anyhow::Result<ExitCode> {
    let checks = match generations::check_generations(target).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut failed = 0;
    for c in &checks {
        if c.is_ok() {
            let (plans, entries) = c
                .copy
                .as_ref()
                .map_or((0, 0), |r| (r.verify.care_plans, r.verify.entries));
            println!(
                "ok {}: restored into a scratch directory; checksum, integrity, chains, audit log and row counts match{} ({plans} care plans, {entries} entries)",
                c.file.display(),
                if c.manifest.is_some() {
                    " the manifest"
                } else {
                    ""
                }
            );
        } else {
            failed += 1;
            println!("FAILED {}", c.file.display());
            for p in &c.problems {
                println!("  {p}");
            }
        }
        for n in &c.notes {
            println!("  note: {n}");
        }
    }
    println!("{} generation(s) checked, {} failed", checks.len(), failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `renkei export closed-plans`.
pub async fn export_closed_plans(
    url: &str,
    years: u32,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    let services = crate::admin_services(url).await?;
    let now = as_of.unwrap_or_else(|| services.now());
    let cutoff = renkei_service::retention::cutoff(now, years);
    let report = renkei_service::retention::export_closed_plans(&services, cutoff, out)
        .await
        .map_err(crate::service_error)?;
    println!(
        "exported {} closed care plan(s) with {} entries whose last entry is before {} to {} (sha256 {}); nothing was deleted",
        report.plans,
        report.entries,
        report.cutoff.to_rfc3339(),
        report.file.display(),
        report.sha256
    );
    Ok(ExitCode::SUCCESS)
}

/// The backup directory and generations to keep: the flags, else `[backup]`.
pub fn backup_target(
    dir: Option<PathBuf>,
    keep: Option<u32>,
    config: &Config,
) -> Option<(PathBuf, u32)> {
    let dir = dir.or_else(|| config.backup.dir.clone())?;
    Some((dir, keep.or(config.backup.keep).unwrap_or(7)))
}
