#![doc = include_str!("../README.md")]

pub mod access;
pub mod actors;
pub mod admin;
pub mod admin_orgs;
pub mod admin_patients;
pub mod admin_users;
pub mod audit;
pub mod audit_key;
pub mod auth;
pub mod backup;
pub mod care_sheets;
pub mod care_team;
pub mod corrections;
pub mod council;
mod council_facts;
pub mod council_home;
pub mod demo;
pub mod directory;
pub mod entries;
pub mod error;
pub mod evidence;
pub mod fhir;
mod goal_context;
pub mod handovers;
pub mod import;
pub mod kana;
pub mod lifecycle;
pub mod notices;
pub mod notify;
pub mod ops;
pub mod pathways;
mod patient_group;
pub mod patient_merge;
pub mod patients;
mod plan_chain;
mod plan_facts;
mod plan_write;
pub mod plans;
pub mod plausibility;
pub mod reports;
pub mod retention;
pub mod schedules;
pub mod screens;
pub mod sequencer;
pub mod startup;
pub mod variances;
pub mod verify;
pub mod work_index;

use std::sync::Arc;

use chrono::{DateTime, Timelike, Utc};
use uuid::Uuid;

pub use sea_orm::DatabaseConnection;

pub use error::{ErrorCode, ServiceError};
pub use pathways::PathwayRegistry;
pub use renkei_store::db::{DbSettings, SqliteSync, WriteTxn, begin_write, connect};
pub use renkei_store::queries_access::AuditFilter;

/// Who is acting: the authenticated practitioner and their organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub practitioner_id: Uuid,
    pub login: String,
    pub name: String,
    pub profession: String,
    pub organization_id: Uuid,
    pub organization_code: String,
    pub organization_name: String,
    /// The secondary medical area (二次保健医療圏) of the organisation (`organizations.area`).
    pub region: String,
    /// `org_admin` / `regional_admin`.
    pub roles: Vec<String>,
}

impl Actor {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// The handle every use case hangs off: the pool and the published templates.
#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    /// Where report and statistics reads go: a streaming replica when `serve
    /// --read-database-url` names one, otherwise the same pool as `db`. Only reads of
    /// history that may lag the primary by the replica's replay delay use it (see
    /// [`Services::with_read_db`]); access decisions, audit events and writes use `db`.
    pub read_db: DatabaseConnection,
    pub pathways: Arc<PathwayRegistry>,
    /// How long a break-glass grant lasts.
    pub break_glass_duration: chrono::Duration,
    /// The service's notion of now (tests move it forward instead of sleeping).
    pub clock: Clock,
    /// What the operator chose at start-up about demo accounts, proxies and keys.
    pub security: Arc<Security>,
    /// The FHIR Bulk Data export jobs of this server (`$export`).
    pub exports: Arc<fhir::export::ExportJobs>,
    /// E-mail notifications: sends nothing until SMTP is configured.
    pub notifier: Arc<notify::Notifier>,
    /// `care_team.read_after_end_days` and what else bounds care-team access.
    pub care_team: care_team::CareTeamSettings,
    /// The region's data completeness as the home pages show it, kept between changes
    /// of the report facts.
    pub home_summary: Arc<council_home::HomeSummaryCache>,
}

/// Security settings of one server: none of them lives in the database.
#[derive(Clone, Default)]
pub struct Security {
    /// `serve --demo`: the demo region's well-known API tokens are accepted. Without it
    /// they are refused even when the demo accounts exist.
    pub demo: bool,
    /// Peers whose `X-Forwarded-For` names the client (reverse proxies). None by
    /// default: the client is the socket's peer.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Encrypts TOTP secrets at rest. Without one, two-factor enrolment is refused.
    pub secret_key: Option<auth::secret_key::SecretKey>,
    /// Signs the audit log's checkpoints. Without one, events wait unsequenced until a
    /// process holding the key (`renkei serve`, `renkei verify`) sequences them.
    pub audit_key: Option<Arc<sequencer::AuditKey>>,
}

impl Security {
    /// Parses `--trusted-proxy` values: addresses or networks (`10.0.0.0/8`),
    /// comma-separated.
    pub fn parse_trusted_proxies(list: &str) -> Result<Vec<ipnet::IpNet>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("`{s}` is not an IP address or network"))
            })
            .collect()
    }

    /// Whether `peer` is a configured proxy.
    pub fn is_trusted_proxy(&self, peer: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&peer))
    }
}

/// Wall-clock time plus an adjustable offset, shared by every clone of [`Services`].
#[derive(Clone, Default, Debug)]
pub struct Clock {
    offset_seconds: Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    /// Now, at the microsecond precision both databases store. The only place the
    /// service reads the wall clock.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = self
            .offset_seconds
            .load(std::sync::atomic::Ordering::Relaxed);
        truncate_micros(Utc::now() + chrono::Duration::seconds(offset))
    }

    /// Moves the clock forward (or back) by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_seconds
            .fetch_add(by.num_seconds(), std::sync::atomic::Ordering::Relaxed);
    }
}

impl Services {
    pub fn new(db: DatabaseConnection, pathways: PathwayRegistry) -> Self {
        Self {
            read_db: db.clone(),
            db,
            pathways: Arc::new(pathways),
            break_glass_duration: chrono::Duration::hours(24),
            clock: Clock::default(),
            security: Arc::new(Security::default()),
            exports: fhir::export::new_jobs(),
            notifier: notify::Notifier::new(None),
            care_team: care_team::CareTeamSettings::default(),
            home_summary: Arc::default(),
        }
    }

    /// The same services sending e-mail notifications through `smtp`.
    pub fn with_smtp(self, smtp: Option<notify::SmtpSettings>) -> Self {
        self.notifier.configure(smtp);
        self
    }

    /// The same services with other security settings.
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = Arc::new(security);
        self
    }

    /// The same services with report and statistics reads on `read_db` (a hot standby
    /// of `db`). Served from it: the patient's access report and the audit log search
    /// (history, newest first), the reports back listed for a plan, and the count of
    /// active plans per template version. Not served from it: everything that decides
    /// access or must see the caller's own last write (a plan, its record, goals,
    /// schedule, worklist, a single report before it is sent), and every audit event,
    /// which is written on `db` in the reading request.
    pub fn with_read_db(mut self, read_db: DatabaseConnection) -> Self {
        self.read_db = read_db;
        self
    }

    /// Now, by the service clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.nanosecond() / 1_000 * 1_000;
    t.with_nanosecond(nanos).unwrap_or(t)
}
pub mod council_meetings;
