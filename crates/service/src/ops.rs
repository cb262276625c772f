//! What `/readyz` and `/metrics` ask of the services: the readiness checks (database
//! reachable, migrations current, pathway templates loaded, write queue not saturated),
//! the connection pool's use and the write queue's depth.

use std::sync::OnceLock;

use renkei_store::ops as store;

use crate::Services;

pub use renkei_store::ops::PoolStats;

/// Writers waiting in the write queue beyond which the server reports not ready (new
/// writes would wait most of the busy timeout and then be refused).
pub const QUEUE_SATURATED: usize = 256;

static EXPECTED_MIGRATIONS: OnceLock<Vec<String>> = OnceLock::new();

/// The migrations this program knows (set once by `renkei serve`): readiness requires
/// the database to record exactly these as applied.
pub fn expect_migrations(names: Vec<String>) {
    let _ = EXPECTED_MIGRATIONS.set(names);
}

/// One readiness check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `database`, `migrations`, `pathways` or `write_queue`.
    pub name: &'static str,
    pub ok: bool,
    /// Why it failed (no patient data, no secrets).
    pub detail: String,
}

fn check(name: &'static str, result: Result<(), String>) -> Check {
    match result {
        Ok(()) => Check {
            name,
            ok: true,
            detail: String::new(),
        },
        Err(detail) => Check {
            name,
            ok: false,
            detail,
        },
    }
}

/// Writers waiting in this process's write queue now (0 on PostgreSQL).
pub fn write_queue_depth() -> usize {
    store::write_queue_depth()
}

impl Services {
    /// The connection pool of the primary database.
    pub fn pool_stats(&self) -> PoolStats {
        store::pool_stats(&self.db)
    }

    /// Every readiness check, in order; ready when all pass.
    pub async fn readiness(&self) -> Vec<Check> {
        let database = self.db.ping().await.map_err(|e| e.to_string());
        let reachable = database.is_ok();
        let mut checks = vec![check("database", database)];
        let migrations = if !reachable {
            Err("the database does not answer".to_owned())
        } else {
            match EXPECTED_MIGRATIONS.get() {
                None => Ok(()),
                Some(expected) => match store::applied_migrations(&self.db).await {
                    Err(e) => Err(e.to_string()),
                    Ok(applied) => {
                        let missing: Vec<&String> =
                            expected.iter().filter(|m| !applied.contains(m)).collect();
                        let unknown: Vec<&String> =
                            applied.iter().filter(|m| !expected.contains(m)).collect();
                        if !missing.is_empty() {
                            Err(format!(
                                "{} migration(s) not applied: {}",
                                missing.len(),
                                missing
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        } else if !unknown.is_empty() {
                            Err(format!(
                                "the database has {} migration(s) this program does not know \
                                 (a newer version migrated it): {}",
                                unknown.len(),
                                unknown
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        } else {
                            Ok(())
                        }
                    }
                },
            }
        };
        checks.push(check("migrations", migrations));
        let templates = self.pathways.all().count();
        checks.push(check(
            "pathways",
            if templates > 0 {
                Ok(())
            } else {
                Err("no pathway template is loaded".to_owned())
            },
        ));
        let depth = write_queue_depth();
        checks.push(check(
            "write_queue",
            if depth < QUEUE_SATURATED {
                Ok(())
            } else {
                Err(format!(
                    "{depth} writers waiting (saturated at {QUEUE_SATURATED})"
                ))
            },
        ));
        checks
    }
}
