//! The configuration: one TOML file (`--config FILE` or `RENKEI_CONFIG`) and
//! `RENKEI_SECTION__KEY` environment variables (two underscores between the section and
//! the key: `RENKEI_DATABASE__URL`, `RENKEI_SMTP__HOST`). The variables override the
//! file; the command-line flags and their older single-name variables (`--listen`,
//! `RENKEI_LISTEN`, `RENKEI_DATABASE_URL`, …) override both.
//!
//! Everything is checked before anything starts: an unknown section or key, a value of
//! the wrong type or out of range stops the program with a message naming the key (and
//! the variable, when it came from one). Secrets (the database passwords, the SMTP
//! password) are never printed, not even in an error about them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The whole configuration. Every key is optional; what is missing takes the flag's
/// default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub database: Database,
    pub pathways: Pathways,
    pub audit: Audit,
    pub backup: Backup,
    pub smtp: Smtp,
    pub retention: Retention,
    pub care_team: CareTeam,
    pub log: Log,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Address of the web UI and the API (`--listen`).
    pub listen: Option<SocketAddr>,
    /// Reverse proxies whose X-Forwarded-For names the client (`--trusted-proxy`).
    pub trusted_proxies: Option<Vec<String>>,
    /// File of the key that encrypts TOTP secrets (`--secret-key-file`).
    pub secret_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://FILE` or `postgres://…` (`--database`). Secret: may hold a password.
    pub url: Option<String>,
    /// PostgreSQL streaming replica for reports (`--read-database-url`). Secret.
    pub read_url: Option<String>,
    /// Connections in the pool (`--db-connections`).
    pub connections: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Pathways {
    /// Directory of the pathway templates (`--pathways`).
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// The audit log's signing key (`--audit-key-file`).
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Backup {
    /// Directory of the backup generations (`backup --dir`).
    pub dir: Option<PathBuf>,
    /// Generations kept (`backup --keep`), at least 1.
    pub keep: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub from: Option<String>,
    pub username: Option<String>,
    /// Secret.
    pub password: Option<String>,
    /// The web UI's address as users reach it; the links in notification e-mails start
    /// with it (default: `http://` and the listen address).
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Years after a closed plan's last entry before `export closed-plans` offers it for
    /// archiving (default 5: 医師法第24条, 診療録の保存期間).
    pub years: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CareTeam {
    /// Days an organisation keeps read access after its part of the plan ends.
    pub read_after_end_days: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// `json` (one JSON object per line, the default) or `text`.
    pub format: Option<LogFormat>,
    /// A tracing filter (`RENKEI_LOG` overrides), e.g. `info,sqlx=warn`.
    pub level: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

/// Keys whose values are secrets: never printed.
const SECRET_KEYS: &[&str] = &["database.url", "database.read_url", "smtp.password"];

/// Keys whose environment value is a whole number.
const NUMBER_KEYS: &[&str] = &[
    "database.connections",
    "backup.keep",
    "smtp.port",
    "retention.years",
    "care_team.read_after_end_days",
];

/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: &[&str] = &["server.trusted_proxies"];

/// The variable that names the configuration file.
pub const FILE_VAR: &str = "RENKEI_CONFIG";

/// Where the configuration came from, for `config check`.
#[derive(Debug, Default)]
pub struct Loaded {
    pub config: Config,
    pub file: Option<PathBuf>,
    /// The `RENKEI_…__…` variables read.
    pub variables: Vec<String>,
}

/// Reads `file` (if any) and the `RENKEI_…__…` variables of `env`, and checks them.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> anyhow::Result<Loaded> {
    let mut table = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the configuration file {}", path.display())
            })?;
            parse_file(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => toml::Table::new(),
    };
    let origin = |key: &str, from_env: &[(String, String)]| -> String {
        match from_env.iter().find(|(_, k)| k == key) {
            Some((var, _)) => format!("{var} ({key})"),
            None => match file {
                Some(path) => format!("{}: {key}", path.display()),
                None => key.to_owned(),
            },
        }
    };
    // (variable, key) pairs, in a stable order.
    let mut from_env: Vec<(String, String)> = Vec::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("RENKEI_") && k.contains("__"))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let rest = &var["RENKEI_".len()..];
        let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if parts.len() != 2 || parts.iter().any(String::is_empty) {
            bail!("{var}: a configuration variable is RENKEI_SECTION__KEY (one section, one key)");
        }
        let key = parts.join(".");
        let value = env_value(&var, &key, &raw)?;
        let section = table
            .entry(parts[0].clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match section {
            toml::Value::Table(t) => {
                t.insert(parts[1].clone(), value);
            }
            _ => bail!("{var}: {} is not a section", parts[0]),
        }
        from_env.push((var, key));
    }
    let config: Config = match serde_path_to_error::deserialize(toml::Value::Table(table)) {
        Ok(c) => c,
        Err(e) => {
            let key = e.path().to_string();
            let message = if SECRET_KEYS.contains(&key.as_str()) {
                "invalid value (not shown: it is a secret)".to_owned()
            } else {
                e.inner().to_string()
            };
            bail!("configuration: {}: {message}", origin(&key, &from_env));
        }
    };
    if let Err((key, message)) = validate(&config) {
        bail!("configuration: {}: {message}", origin(&key, &from_env));
    }
    Ok(Loaded {
        config,
        file: file.map(Path::to_path_buf),
        variables: from_env.into_iter().map(|(v, _)| v).collect(),
    })
}

