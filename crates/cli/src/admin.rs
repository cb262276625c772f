//! `renkei org …` and `renkei user …`: administration by the operator on the server,
//! the same service functions as the API and the web pages under `/admin`, audited as
//! the administration command.

use std::io::Read;
use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;
use renkei_service::admin::{self, NewOrganization, NewPractitioner, UserSummary};
use renkei_service::admin_orgs::{self, AdminBy, OrganizationDetail, OrganizationEdit};
use renkei_service::admin_users::{self, UserEdit};
use renkei_service::audit::RequestMeta;
use renkei_service::notify;

use crate::{admin_services, service_error};

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Add an organisation.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        kind: String,
        /// Secondary medical area (二次保健医療圏).
        #[arg(long)]
        area: String,
    },
    /// List every organisation with its contact details and status.
    List,
    /// Edit an organisation; options not given keep their value (an empty value clears
    /// the telephone, FAX or address).
    Edit {
        code: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        area: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        fax: Option<String>,
        #[arg(long)]
        address: Option<String>,
    },
    /// Require (`on`) or stop requiring (`off`) two-factor login of its users.
    TwoFactor {
        code: String,
        #[arg(value_parser = ["on", "off"])]
        setting: String,
    },
    /// E-mail notifications: the address and the events (handover, report, notice;
    /// comma-separated) it is told of; `--off` stops them. Without options, shows them.
    Notifications {
        code: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, value_delimiter = ',', value_parser = ["handover", "report", "notice"])]
        events: Vec<String>,
        #[arg(long, conflicts_with_all = ["email", "events"])]
        off: bool,
    },
    /// Deactivate: its users' sessions and tokens are revoked, they can no longer log in.
    Deactivate { code: String },
    /// Reactivate a deactivated organisation.
    Reactivate { code: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (with --password-stdin, the initial password; else a temporary one is
    /// printed, to be changed at the first login).
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        profession: String,
        /// org_admin, regional_admin or council_member (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the initial password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users (tab-separated: organisation, login, profession, roles, last login,
    /// state).
    List {
        /// Only enabled users who have not logged in for this many days.
        #[arg(long)]
        inactive_days: Option<i64>,
    },
    /// Edit a user's name, profession and roles; options not given keep their value.
    Edit {
        login: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        profession: Option<String>,
        /// The roles after the edit (repeatable): org_admin, regional_admin or council_member.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Withdraw every administration role.
        #[arg(long, conflicts_with = "roles")]
        no_roles: bool,
    },
    /// Disable: every session and API token of the user is revoked at once.
    Disable { login: String },
    /// Enable a disabled user again.
    Enable { login: String },
    /// Print a temporary password (alone on stdout) the user must change at next login.
    ResetPassword { login: String },
    /// Switch the user's two-factor login off, to be set up again.
    ResetTwoFactor { login: String },
    /// Lift the user's login lock.
    Unlock { login: String },
}

fn print_org(o: &OrganizationDetail) {
    println!(
        "{}\t{}\t{}\t{}\tphone={}\tfax={}\taddress={}\ttwo_factor={}\t{}",
        o.code,
        o.name,
        o.kind,
        o.area,
        o.phone.as_deref().unwrap_or(""),
        o.fax.as_deref().unwrap_or(""),
        o.address.as_deref().unwrap_or(""),
        if o.require_two_factor {
            "required"
        } else {
            "optional"
        },
        if o.active { "active" } else { "deactivated" }
    );
}

fn print_user(u: &UserSummary) {
    println!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        u.organization_code,
        u.login,
        u.profession,
        u.roles.join(","),
        u.last_login
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "never".to_owned()),
        if u.disabled { "disabled" } else { "enabled" }
    );
}

