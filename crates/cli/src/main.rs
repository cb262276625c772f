#![doc = include_str!("../README.md")]

mod admin;
mod config;
mod ops;
mod patient;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use renkei_service::{DbSettings, ServiceError, SqliteSync, pathways, startup};

mod import;

#[derive(Debug, Parser)]
#[command(
    name = "renkei",
    version,
    about = "Renkei — shared regional care-pathway record (地域医療連携パス)"
)]
struct Cli {
    /// Database URL: sqlite://FILE or postgres://…
    #[arg(
        long,
        global = true,
        env = "RENKEI_DATABASE_URL",
        default_value = "sqlite://renkei.db"
    )]
    database: String,
    /// File holding the Ed25519 key that signs the audit log's checkpoints (created,
    /// mode 0600, when missing). Default: `<database file>.audit-key` for SQLite, else
    /// `renkei-audit.key` in the working directory.
    #[arg(long, global = true, env = "RENKEI_AUDIT_KEY_FILE")]
    audit_key_file: Option<PathBuf>,
    /// Configuration file (TOML); `RENKEI_SECTION__KEY` variables override it, flags
    /// override both. See README "Operations".
    #[arg(long, global = true, env = config::FILE_VAR)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SyncLevel {
    Full,
    Normal,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate, publish the templates and serve the web UI and the API.
    ///
    /// The web UI (worklist, patients, care plans, hand-overs, printing, administration)
    /// is at http://LISTEN/ — log in there; the first login asks for a new password. The
    /// JSON API is under /api/v1 (its OpenAPI document at /api/openapi.json).
    #[command(
        after_help = "Web UI: open http://127.0.0.1:8080/ in a browser (the address of --listen).\n\
                      Pathway templates: --pathways DIR, else ./pathways, else the templates \
                      installed with renkei (next to the executable or in ../share/renkei/pathways)."
    )]
    Serve {
        /// Address of the web UI and the API.
        #[arg(long, env = "RENKEI_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Directory of the pathway templates (default: ./pathways, else the templates
        /// installed with renkei).
        #[arg(long, env = "RENKEI_PATHWAYS")]
        pathways: Option<PathBuf>,
        /// Load the demo region first (idempotent) and print how to use it.
        #[arg(long)]
        demo: bool,
        /// SQLite commit durability (full: fsync every commit).
        #[arg(long, env = "RENKEI_SQLITE_SYNC", value_enum, default_value = "full")]
        sqlite_sync: SyncLevel,
        /// Database connections in the pool.
        #[arg(long, env = "RENKEI_DB_CONNECTIONS", default_value_t = 8)]
        db_connections: u32,
        /// Seconds a client may take to send a request's headers (and an idle
        /// connection may stay open) before the connection is closed.
        #[arg(long, env = "RENKEI_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
            value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_read_timeout_secs: u64,
        /// Connections one client address may hold open at once (0: no limit). Behind a
        /// reverse proxy every connection comes from the proxy's address: raise it there.
        #[arg(long, env = "RENKEI_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 64)]
        max_connections_per_address: usize,
        /// Reverse proxies whose X-Forwarded-For names the client (addresses or networks,
        /// comma-separated; repeatable). Default: none, the client is the socket peer.
        #[arg(
            long = "trusted-proxy",
            env = "RENKEI_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<String>,
        /// File holding the 256-bit key (64 hex digits) that encrypts TOTP secrets at
        /// rest; or give the key itself in RENKEI_SECRET_KEY.
        #[arg(long, env = "RENKEI_SECRET_KEY_FILE")]
        secret_key_file: Option<PathBuf>,
        /// Crash tests only: the audit sequencer waits this long inside its transaction
        /// before committing each batch, so a kill lands mid-batch.
        #[arg(long, hide = true, default_value_t = 0)]
        audit_sequencer_pause_ms: u64,
        /// Seconds between automatic variance sweeps (tests shorten it).
        #[arg(long, hide = true, default_value_t = 600,
            value_parser = clap::value_parser!(u64).range(1..))]
        sweep_period_secs: u64,
        /// PostgreSQL URL of a streaming replica (hot standby) of --database. The
        /// reports and statistics reads go there (access reports, the audit log search,
        /// a plan's reports back, active plans per template); access decisions, audit
        /// events and every write stay on --database. Default: everything on --database.
        #[arg(long, env = "RENKEI_READ_DATABASE_URL")]
        read_database_url: Option<String>,
    },
    /// Run the database migrations.
    Migrate {
        /// PostgreSQL table layout: `plain`, or `partitioned` (the plan tables partitioned
        /// by region; made on a fresh database only). Ignored on SQLite.
        #[arg(long, env = "RENKEI_PG_LAYOUT", default_value = "plain")]
        layout: renkei_migration::layout::Layout,
    },
    /// Check or describe pathway templates.
    Pathways {
        #[command(subcommand)]
        command: PathwaysCommand,
    },
    /// Organisations.
    Org {
        #[command(subcommand)]
        command: admin::OrgCommand,
    },
    /// A patient's records, acting as a named user (`--as LOGIN`).
    Patient {
        #[command(subcommand)]
        command: patient::PatientCommand,
    },
    /// Practitioners (users).
    User {
        #[command(subcommand)]
        command: admin::UserCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Recompute every hash chain and the audit log's Merkle trees; exit 1 naming the
    /// first broken link of each. Sequences pending audit events first.
    Verify {
        /// A witness file of checkpoints printed earlier by `renkei audit checkpoint`:
        /// the log must still contain the trees they record.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// The audit log's signing key and checkpoints.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Import lab results (SS-MIX2 standardised storage).
    Import {
        #[command(subcommand)]
        command: import::ImportCommand,
    },
    /// SQLite: write a consistent online copy to FILE (must not exist) while writes go
    /// on; or, with --dir, a new generation with its manifest, keeping the newest N.
    Backup {
        #[arg(required_unless_present = "dir", conflicts_with_all = ["dir", "keep"])]
        file: Option<PathBuf>,
        /// Directory of the backup generations (default: `[backup] dir`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Generations to keep, oldest removed first (default: `[backup] keep`, else 7).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        keep: Option<u32>,
    },
    /// SQLite: put a checked copy of backup FILE in place of the database (server
    /// stopped); or, with --check, restore into a scratch directory and verify only.
    Restore {
        #[arg(required_unless_present = "check", conflicts_with = "check")]
        file: Option<PathBuf>,
        /// Check the generations of a directory (or one backup file) without touching
        /// the database: checksum, integrity, chains, audit log and row counts against
        /// the manifest.
        #[arg(long, value_name = "FILE|DIR")]
        check: Option<PathBuf>,
    },
    /// Exports for archiving (they delete nothing).
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Check or print the configuration (file, variables and flags).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// Completed or withdrawn care plans whose last entry is older than the retention
    /// period, with their whole chains, as JSON lines in OUT (for archiving).
    ClosedPlans {
        /// Years since the last entry (default: `[retention] years`, else 5).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        before_years: Option<u32>,
        /// Directory to write to (created when missing).
        #[arg(long)]
        out: PathBuf,
        /// Count the years back from this time (RFC 3339) instead of now.
        #[arg(long)]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Read and check the configuration; exit 1 naming the first wrong key.
    Check,
    /// Print the configuration in effect as TOML, secrets replaced by `***`.
    Show,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Print the public key (hex) that verifies the audit checkpoints.
    Key,
    /// Sequence pending events, then print the latest checkpoint of each region (or of
    /// REGION) in the text form a witness stores and `verify --checkpoint` reads.
    Checkpoint {
        #[arg(long)]
        region: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PathwaysCommand {
    /// Validate every template under DIR; print file:line:column: message per error.
    Check {
        #[arg(default_value = "pathways")]
        dir: PathBuf,
        /// Also refuse files whose published version (in this database) has changed.
        #[arg(long, value_name = "DATABASE_URL")]
        against: Option<String>,
    },
    /// Print the JSON Schema of the template format.
    Schema,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print a new bearer token for LOGIN (alone on stdout).
    Issue {
        #[arg(long)]
        login: String,
        #[arg(long, default_value = "cli")]
        label: String,
        /// Days until the token expires (none: no expiry).
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
}

/// The directory of pathway templates `serve` uses: the one named (`--pathways` or
/// `RENKEI_PATHWAYS`), which must exist; else the first that exists of `./pathways`,
/// `pathways` next to the executable, `../share/renkei/pathways` from the executable's
/// directory, and the templates of the source tree it was built from.
fn pathways_to_serve(named: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = named {
        if dir.is_dir() {
            return Ok(dir);
        }
        bail!(
            "no pathway template directory at {}: name the directory of the templates with \
             --pathways DIR (or RENKEI_PATHWAYS); nothing was created",
            dir.display()
        );
    }
    let candidates = default_pathway_dirs();
    match candidates.iter().find(|d| d.is_dir()) {
        Some(dir) => {
            tracing::info!(pathways = %dir.display(), "pathway templates");
            Ok(dir.clone())
        }
        None => bail!(
            "no pathway templates found (looked in {}): name their directory with \
             --pathways DIR (or RENKEI_PATHWAYS); nothing was created",
            candidates
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Where the templates are looked for when no directory is named, in order.
fn default_pathway_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("pathways")];
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
        .and_then(|e| e.parent().map(PathBuf::from))
    {
        dirs.push(exe_dir.join("pathways"));
        dirs.push(exe_dir.join("../share/renkei/pathways"));
    }
    dirs.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../pathways"
    )));
    dirs
}

/// Connects to the read replica named by `serve --read-database-url`: PostgreSQL only,
/// with the primary's pool settings.
async fn read_replica(
    primary: &str,
    url: &str,
    max_connections: u32,
) -> anyhow::Result<renkei_service::DatabaseConnection> {
    let is_pg = |u: &str| u.starts_with("postgres://") || u.starts_with("postgresql://");
    if !is_pg(primary) || !is_pg(url) {
        bail!(
            "--read-database-url names a PostgreSQL streaming replica of a PostgreSQL \
             --database; SQLite has no replicas"
        );
    }
    let mut s = settings(url);
    s.max_connections = max_connections;
    renkei_service::connect(&s)
        .await
        .with_context(|| "cannot connect to the read replica (--read-database-url)")
}

fn settings(url: &str) -> DbSettings {
    DbSettings::new(url)
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let loaded = match config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    apply_config(&mut cli, &matches, &loaded.config);
    init_tracing(&loaded.config.log);
    if let Command::Config { command } = &cli.command {
        return config_command(command, &cli, &loaded);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, loaded.config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error: JSON, one object per line (`[log] format = "text"` or
/// `LOG_FORMAT=text` for people reading a terminal); the filter is `RENKEI_LOG`, else
/// `[log] level`.
fn init_tracing(log: &config::Log) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RENKEI_LOG")
        .ok()
        .or_else(|| {
            log.level
                .as_deref()
                .and_then(|l| EnvFilter::try_new(l).ok())
        })
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let format = match std::env::var("LOG_FORMAT").ok().as_deref() {
        Some("text") => config::LogFormat::Text,
        Some("json") => config::LogFormat::Json,
        _ => log.format.unwrap_or(config::LogFormat::Json),
    };
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match format {
        config::LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_filter(filter)
            .boxed(),
        config::LogFormat::Text => lines.compact().with_filter(filter).boxed(),
    };
    // `/metrics` counts the queries waiting for a pool connection, whatever the log level.
    tracing_subscriber::registry()
        .with(lines)
        .with(
            renkei_http::metrics::PoolWaitLayer
                .with_filter(renkei_http::metrics::pool_wait_filter()),
        )
        .init();
}

/// Whether the argument `id` was given on the command line or by its own variable (then
/// it wins over the configuration).
fn given(matches: Option<&ArgMatches>, id: &str) -> bool {
    matches.is_some_and(|m| {
        m.try_get_raw(id).is_ok_and(|v| v.is_some())
            && matches!(
                m.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
    })
}

/// Fills what the flags and their variables left unset from the configuration.
fn apply_config(cli: &mut Cli, matches: &ArgMatches, c: &config::Config) {
    let sub = matches.subcommand().map(|(_, m)| m);
    if !given(Some(matches), "database")
        && !given(sub, "database")
        && let Some(url) = &c.database.url
    {
        cli.database = url.clone();
    }
    if cli.audit_key_file.is_none() {
        cli.audit_key_file = c.audit.key_file.clone();
    }
    if let Command::Serve {
        listen,
        pathways,
        db_connections,
        trusted_proxies,
        secret_key_file,
        read_database_url,
        ..
    } = &mut cli.command
    {
        if !given(sub, "listen")
            && let Some(l) = c.server.listen
        {
            *listen = l;
        }
        if pathways.is_none() {
            *pathways = c.pathways.dir.clone();
        }
        if !given(sub, "db_connections")
            && let Some(n) = c.database.connections
        {
            *db_connections = n;
        }
        if trusted_proxies.is_empty()
            && let Some(p) = &c.server.trusted_proxies
        {
            *trusted_proxies = p.clone();
        }
        if secret_key_file.is_none() {
            *secret_key_file = c.server.secret_key_file.clone();
        }
        if read_database_url.is_none() {
            *read_database_url = c.database.read_url.clone();
        }
    }
}

/// The SMTP settings of `[smtp]` (or `RENKEI_SMTP__…`); none without a host, and then
/// no e-mail is sent.
fn smtp_settings(
    c: &config::Smtp,
    listen: SocketAddr,
) -> Option<renkei_service::notify::SmtpSettings> {
    let host = c.host.clone().filter(|h| !h.is_empty())?;
    Some(renkei_service::notify::SmtpSettings {
        host,
        port: c.port.unwrap_or(25),
        from: c.from.clone().unwrap_or_default(),
        username: c.username.clone(),
        password: c.password.clone(),
        base_url: c
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}")),
    })
}

/// `config check` and `config show`.
fn config_command(command: &ConfigCommand, cli: &Cli, loaded: &config::Loaded) -> ExitCode {
    let mut effective = loaded.config.clone();
    effective.database.url = Some(cli.database.clone());
    effective.audit.key_file = cli.audit_key_file.clone();
    match command {
        ConfigCommand::Show => {
            print!("{}", effective.to_redacted_toml());
            ExitCode::SUCCESS
        }
        ConfigCommand::Check => {
            if let Some(dir) = &effective.pathways.dir
                && let Err(errors) = pathways::load_dir(dir)
            {
                for e in &errors {
                    eprintln!("{e}");
                }
                eprintln!(
                    "error: configuration: pathways.dir: the templates in {} have {} error(s)",
                    dir.display(),
                    errors.len()
                );
                return ExitCode::FAILURE;
            }
            if let Some(file) = &effective.server.secret_key_file
                && let Err(e) = std::fs::metadata(file)
            {
                eprintln!(
                    "error: configuration: server.secret_key_file: cannot read {}: {e}",
                    file.display()
                );
                return ExitCode::FAILURE;
            }
            println!(
                "configuration ok ({}; {} variable(s){})",
                loaded
                    .file
                    .as_ref()
                    .map_or("no file".to_owned(), |f| format!("file {}", f.display())),
                loaded.variables.len(),
                if loaded.variables.is_empty() {
                    String::new()
                } else {
                    format!(": {}", loaded.variables.join(", "))
                }
            );
            ExitCode::SUCCESS
        }
    }
}

fn service_error(e: ServiceError) -> anyhow::Error {
    match e {
        ServiceError::Validation(errors) => anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}

async fn run(cli: Cli, config: config::Config) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            listen,
            pathways,
            demo,
            sqlite_sync,
            db_connections,
            header_read_timeout_secs,
            max_connections_per_address,
            trusted_proxies,
            secret_key_file,
            audit_sequencer_pause_ms,
            sweep_period_secs,
            read_database_url,
        } => {
            renkei_service::sequencer::set_pause(audit_sequencer_pause_ms);
            let mut security = security(demo, &trusted_proxies, secret_key_file.as_deref())?;
            // Found and readable before the database or the audit key is created.
            let pathways = pathways_to_serve(pathways)?;
            if let Err(errors) = pathways::load_dir(&pathways) {
                for e in &errors {
                    eprintln!("{e}");
                }
                bail!(
                    "the pathway templates in {} have {} error(s); fix them or name another \
                     directory with --pathways DIR",
                    pathways.display(),
                    errors.len()
                );
            }
            security.audit_key = Some(std::sync::Arc::new(audit_key(
                &cli.database,
                cli.audit_key_file.as_deref(),
            )?));
            let mut s = settings(&cli.database);
            s.max_connections = db_connections;
            s.sqlite_sync = match sqlite_sync {
                SyncLevel::Full => SqliteSync::Full,
                SyncLevel::Normal => SqliteSync::Normal,
            };
            let db = renkei_service::connect(&s)
                .await
                .map_err(startup::StartupError::Database)?;
            migrate(&db)
                .await
                .map_err(startup::StartupError::Database)?;
            let mut services = startup::start_on(db, &pathways)
                .await?
                .with_security(security)
                .with_smtp(smtp_settings(&config.smtp, listen))
                .with_read_after_end_days(config.care_team.read_after_end_days);
            if let Some(url) = read_database_url {
                services =
                    services.with_read_db(read_replica(&cli.database, &url, db_connections).await?);
            }
            if !demo && renkei_service::demo::accounts_exist(&services.db).await? {
                tracing::warn!(
                    "DEMO ACCOUNTS EXIST in this database (sato, tanaka, … with the published demo \
                     password) but --demo is not given: their API tokens are refused, their \
                     logins are not. Never keep the demo region in a database with real patients; \
                     disable or remove those accounts."
                );
            }
            if demo {
                let report = renkei_service::demo::load(&services)
                    .await
                    .map_err(service_error)?;
                println!("{}", report.instructions(&listen.to_string()));
            }
            // The audit log's sequencer: numbers new events, extends the regions' trees
            // and signs their checkpoints.
            let sequencer = services.spawn_sequencer();
            // Automatic variances: goals missed at their due time, stages past their limit.
            // The first sweep runs one period after start-up, not during it.
            let sweeper = services.clone();
            let sweeps = tokio::spawn(async move {
                let period = std::time::Duration::from_secs(sweep_period_secs);
                let mut every =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                loop {
                    every.tick().await;
                    let started = std::time::Instant::now();
                    let swept = sweeper.sweep_automatic_variances().await;
                    metrics::histogram!("renkei_sweep_duration_seconds")
                        .record(started.elapsed().as_secs_f64());
                    match swept {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(variances = n, "automatic variances recorded"),
                        Err(e) => tracing::warn!(error = %e, "automatic variance sweep failed"),
                    }
                }
            });
            // The worklist's index: plans changed, or whose items time has moved on, since
            // their items were computed are recomputed in the background (a worklist
            // request also brings its own organisation's plans up to date).
            let refresher = services.clone();
            let refreshes = tokio::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    loop {
                        match refresher.refresh_stale_work(200).await {
                            Ok(0) => break,
                            Ok(_) => tokio::task::yield_now().await,
                            Err(e) => {
                                tracing::warn!(error = %e, "worklist index refresh failed");
                                break;
                            }
                        }
                    }
                    // The council's report facts of plans changed since they were computed.
                    loop {
                        match refresher.refresh_stale_report_facts(200).await {
                            Ok(0) => break,
                            Ok(_) => tokio::task::yield_now().await,
                            Err(e) => {
                                tracing::warn!(error = %e, "report facts refresh failed");
                                break;
                            }
                        }
                    }
                }
            });
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            tracing::info!(listen = %listen, "serving");
            renkei_service::ops::expect_migrations(migration_names());
            let router = renkei_http::router(renkei_http::AppState {
                services: services.clone(),
            });
            let options = renkei_http::ServeOptions {
                header_read_timeout: std::time::Duration::from_secs(header_read_timeout_secs),
                max_connections_per_address,
            };
            // SIGTERM: stop accepting, let every accepted request finish (its write
            // committed or refused), then stop the background work, sequence what the
            // last writes left pending and close the database.
            renkei_http::serve(router, listener, options, shutdown_signal()).await?;
            tracing::info!("in-flight requests finished");
            sweeps.abort();
            refreshes.abort();
            sequencer.abort();
            let _ = sequencer.await;
            match services.sequence_all_audit().await {
                Ok(n) => tracing::info!(events = n, "audit log sequenced"),
                Err(e) => tracing::warn!(error = %e, "audit sequencing at shutdown failed"),
            }
            if let Err(e) = services.db.clone().close().await {
                tracing::warn!(error = %e, "closing the database failed");
            }
            tracing::info!("shutdown complete");
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { layout } => {
            let db = renkei_service::connect(&settings(&cli.database)).await?;
            migrate_to(&db, layout).await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Pathways { command } => match command {
            PathwaysCommand::Schema => {
                let schema = renkei_domain::template::json_schema();
                println!("{}", serde_json::to_string_pretty(&schema)?);
                Ok(ExitCode::SUCCESS)
            }
            PathwaysCommand::Check { dir, against } => {
                let loaded = match pathways::load_dir(&dir) {
                    Ok(l) => l,
                    Err(errors) => {
                        for e in &errors {
                            println!("{e}");
                        }
                        eprintln!("{} error(s)", errors.len());
                        return Ok(ExitCode::FAILURE);
                    }
                };
                if let Some(url) = against {
                    let db = renkei_service::connect(&settings(&url)).await?;
                    if let Err(errors) = pathways::check_against(&db, &loaded).await {
                        for e in &errors {
                            println!("{e}");
                        }
                        eprintln!("{} error(s)", errors.len());
                        return Ok(ExitCode::FAILURE);
                    }
                }
                for l in &loaded {
                    println!(
                        "ok {} v{} {} ({})",
                        l.template.code,
                        l.template.version,
                        l.template.content_hash(),
                        l.path.display()
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Org { command } => admin::org(&cli.database, command).await,
        Command::User { command } => admin::user(&cli.database, command).await,
        Command::Patient { command } => patient::patient(&cli.database, command).await,
        Command::Token { command } => match command {
            TokenCommand::Issue {
                login,
                label,
                expires_in_days,
            } => {
                let services = admin_services(&cli.database).await?;
                let expires = expires_in_days.map(|d| services.now() + chrono::Duration::days(d));
                let token = renkei_service::admin::issue_token(&services, &login, &label, expires)
                    .await
                    .map_err(service_error)?;
                println!("{token}");
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Import { command } => import::run(command, &cli.database).await,
        Command::Verify { checkpoint } => {
            let witness = match &checkpoint {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    renkei_service::sequencer::parse_checkpoints(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                }
                None => Vec::new(),
            };
            let services = audit_services(&cli.database, cli.audit_key_file.as_deref()).await?;
            services.sequence_all_audit().await.map_err(service_error)?;
            let public = services
                .security
                .audit_key
                .as_ref()
                .map(|k| k.verifying_key());
            let trust = renkei_service::audit::AuditTrust {
                public_key: public.as_ref(),
                witness: &witness,
            };
            let report = renkei_service::verify::verify_with(&services.db, &trust)
                .await
                .map_err(service_error)?;
            for p in &report.problems {
                println!("BROKEN {p}");
            }
            println!(
                "checked {} pathway versions, {} care plans, {} entries, {} audit events ({} not yet sequenced), {} audit checkpoints, {} witness checkpoints, {} rows against the audit log: {}",
                report.pathway_versions,
                report.care_plans,
                report.entries,
                report.audit_events,
                report.audit_pending,
                report.audit_checkpoints,
                report.witness_checkpoints,
                report.evidenced_rows,
                if report.problems.is_empty() {
                    "all chains intact".to_owned()
                } else {
                    format!("{} problem(s)", report.problems.len())
                }
            );
            Ok(if report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Audit { command } => match command {
            AuditCommand::Key => {
                let key = audit_key(&cli.database, cli.audit_key_file.as_deref())?;
                println!("{}", key.public_hex());
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Checkpoint { region } => {
                let services = audit_services(&cli.database, cli.audit_key_file.as_deref()).await?;
                services.sequence_all_audit().await.map_err(service_error)?;
                let latest = renkei_service::sequencer::latest_checkpoints(&services)
                    .await
                    .map_err(service_error)?;
                let mut printed = 0;
                for k in latest
                    .iter()
                    .filter(|k| region.as_ref().is_none_or(|r| r == &k.region))
                {
                    if printed > 0 {
                        println!();
                    }
                    print!("{}", renkei_service::sequencer::checkpoint_text(k));
                    printed += 1;
                }
                if printed == 0 {
                    eprintln!("no checkpoint yet");
                    return Ok(ExitCode::FAILURE);
                }
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Backup { file, dir, keep } => match (file, ops::backup_target(dir, keep, &config))
        {
            (Some(file), _) => backup_or_restore(&cli.database, file, false).await,
            (None, Some((dir, keep))) => ops::backup_generation(&cli.database, &dir, keep).await,
            (None, None) => {
                bail!("name a backup FILE, or a directory with --dir (or [backup] dir)")
            }
        },
        Command::Restore { file, check } => match (file, check) {
            (_, Some(target)) => ops::restore_check(&target).await,
            (Some(file), None) => backup_or_restore(&cli.database, file, true).await,
            (None, None) => bail!("name a backup FILE, or --check FILE|DIR"),
        },
        Command::Export { command } => match command {
            ExportCommand::ClosedPlans {
                before_years,
                out,
                as_of,
            } => {
                let years = before_years.or(config.retention.years).unwrap_or(5);
                ops::export_closed_plans(&cli.database, years, as_of, &out).await
            }
        },
        Command::Config { .. } => Ok(ExitCode::SUCCESS),
    }
}

/// The security settings of `serve` from its flags and environment.
fn security(
    demo: bool,
    trusted_proxies: &[String],
    secret_key_file: Option<&std::path::Path>,
) -> anyhow::Result<renkei_service::Security> {
    use renkei_service::auth::secret_key::SecretKey;
    let trusted_proxies =
        renkei_service::Security::parse_trusted_proxies(&trusted_proxies.join(","))
            .map_err(|e| anyhow::anyhow!("--trusted-proxy: {e}"))?;
    let secret_key = match (secret_key_file, std::env::var("RENKEI_SECRET_KEY").ok()) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the secret key file {}", path.display()))?;
            Some(SecretKey::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?)
        }
        (None, Some(text)) => {
            Some(SecretKey::parse(&text).map_err(|e| anyhow::anyhow!("RENKEI_SECRET_KEY: {e}"))?)
        }
        (None, None) if demo => {
            tracing::warn!(
                "--demo without a secret key: TOTP secrets are sealed with the public development key"
            );
            Some(SecretKey::development())
        }
        (None, None) => {
            tracing::warn!(
                "no secret key (RENKEI_SECRET_KEY or --secret-key-file): two-factor enrolment is refused"
            );
            None
        }
    };
    Ok(renkei_service::Security {
        demo,
        trusted_proxies,
        secret_key,
        audit_key: None,
    })
}

/// The audit signing key: `--audit-key-file`, else the default file for the database.
fn audit_key(
    url: &str,
    file: Option<&std::path::Path>,
) -> anyhow::Result<renkei_service::sequencer::AuditKey> {
    let path = file.map_or_else(
        || renkei_service::sequencer::default_key_file(url),
        std::path::Path::to_path_buf,
    );
    renkei_service::sequencer::AuditKey::load_or_create(&path).map_err(|e| anyhow::anyhow!(e))
}

/// The services `verify` and `audit checkpoint` run on: the migrated database and the
/// audit key, to sequence pending events and check signatures.
async fn audit_services(
    url: &str,
    key_file: Option<&std::path::Path>,
) -> anyhow::Result<renkei_service::Services> {
    let key = audit_key(url, key_file)?;
    let services = admin_services(url).await?;
    Ok(services.with_security(renkei_service::Security {
        audit_key: Some(std::sync::Arc::new(key)),
        ..Default::default()
    }))
}

async fn backup_or_restore(url: &str, file: PathBuf, restore: bool) -> anyhow::Result<ExitCode> {
    use renkei_service::backup;
    let result = if restore {
        let at = renkei_service::Clock::default().now();
        backup::restore(url, &file, at).await.map(|(report, kept)| {
            if let Some(kept) = kept {
                println!("previous database kept as {}", kept.display());
            }
            report
        })
    } else if url.starts_with("postgres") {
        Err(backup::BackupError::Refused(backup::POSTGRES_ADVICE.into()))
    } else {
        let db = renkei_service::connect(&settings(url)).await?;
        backup::backup(&db, url, &file).await
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!(
        "{} {} ({} bytes): integrity {}, {} care plans, {} entries, {}",
        if restore {
            "restored"
        } else {
            "backup written to"
        },
        report.path.display(),
        report.bytes,
        report.integrity,
        report.verify.care_plans,
        report.verify.entries,
        if report.verify.problems.is_empty() {
            "all chains intact".to_owned()
        } else {
            format!("{} broken chain(s)", report.verify.problems.len())
        }
    );
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Brings the schema up to date: every migration not yet applied, in order, then the
/// PostgreSQL layout `RENKEI_PG_LAYOUT` names (plain when unset).
async fn migrate(db: &renkei_service::DatabaseConnection) -> Result<(), renkei_migration::DbErr> {
    let layout =
        renkei_migration::layout::Layout::from_env().map_err(renkei_migration::DbErr::Custom)?;
    migrate_to(db, layout).await
}

async fn migrate_to(
    db: &renkei_service::DatabaseConnection,
    layout: renkei_migration::layout::Layout,
) -> Result<(), renkei_migration::DbErr> {
    use renkei_migration::MigratorTrait;
    renkei_migration::Migrator::up(db, None).await?;
    renkei_migration::layout::apply(db, layout).await
}

/// The names of every migration this program applies.
fn migration_names() -> Vec<String> {
    use renkei_migration::MigratorTrait;
    renkei_migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

/// The services the administration commands run on: the migrated database, no
/// pathway templates (they publish none and read none).
async fn admin_services(url: &str) -> anyhow::Result<renkei_service::Services> {
    let db = renkei_service::connect(&settings(url)).await?;
    migrate(&db).await?;
    Ok(renkei_service::Services::new(
        db,
        renkei_service::PathwayRegistry::default(),
    ))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
