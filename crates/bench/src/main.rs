//! `renkei-bench`: generate datasets, run the crash harness, run the benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use renkei_bench::server::Renkei;

#[derive(Debug, Parser)]
#[command(
    name = "renkei-bench",
    about = "Renkei datasets, crash harness and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[expect(clippy::large_enum_variant, reason = "parsed once at start-up")]
enum Command {
    /// Run the benchmarks and write BENCHMARKS.md (see crates/bench/scripts/bench.sh).
    Run {
        #[arg(long, default_value = "target/release/renkei")]
        renkei_bin: PathBuf,
        #[arg(long, default_value = "target/release/renkei-bench")]
        bench_bin: PathBuf,
        #[arg(long, default_value = "pathways")]
        pathways: PathBuf,
        #[arg(long, default_value = "target/bench")]
        work_dir: PathBuf,
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: PathBuf,
        #[arg(long, default_value = "crates/bench/NOTES.md")]
        notes: PathBuf,
        /// PostgreSQL database for P2 and P8 (schemas are created and dropped in it).
        #[arg(long, env = "RENKEI_BENCH_PG_URL")]
        pg_url: Option<String>,
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Seconds per throughput run (P1–P3).
        #[arg(long, default_value_t = 10)]
        secs: u64,
        #[arg(long, default_value_t = 60)]
        p4_secs: u64,
        #[arg(long, default_value_t = 30)]
        read_secs: u64,
        #[arg(long, value_delimiter = ',', default_value = "region-1y/10,region-1y")]
        datasets: Vec<String>,
        #[arg(long, default_value = "0")]
        server_cpu: String,
        #[arg(long, default_value = "1")]
        load_cpu: String,
        #[arg(long, default_value = "oha")]
        oha: PathBuf,
        /// Only these sections (p1, p2, p4, p5, p7, fhir, reports); all when empty.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        #[arg(long, default_value_t = 100_000)]
        p9_requests: u64,
        /// Carry over the sections not run from this earlier report.
        #[arg(long)]
        previous: Option<PathBuf>,
        /// Reuse the datasets an earlier run generated in the work directory (P8 is
        /// then carried over from --previous).
        #[arg(long)]
        reuse_datasets: bool,
    },
    /// P1/P3 baseline: raw single-row durable inserts for SECONDS; prints the rate.
    RawInsert {
        #[arg(long)]
        database: String,
        #[arg(long, default_value = "full")]
        sync: String,
        #[arg(long, default_value_t = 4)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// P7: N in-process requests (append or goals) through the real router.
    Inproc {
        #[arg(long)]
        database: String,
        #[arg(long, default_value = "pathways")]
        pathways: PathBuf,
        #[arg(long)]
        op: String,
        #[arg(long)]
        n: usize,
    },
    /// Build a named dataset (region-1y/10, region-1y, region-5y) into a database.
    Generate {
        #[arg(long)]
        database: String,
        #[arg(long, default_value = "region-1y/10")]
        dataset: String,
        #[arg(long, default_value = "pathways")]
        pathways: PathBuf,
        /// Entries per transaction.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        #[arg(long, default_value_t = 20261122)]
        seed: u64,
        /// SQLite synchronous level while loading (full or normal).
        #[arg(long, default_value = "full")]
        sqlite_sync: String,
    },
    /// Kill -9 the real server under append load, restart, and check nothing was lost.
    Crash {
        /// Database URL (sqlite://FILE or postgres://…; the schema is created by migrate).
        #[arg(long)]
        database: String,
        #[arg(long, default_value = "target/release/renkei")]
        bin: PathBuf,
        #[arg(long, default_value = "pathways")]
        pathways: PathBuf,
        #[arg(long, env = "RENKEI_CRASH_ITERATIONS", default_value_t = 20)]
        iterations: usize,
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// PostgreSQL: URL allowed to terminate the server's backends (default: --database).
        #[arg(long)]
        pg_admin: Option<String>,
        #[arg(long, default_value = "target/renkei-crash")]
        work_dir: PathBuf,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run {
            renkei_bin,
            bench_bin,
            pathways,
            work_dir,
            out,
            notes,
            pg_url,
            reps,
            secs,
            p4_secs,
            read_secs,
            datasets,
            server_cpu,
            load_cpu,
            oha,
            only,
            p9_requests,
            previous,
            reuse_datasets,
        } => {
            renkei_bench::bench::run_all(renkei_bench::bench::BenchConfig {
                renkei_bin,
                bench_bin,
                pathways,
                work_dir,
                out,
                notes: Some(notes),
                pg_url,
                reps,
                secs,
                p4_secs,
                read_secs,
                datasets,
                server_cpu,
                load_cpu,
                oha,
                only,
                p9_requests,
                previous,
                reuse_datasets,
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::RawInsert {
            database,
            sync,
            connections,
            seconds,
        } => {
            let sync = if sync == "normal" {
                renkei_service::SqliteSync::Normal
            } else {
                renkei_service::SqliteSync::Full
            };
            let (rows, secs) = renkei_bench::raw::raw_insert(
                &database,
                sync,
                connections,
                std::time::Duration::from_secs(seconds),
            )
            .await?;
            println!(
                "RAW rows={rows} secs={secs:.3} rate={:.1}",
                rows as f64 / secs
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Inproc {
            database,
            pathways,
            op,
            n,
        } => {
            renkei_bench::inproc::run(&database, &pathways, &op, n).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            database,
            dataset,
            pathways,
            batch,
            seed,
            sqlite_sync,
        } => {
            let spec = renkei_bench::dataset::DatasetSpec::named(&dataset)
                .ok_or_else(|| anyhow::anyhow!("unknown dataset {dataset}"))?;
            let mut settings = renkei_service::DbSettings::new(&database);
            if sqlite_sync == "normal" {
                settings.sqlite_sync = renkei_service::SqliteSync::Normal;
            }
            // One connection: the page-cache setting below applies to every batch.
            settings.max_connections = 1;
            let services = renkei_testkit::start(&settings, &pathways, true).await?;
            // The loaded events are numbered and signed with the key `renkei serve` uses
            // for this database by default (or RENKEI_AUDIT_KEY_FILE).
            let key_file = std::env::var_os("RENKEI_AUDIT_KEY_FILE")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| renkei_service::sequencer::default_key_file(&database));
            let key = renkei_service::sequencer::AuditKey::load_or_create(&key_file)
                .map_err(|e| anyhow::anyhow!("audit key {}: {e}", key_file.display()))?;
            let mut security = (*services.security).clone();
            security.audit_key = Some(std::sync::Arc::new(key));
            let services = services.with_security(security);
            if settings.is_sqlite() {
                // Bulk loading keeps inserting into large, random-keyed index B-trees
                // (audit events by patient, practitioner, organisation): SQLite's default
                // 2 MB page cache thrashes once the file outgrows it. 512 MB here.
                use sea_orm::ConnectionTrait;
                services
                    .db
                    .execute_unprepared("PRAGMA cache_size = -524288")
                    .await?;
            }
            eprintln!(
                "generating {dataset}: {} stroke, {} femur-fracture, {} diabetes plans",
                spec.stroke, spec.femur, spec.diabetes
            );
            let r = renkei_bench::dataset::generate(&services, &spec, seed, batch, true).await?;
            println!(
                "{dataset}: {} organizations, {} practitioners, {} patients, {} care plans, {} audit events, {} entries in {} transactions; {:.1} s, {:.0} entries/s (writer busy {:.1} s; {} secondary indexes created after the load in {:.1} s, the audit events sequenced and signed in {:.1} s, both included)",
                r.organizations,
                r.practitioners,
                r.patients,
                r.care_plans,
                r.audit_events,
                r.entries,
                r.transactions,
                r.elapsed.as_secs_f64(),
                r.entries_per_s(),
                r.write_time.as_secs_f64(),
                r.indexes.len(),
                r.index_time.as_secs_f64(),
                r.sequence_time.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Crash {
            database,
            bin,
            pathways,
            iterations,
            clients,
            pg_admin,
            work_dir,
        } => {
            let is_pg = database.starts_with("postgres");
            let app = format!("renkei-crash-{}", std::process::id());
            let url = if is_pg {
                let sep = if database.contains('?') { '&' } else { '?' };
                format!("{database}{sep}application_name={app}")
            } else {
                database.clone()
            };
            let cfg = renkei_bench::crash::CrashConfig {
                renkei: Renkei {
                    bin,
                    database_url: url,
                    pathways,
                    serve_args: Vec::new(),
                    taskset: None,
                },
                iterations,
                clients,
                work_dir,
                sqlite_file: renkei_bench::backup_load::sqlite_file(&database),
                pg_admin_url: is_pg.then(|| pg_admin.unwrap_or(database.clone())),
                pg_application_name: is_pg.then_some(app),
                kill_after_ms: (300, 2500),
                kill_in_sequencer: false,
                seed: rand_seed(),
            };
            let report = renkei_bench::crash::run(&cfg).await?;
            println!("{}", report.summary());
            for p in &report.problems {
                println!("PROBLEM {p}");
            }
            Ok(if report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}
