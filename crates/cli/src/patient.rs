//! `renkei patient …`: a patient's records from the server, acting as a named user of an
//! organisation (`--as LOGIN`), through the same service functions as the API and the
//! web pages, so the same checks and audit apply.

use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;
use renkei_service::audit::RequestMeta;
use renkei_service::{Actor, Services};
use uuid::Uuid;

use crate::{admin_services, service_error};

#[derive(Debug, Subcommand)]
pub enum PatientCommand {
    /// Add the acting user's organisation's own patient number (カルテ番号) to a patient
    /// that organisation treats; another organisation's namespace is refused.
    AddIdentifier {
        /// The patient's id.
        patient: Uuid,
        /// The user acting (their organisation is the namespace).
        #[arg(long = "as")]
        login: String,
        /// The organisation code of the number (default: the acting user's own).
        #[arg(long)]
        organization: Option<String>,
        /// The patient number.
        #[arg(long)]
        value: String,
    },
    /// Merge two records of one person (名寄せ, the regional administrator): MERGED reads
    /// as SURVIVOR from then on; nothing moves, and `unmerge` reverses it. `--dry-run`
    /// prints the preview (every field of both, differences marked with `*`, each
    /// record's patient numbers and plans) and changes nothing.
    Merge {
        /// The record that survives.
        survivor: Uuid,
        /// The record merged into it.
        merged: Uuid,
        /// The regional administrator acting.
        #[arg(long = "as")]
        login: String,
        /// Why the records are one person.
        #[arg(long, default_value = "")]
        reason: String,
        /// Confirm a different birth date or sex.
        #[arg(long)]
        confirm_differences: bool,
        /// Print the preview only.
        #[arg(long)]
        dry_run: bool,
    },
    /// Reverse a merge (the regional administrator): both records read as before.
    Unmerge {
        /// The merge link's id (printed by `merge`).
        link: Uuid,
        /// The regional administrator acting.
        #[arg(long = "as")]
        login: String,
        /// Why the merge is reversed.
        #[arg(long)]
        reason: String,
    },
}

fn print_record(side: &str, r: &renkei_service::patient_merge::MergeRecord) {
    println!("{side}\t{}", r.patient.id);
    for i in &r.patient.identifiers {
        println!("  identifier\t{}\t{}", i.organization, i.value);
    }
    for p in &r.plans {
        println!(
            "  plan\t{}\t{} v{}\t{}\t{}\t{}",
            p.id,
            p.pathway_code,
            p.pathway_version,
            p.status,
            p.planner_organization,
            p.started_at.date_naive()
        );
    }
    if let Some(s) = r.merged_into {
        println!("  merged into\t{s}");
    }
    for m in &r.merged_ids {
        println!("  has merged\t{m}");
    }
}

fn print_link(l: &renkei_service::patient_merge::PatientLink) {
    println!("link\t{}", l.id);
    println!("survivor\t{}", l.survivor_id);
    println!("merged\t{}", l.merged_id);
    println!("merged at\t{}", l.merged_at.to_rfc3339());
    if let Some(at) = l.reversed_at {
        println!("reversed at\t{}", at.to_rfc3339());
    }
}

/// The enabled user `login` as an actor.
pub(crate) async fn actor_named(services: &Services, login: &str) -> anyhow::Result<Actor> {
    match renkei_service::actors::actor_by_login(&services.db, login).await {
        Ok(a) => Ok(a),
        Err(renkei_service::ServiceError::Unauthenticated) => {
            bail!("no enabled user {login} of an active organisation")
        }
        Err(e) => Err(service_error(e)),
    }
}

pub async fn patient(database: &str, command: PatientCommand) -> anyhow::Result<ExitCode> {
    let services = admin_services(database).await?;
    let meta = RequestMeta::default();
    match command {
        PatientCommand::AddIdentifier {
            patient,
            login,
            organization,
            value,
        } => {
            let actor = actor_named(&services, &login).await?;
            let org = organization.unwrap_or_else(|| actor.organization_code.clone());
            let p = renkei_service::patients::add_identifier(
                &services, &actor, &meta, patient, &org, &value,
            )
            .await
            .map_err(service_error)?;
            for i in &p.identifiers {
                println!("{}\t{}", i.organization, i.value);
            }
        }
        PatientCommand::Merge {
            survivor,
            merged,
            login,
            reason,
            confirm_differences,
            dry_run,
        } => {
            let actor = actor_named(&services, &login).await?;
            if dry_run {
                let p = renkei_service::patient_merge::merge_preview(
                    &services, &actor, &meta, survivor, merged,
                )
                .await
                .map_err(service_error)?;
                for f in &p.fields {
                    println!(
                        "{}{}\t{}\t{}",
                        if f.differs { "* " } else { "  " },
                        f.field,
                        f.survivor,
                        f.merged
                    );
                }
                print_record("survivor", &p.survivor);
                print_record("merged", &p.merged);
                for f in &p.needs_confirmation {
                    println!("confirm\t{f} differs: merge with --confirm-differences");
                }
                for e in &p.refusals {
                    println!("refused\t{}: {}", e.field, e.message);
                }
                println!("dry run: nothing changed");
                return Ok(if p.refusals.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            let link = renkei_service::patient_merge::merge(
                &services,
                &actor,
                &meta,
                survivor,
                renkei_service::patient_merge::MergeRequest {
                    other: merged,
                    reason,
                    confirm_differences,
                },
            )
            .await
            .map_err(service_error)?;
            print_link(&link);
        }
        PatientCommand::Unmerge {
            link,
            login,
            reason,
        } => {
            let actor = actor_named(&services, &login).await?;
            let link =
                renkei_service::patient_merge::unmerge(&services, &actor, &meta, link, &reason)
                    .await
                    .map_err(service_error)?;
            print_link(&link);
        }
    }
    Ok(ExitCode::SUCCESS)
}