pub async fn org(database: &str, command: OrgCommand) -> anyhow::Result<ExitCode> {
    let services = admin_services(database).await?;
    let meta = RequestMeta::default();
    let by = AdminBy::Operator;
    match command {
        OrgCommand::Add {
            code,
            name,
            kind,
            area,
        } => {
            let org = admin::add_organization(
                &services,
                NewOrganization {
                    code,
                    name,
                    kind,
                    area,
                },
            )
            .await
            .map_err(service_error)?;
            println!("{}", org.id);
        }
        OrgCommand::List => {
            for o in admin_orgs::organizations_for(&services, by, &meta)
                .await
                .map_err(service_error)?
            {
                print_org(&o);
            }
        }
        OrgCommand::Edit {
            code,
            name,
            kind,
            area,
            phone,
            fax,
            address,
        } => {
            let o = admin_orgs::organization_detail(&services, by, &meta, &code)
                .await
                .map_err(service_error)?;
            let edit = OrganizationEdit {
                name: name.unwrap_or(o.name),
                kind: kind.unwrap_or(o.kind),
                area: area.unwrap_or(o.area),
                phone: phone.or(o.phone).unwrap_or_default(),
                fax: fax.or(o.fax).unwrap_or_default(),
                address: address.or(o.address).unwrap_or_default(),
            };
            let o = admin_orgs::update_organization(&services, by, &meta, &code, edit)
                .await
                .map_err(service_error)?;
            print_org(&o);
        }
        OrgCommand::TwoFactor { code, setting } => {
            let o =
                admin_orgs::set_require_two_factor(&services, by, &meta, &code, setting == "on")
                    .await
                    .map_err(service_error)?;
            print_org(&o);
        }
        OrgCommand::Notifications {
            code,
            email,
            events,
            off,
        } => {
            let n = if off || email.is_some() || !events.is_empty() {
                // An address alone: every event.
                let on = |e: &str| !off && (events.is_empty() || events.iter().any(|x| x == e));
                notify::set_notification_settings(
                    &services,
                    by,
                    &meta,
                    &code,
                    notify::NotificationSettings {
                        email: if off { None } else { email },
                        on_handover: on("handover"),
                        on_report: on("report"),
                        on_notice: on("notice"),
                    },
                )
                .await
            } else {
                notify::notification_settings(&services, by, &meta, &code).await
            }
            .map_err(service_error)?;
            let events: Vec<&str> = [
                (n.on_handover, "handover"),
                (n.on_report, "report"),
                (n.on_notice, "notice"),
            ]
            .into_iter()
            .filter_map(|(b, e)| b.then_some(e))
            .collect();
            match n.email {
                Some(email) => println!("{code}\t{email}\t{}", events.join(",")),
                None => println!("{code}\toff"),
            }
        }
        OrgCommand::Deactivate { code } => {
            let o = admin_orgs::set_active(&services, by, &meta, &code, false)
                .await
                .map_err(service_error)?;
            print_org(&o);
        }
        OrgCommand::Reactivate { code } => {
            let o = admin_orgs::set_active(&services, by, &meta, &code, true)
                .await
                .map_err(service_error)?;
            print_org(&o);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn user(database: &str, command: UserCommand) -> anyhow::Result<ExitCode> {
    let meta = RequestMeta::default();
    let by = AdminBy::Operator;
    match command {
        UserCommand::Add {
            org,
            login,
            name,
            profession,
            roles,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                let s = s.trim_end_matches(['\r', '\n']).to_owned();
                if s.is_empty() {
                    bail!("no password on standard input");
                }
                Some(s)
            } else {
                None
            };
            let services = admin_services(database).await?;
            if password.is_some() {
                let id = admin::add_practitioner(
                    &services,
                    NewPractitioner {
                        organization_code: org,
                        login,
                        name,
                        profession,
                        roles,
                        password,
                    },
                )
                .await
                .map_err(service_error)?;
                println!("{id}");
            } else {
                let t = admin_users::create_user(
                    &services,
                    by,
                    &meta,
                    &org,
                    &login,
                    UserEdit {
                        name,
                        profession,
                        roles,
                    },
                )
                .await
                .map_err(service_error)?;
                println!("{}", t.id);
                eprintln!(
                    "temporary password (to be changed at the first login): {}",
                    t.temporary_password
                );
            }
        }
        UserCommand::List { inactive_days } => {
            let services = admin_services(database).await?;
            for u in admin_users::users_for_operator(&services, inactive_days)
                .await
                .map_err(service_error)?
            {
                print_user(&u);
            }
        }
        UserCommand::Edit {
            login,
            name,
            profession,
            roles,
            no_roles,
        } => {
            let services = admin_services(database).await?;
            let current = admin_users::users_for_operator(&services, None)
                .await
                .map_err(service_error)?
                .into_iter()
                .find(|u| u.login == login)
                .ok_or_else(|| anyhow::anyhow!("no user `{login}`"))?;
            let roles = if no_roles {
                Vec::new()
            } else if roles.is_empty() {
                current.roles
            } else {
                roles
            };
            admin_users::update_user(
                &services,
                by,
                &meta,
                &login,
                UserEdit {
                    name: name.unwrap_or(current.name),
                    profession: profession.unwrap_or(current.profession),
                    roles,
                },
            )
            .await
            .map_err(service_error)?;
        }
        UserCommand::Disable { login } => {
            let services = admin_services(database).await?;
            admin_users::set_disabled(&services, by, &meta, &login, true)
                .await
                .map_err(service_error)?;
            println!("{login} disabled; sessions and tokens revoked");
        }
        UserCommand::Enable { login } => {
            let services = admin_services(database).await?;
            admin_users::set_disabled(&services, by, &meta, &login, false)
                .await
                .map_err(service_error)?;
            println!("{login} enabled");
        }
        UserCommand::ResetPassword { login } => {
            let services = admin_services(database).await?;
            let t = admin_users::reset_password(&services, by, &meta, &login)
                .await
                .map_err(service_error)?;
            println!("{}", t.temporary_password);
        }
        UserCommand::ResetTwoFactor { login } => {
            let services = admin_services(database).await?;
            admin_users::reset_two_factor(&services, by, &meta, &login)
                .await
                .map_err(service_error)?;
            println!("{login}: two-factor login reset");
        }
        UserCommand::Unlock { login } => {
            let services = admin_services(database).await?;
            admin_users::unlock(&services, by, &meta, &login)
                .await
                .map_err(service_error)?;
            println!("{login} unlocked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
