//! Retention. Entries and audit events are never deleted by Renkei: no code path deletes
//! or rewrites them (the hash chains and the audit log's Merkle trees would show it).
//! What the retention period (5 years after a plan's last entry by default: 医師法第24条
//! keeps 診療録 for 5 years) decides is which closed plans are offered for archiving:
//! `renkei export closed-plans --before-years N --out DIR` writes them, each with its
//! whole chain, as JSON lines, and deletes nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{ServiceError, Services};

/// What an export wrote.
#[derive(Debug)]
pub struct ExportReport {
    pub file: PathBuf,
    pub plans: usize,
    pub entries: usize,
    pub sha256: String,
    /// Plans whose last entry is older than this were exported.
    pub cutoff: DateTime<Utc>,
}

/// The cutoff for `years` before `now`.
pub fn cutoff(now: DateTime<Utc>, years: u32) -> DateTime<Utc> {
    now.checked_sub_months(chrono::Months::new(years.saturating_mul(12)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn internal(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!("{e}"))
}

/// Writes every closed (completed or withdrawn) plan whose last entry was recorded
/// before `cutoff` to `out_dir/closed-plans-<time>.jsonl` (one plan per line, with its
/// entries in chain order), plus a `.sha256` file beside it.
pub async fn export_closed_plans(
    services: &Services,
    cutoff: DateTime<Utc>,
    out_dir: &Path,
) -> Result<ExportReport, ServiceError> {
    std::fs::create_dir_all(out_dir).map_err(internal)?;
    let name = format!(
        "closed-plans-{}.jsonl",
        services.now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let file = out_dir.join(name);
    let mut out = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
            .map_err(internal)?,
    );
    let mut hasher = Sha256::new();
    let mut plans = 0;
    let mut entries = 0;
    for plan in renkei_store::ops::closed_care_plans(&services.db).await? {
        let chain = renkei_store::queries::entries_of(&services.db, plan.id).await?;
        let last = chain.iter().map(|e| e.recorded_at).max();
        if last.is_none_or(|l| l >= cutoff) {
            continue;
        }
        let line = json!({
            "care_plan": {
                "id": plan.id,
                "patient_id": plan.patient_id,
                "pathway_version_id": plan.pathway_version_id,
                "planner_organization_id": plan.planner_organization_id,
                "region": plan.region,
                "status": plan.status,
                "current_stage": plan.current_stage,
                "started_at": plan.started_at,
                "last_seq": plan.last_seq,
                "head_hash": plan.head_hash,
            },
            "last_entry_at": last,
            "entries": chain.iter().map(|e| json!({
                "id": e.id,
                "seq": e.seq,
                "stage": e.stage,
                "kind": e.kind,
                "effective_at": e.effective_at,
                "recorded_at": e.recorded_at,
                "author_id": e.author_id,
                "organization_id": e.organization_id,
                "values": serde_json::from_str::<Value>(&e.values_json).unwrap_or(Value::Null),
                "note": e.note,
                "variance": e.variance,
                "amends": e.amends,
                "reason": e.reason,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            })).collect::<Vec<_>>(),
        });
        let mut text = serde_json::to_string(&line).map_err(internal)?;
        text.push('\n');
        hasher.update(text.as_bytes());
        out.write_all(text.as_bytes()).map_err(internal)?;
        plans += 1;
        entries += chain.len();
    }
    out.flush().map_err(internal)?;
    out.get_ref().sync_all().map_err(internal)?;
    let sha256 = hex::encode(hasher.finalize());
    let sum_file = {
        let mut s = file.as_os_str().to_owned();
        s.push(".sha256");
        PathBuf::from(s)
    };
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::write(&sum_file, format!("{sha256}  {file_name}\n")).map_err(internal)?;
    Ok(ExportReport {
        file,
        plans,
        entries,
        sha256,
        cutoff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_is_whole_years_back() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(cutoff(now, 5).to_rfc3339(), "2021-12-07T10:00:00+00:00");
    }
}
