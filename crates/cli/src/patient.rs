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
    }
    Ok(ExitCode::SUCCESS)
}