/// Parses the file's TOML; the error names the line and column but never quotes the
/// line (it may hold a secret).
fn parse_file(text: &str) -> Result<toml::Table, String> {
    text.parse::<toml::Table>().map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line}, column {column}: ")
            })
            .unwrap_or_default();
        format!("{at}{}", e.message().trim())
    })
}

fn env_value(var: &str, key: &str, raw: &str) -> anyhow::Result<toml::Value> {
    if NUMBER_KEYS.contains(&key) {
        let n: i64 = raw
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{var} ({key}): expected a whole number"))?;
        return Ok(toml::Value::Integer(n));
    }
    if LIST_KEYS.contains(&key) {
        return Ok(toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ));
    }
    if key == "log.format" {
        return Ok(toml::Value::String(raw.trim().to_ascii_lowercase()));
    }
    Ok(toml::Value::String(raw.to_owned()))
}

/// Range and form checks serde cannot make; Err names the key.
fn validate(c: &Config) -> Result<(), (String, String)> {
    let err = |k: &str, m: &str| Err((k.to_owned(), m.to_owned()));
    if let Some(url) = &c.database.url
        && !is_sqlite(url)
        && !is_postgres(url)
    {
        return err(
            "database.url",
            "must start with sqlite:// or postgres:// (the value is not shown: it may hold a password)",
        );
    }
    if let Some(url) = &c.database.read_url
        && !is_postgres(url)
    {
        return err(
            "database.read_url",
            "must be a postgres:// URL of a streaming replica (the value is not shown)",
        );
    }
    if c.database.connections == Some(0) {
        return err("database.connections", "must be at least 1");
    }
    if c.backup.keep == Some(0) {
        return err("backup.keep", "must be at least 1 generation");
    }
    if c.retention.years.is_some_and(|y| !(1..=100).contains(&y)) {
        return err("retention.years", "must be between 1 and 100");
    }
    if c.smtp.port == Some(0) {
        return err("smtp.port", "must be a port number (1–65535)");
    }
    let smtp_used = c.smtp.host.is_some()
        || c.smtp.from.is_some()
        || c.smtp.username.is_some()
        || c.smtp.password.is_some();
    if smtp_used && c.smtp.host.as_deref().is_none_or(str::is_empty) {
        return err("smtp.host", "is required when any smtp key is set");
    }
    if smtp_used && c.smtp.from.as_deref().is_none_or(|f| !f.contains('@')) {
        return err("smtp.from", "must be an e-mail address when smtp is set");
    }
    if c.smtp.password.is_some() && c.smtp.username.is_none() {
        return err("smtp.username", "is required with smtp.password");
    }
    if c.care_team.read_after_end_days.is_some_and(|d| d > 3650) {
        return err("care_team.read_after_end_days", "must be at most 3650");
    }
    for (i, p) in c.server.trusted_proxies.iter().flatten().enumerate() {
        if renkei_service::Security::parse_trusted_proxies(p).is_err() {
            return Err((
                "server.trusted_proxies".to_owned(),
                format!("entry {} is not an address or network", i + 1),
            ));
        }
    }
    Ok(())
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with its password (if any) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        // A password can also travel in the query (`?password=`): hide the query.
        return match url.split_once('?') {
            Some((base, q)) if q.contains("password") => format!("{base}?***"),
            _ => url.to_owned(),
        };
    };
    let user = userinfo.split(':').next().unwrap_or("");
    let tail = match tail.split_once('?') {
        Some((path, q)) if q.contains("password") => format!("{path}?***"),
        _ => tail.to_owned(),
    };
    format!("{scheme}://{user}:***@{host}{tail}")
}

impl Config {
    /// A copy with every secret replaced, for printing.
    pub fn redacted(&self) -> Config {
        let mut c = self.clone();
        c.database.url = c.database.url.as_deref().map(redact_url);
        c.database.read_url = c.database.read_url.as_deref().map(redact_url);
        if c.smtp.password.is_some() {
            c.smtp.password = Some("***".to_owned());
        }
        c
    }

