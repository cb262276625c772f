//! `renkei import ss-mix2 DIR --organization CODE [--as LOGIN] [--dry-run]`: lab results
//! from SS-MIX2 standardised storage into the organisation's patients' plans, with a
//! report of what was imported and what was skipped and why.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use renkei_service::audit::RequestMeta;
use renkei_service::import::ss_mix2::{Ss2Report, import_author};

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import the lab results (OML-11, HL7 v2.5 OUL^R22) of SS-MIX2 standardised storage
    /// for the patients of an organisation (its patient ids in PID-3), into their active
    /// care plans, in the stage each plan is in.
    #[command(name = "ss-mix2")]
    SsMix2 {
        /// The storage root (the folder holding the patient-id folders).
        dir: PathBuf,
        /// The organisation whose SS-MIX2 storage this is (its code).
        #[arg(long)]
        organization: String,
        /// The practitioner the entries are recorded by (a login of the organisation);
        /// default: its first physician by login.
        #[arg(long = "as")]
        login: Option<String>,
        /// Decide and report everything, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs an import command on the database at `url`.
pub async fn run(command: ImportCommand, url: &str) -> anyhow::Result<ExitCode> {
    match command {
        ImportCommand::SsMix2 {
            dir,
            organization,
            login,
            dry_run,
        } => {
            if !dir.is_dir() {
                anyhow::bail!("{} is not a directory", dir.display());
            }
            let db = renkei_service::connect(&renkei_service::DbSettings::new(url))
                .await
                .context("cannot open the database")?;
            let registry = renkei_service::PathwayRegistry::load(&db)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let services = renkei_service::Services::new(db, registry);
            let actor = import_author(&services, &organization, login.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{organization}: {e}"))?;
            let meta = RequestMeta {
                request_id: Some(format!("ss-mix2-import-{}", uuid::Uuid::now_v7())),
                client_addr: None,
            };
            let report = services
                .import_ss_mix2(&actor, &meta, &dir, dry_run)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print!("{}", render(&report, dry_run));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The report: one line per result, then the totals.
pub fn render(report: &Ss2Report, dry_run: bool) -> String {
    let mut out = String::new();
    for l in &report.lines {
        let what = match &l.skipped {
            None if dry_run => "would import".to_owned(),
            None => "imported".to_owned(),
            Some(reason) => format!("skipped {reason}"),
        };
        let at = if l.obx == 0 {
            l.file.clone()
        } else {
            format!("{} OBX {}", l.file, l.obx)
        };
        let code = if l.code.is_empty() {
            String::new()
        } else {
            format!(" [{}]", l.code)
        };
        out.push_str(&format!("{what}\t{at}{code}\t{}\n", l.detail));
    }
    out.push_str(&format!(
        "{}: {} files, {} results {}, {} entries{}\n",
        if dry_run { "dry run" } else { "done" },
        report.files,
        report.imported(),
        if dry_run { "to import" } else { "imported" },
        report.entries,
        if dry_run { " (nothing written)" } else { "" },
    ));
    for (reason, n) in report.skipped_by_reason() {
        out.push_str(&format!("skipped {reason}: {n}\n"));
    }
    out
}
