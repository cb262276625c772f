//! The server's Ed25519 checkpoint key and the text form of checkpoints: what the
//! sequencer signs with, what `renkei verify` checks signatures with and what an external
//! witness stores.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use renkei_domain::merkle::Hash;
use renkei_store::audit::Checkpoint;
use sha2::{Digest, Sha256};

use crate::truncate_micros;

/// The server's Ed25519 checkpoint key.
pub struct AuditKey {
    signing: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The id a checkpoint names its key by: the first 16 hex digits of SHA-256 of the
/// public key.
pub fn key_id(public: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(public.as_bytes()))[..16].to_owned()
}

impl AuditKey {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(&seed);
        let key_id = key_id(&signing.verifying_key());
        AuditKey { signing, key_id }
    }

    /// A new random key.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        Self::from_seed(seed)
    }

    /// The key in `path` (64 hex digits), created with mode 0600 when the file does not
    /// exist. Two processes starting at once end up with the same key.
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text)
                .ok_or_else(|| format!("{} does not hold an audit key", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let text = format!("{}\n", hex::encode(key.signing.to_bytes()));
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                write_private(&tmp, &text)
                    .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
                // A hard link never replaces a file another process created meanwhile.
                let linked = std::fs::hard_link(&tmp, path);
                let _ = std::fs::remove_file(&tmp);
                match linked {
                    Ok(()) => Ok(key),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(format!("cannot create {}: {e}", path.display())),
                }
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(Self::from_seed(bytes.try_into().ok()?))
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key in hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.verifying_key().as_bytes())
    }

    /// A signed checkpoint of `region`'s tree.
    pub fn sign(&self, region: &str, size: u64, root: &Hash, at: DateTime<Utc>) -> Checkpoint {
        let at = truncate_micros(at);
        let root_hash = hex::encode(root);
        let message = checkpoint_message(region, size as i64, &root_hash, &at);
        Checkpoint {
            region: region.to_owned(),
            tree_size: size as i64,
            root_hash,
            at,
            key_id: self.key_id.clone(),
            signature: hex::encode(self.signing.sign(message.as_bytes()).to_bytes()),
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Where the key lives when no file is named: next to a SQLite database
/// (`<file>.audit-key`), else `renkei-audit.key` in the working directory.
pub fn default_key_file(database_url: &str) -> PathBuf {
    match database_url.strip_prefix("sqlite:") {
        Some(rest) => {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path);
            PathBuf::from(format!("{path}.audit-key"))
        }
        None => PathBuf::from("renkei-audit.key"),
    }
}

/// The bytes a checkpoint's signature covers.
pub fn checkpoint_message(region: &str, size: i64, root_hash: &str, at: &DateTime<Utc>) -> String {
    format!(
        "renkei-audit-checkpoint v1\nregion {region}\ntree_size {size}\nroot_hash {root_hash}\nat {}\n",
        at.to_rfc3339_opts(SecondsFormat::Micros, true)
    )
}

/// Whether `k` is signed by `public`.
pub fn signature_valid(public: &VerifyingKey, k: &Checkpoint) -> bool {
    let Some(sig) = hex::decode(&k.signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    let message = checkpoint_message(&k.region, k.tree_size, &k.root_hash, &k.at);
    k.key_id == key_id(public)
        && public
            .verify(message.as_bytes(), &Signature::from_bytes(&sig))
            .is_ok()
}

/// A checkpoint in the text form an external witness stores; [`parse_checkpoints`]
/// reads it back.
pub fn checkpoint_text(k: &Checkpoint) -> String {
    format!(
        "renkei-audit-checkpoint v1\nregion: {}\ntree_size: {}\nroot_hash: {}\nat: {}\nkey_id: {}\nsignature: {}\n",
        k.region,
        k.tree_size,
        k.root_hash,
        k.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        k.key_id,
        k.signature
    )
}

/// The checkpoints of a witness file: blocks of [`checkpoint_text`], blank lines between.
pub fn parse_checkpoints(text: &str) -> Result<Vec<Checkpoint>, String> {
    let mut out = Vec::new();
    for block in text.split("renkei-audit-checkpoint v1").skip(1) {
        let field = |name: &str| -> Result<String, String> {
            block
                .lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| format!("a checkpoint lacks its {name}"))
        };
        let tree_size = field("tree_size")?
            .parse()
            .map_err(|_| "a checkpoint's tree_size is not a number".to_owned())?;
        let at = DateTime::parse_from_rfc3339(&field("at")?)
            .map_err(|_| "a checkpoint's time is not RFC 3339".to_owned())?
            .with_timezone(&Utc);
        out.push(Checkpoint {
            region: field("region")?,
            tree_size,
            root_hash: field("root_hash")?,
            at,
            key_id: field("key_id")?,
            signature: field("signature")?,
        });
    }
    if out.is_empty() {
        return Err("no checkpoint found".into());
    }
    Ok(out)
}

// ------------------------------------------------------------------ sequencing