    /// The configuration as TOML, secrets replaced.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string(&self.redacted()).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

/// The names of every key, `section.key`.
#[cfg(test)]
pub fn keys() -> std::collections::BTreeSet<String> {
    let full = Config {
        server: Server {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 1))),
            trusted_proxies: Some(vec![]),
            secret_key_file: Some(PathBuf::new()),
        },
        database: Database {
            url: Some(String::new()),
            read_url: Some(String::new()),
            connections: Some(1),
        },
        pathways: Pathways {
            dir: Some(PathBuf::new()),
        },
        audit: Audit {
            key_file: Some(PathBuf::new()),
        },
        backup: Backup {
            dir: Some(PathBuf::new()),
            keep: Some(1),
        },
        smtp: Smtp {
            host: Some(String::new()),
            port: Some(1),
            from: Some(String::new()),
            username: Some(String::new()),
            password: Some(String::new()),
            base_url: Some(String::new()),
        },
        retention: Retention { years: Some(1) },
        care_team: CareTeam {
            read_after_end_days: Some(1),
        },
        log: Log {
            format: Some(LogFormat::Json),
            level: Some(String::new()),
        },
    };
    let value = toml::Value::try_from(&full).unwrap_or(toml::Value::Table(toml::Table::new()));
    let mut keys = std::collections::BTreeSet::new();
    if let toml::Value::Table(sections) = value {
        for (section, v) in sections {
            if let toml::Value::Table(t) = v {
                for k in t.keys() {
                    keys.insert(format!("{section}.{k}"));
                }
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn file(text: &str) -> tempfile_path::Temp {
        tempfile_path::Temp::new(text)
    }

    mod tempfile_path {
        pub struct Temp(pub std::path::PathBuf);
        impl Temp {
            pub fn new(text: &str) -> Temp {
                let p = std::env::temp_dir().join(format!(
                    "renkei-config-{}.toml",
                    uuid::Uuid::new_v4().simple()
                ));
                std::fs::write(&p, text).expect("write config");
                Temp(p)
            }
        }
        impl Drop for Temp {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn environment_overrides_the_file_and_nests_with_double_underscores() {
        let f = file("[server]\nlisten = \"127.0.0.1:9000\"\n[backup]\nkeep = 3\n");
        let loaded = load(
            Some(&f.0),
            env(&[
                ("RENKEI_BACKUP__KEEP", "7"),
                ("RENKEI_SMTP__HOST", "mail.example.jp"),
                ("RENKEI_SMTP__FROM", "renkei@example.jp"),
                ("RENKEI_LISTEN", "ignored: no double underscore"),
            ]),
        )
        .expect("valid");
        assert_eq!(loaded.config.backup.keep, Some(7));
        assert_eq!(
            loaded.config.server.listen,
            Some("127.0.0.1:9000".parse().expect("addr"))
        );
        assert_eq!(loaded.config.smtp.host.as_deref(), Some("mail.example.jp"));
        assert_eq!(loaded.variables.len(), 3);
    }

    #[test]
    fn unknown_keys_are_refused_naming_them() {
        let f = file("[server]\nlisten = \"127.0.0.1:9000\"\nlisen = 1\n");
        let e = load(Some(&f.0), env(&[]))
            .expect_err("unknown key")
            .to_string();
        assert!(e.contains("server.lisen"), "{e}");
        let e = load(None, env(&[("RENKEI_BACKUP__KEPE", "3")]))
            .expect_err("unknown variable")
            .to_string();
        assert!(e.contains("RENKEI_BACKUP__KEPE"), "{e}");
        let f = file("[nosuch]\nx = 1\n");
        let e = load(Some(&f.0), env(&[]))
            .expect_err("unknown section")
            .to_string();
        assert!(e.contains("nosuch"), "{e}");
    }

    #[test]
    fn wrong_values_name_the_key_and_never_show_a_secret() {
        let f = file("[database]\nurl = 12345678\n");
        let e = load(Some(&f.0), env(&[])).expect_err("bad url").to_string();
        assert!(e.contains("database.url"), "{e}");
        assert!(!e.contains("12345678"), "{e}");
        let e = load(
            None,
            env(&[("RENKEI_DATABASE__URL", "mysql://u:hunter2@h/db")]),
        )
        .expect_err("bad scheme")
        .to_string();
        assert!(e.contains("RENKEI_DATABASE__URL"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let f = file("[smtp]\npassword = \"hunter2\nhost = 1\n");
        let e = load(Some(&f.0), env(&[])).expect_err("syntax").to_string();
        assert!(e.contains("line"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = load(None, env(&[("RENKEI_BACKUP__KEEP", "0")]))
            .expect_err("keep 0")
            .to_string();
        assert!(e.contains("backup.keep"), "{e}");
    }

    #[test]
    fn redaction_hides_passwords() {
        assert_eq!(
            redact_url("postgres://renkei:pw@127.0.0.1:5432/db"),
            "postgres://renkei:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact_url("sqlite://renkei.db"), "sqlite://renkei.db");
        let c = Config {
            smtp: Smtp {
                password: Some("hunter2".into()),
                ..Default::default()
            },
            database: Database {
                url: Some("postgres://a:hunter2@h/db".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let shown = c.to_redacted_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    #[test]
    fn every_section_of_the_spec_exists() {
        let keys = keys();
        for k in [
            "server.listen",
            "database.url",
            "database.read_url",
            "pathways.dir",
            "audit.key_file",
            "backup.dir",
            "backup.keep",
            "smtp.host",
            "smtp.port",
            "smtp.from",
            "smtp.username",
            "smtp.password",
            "retention.years",
            "care_team.read_after_end_days",
        ] {
            assert!(keys.contains(k), "{k}");
        }
    }
}
