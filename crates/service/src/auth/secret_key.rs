//! Encryption at rest of TOTP secrets with a key kept outside the database
//! (`RENKEI_SECRET_KEY` or `--secret-key-file`): AES-256-GCM, a fresh 96-bit nonce per
//! value, the practitioner's id as associated data (a value copied onto another row
//! does not open). The stored form names the key it was sealed with:
//! `enc:v1:<base64url(nonce ‖ ciphertext)>` for the operator's key, `enc:dev:` for the
//! fixed development key of `serve --demo` and the tests. Anything without the `enc:`
//! prefix is a secret stored in plain text before encryption existed; it is read as it
//! is and sealed the next time it is used.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use uuid::Uuid;

const PREFIX: &str = "enc:";
const NONCE_BYTES: usize = 12;

/// A 256-bit key and the version name stored beside what it seals.
#[derive(Clone)]
pub struct SecretKey {
    key: [u8; 32],
    version: &'static str,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.version)
    }
}

/// Why a stored secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the secret was sealed with key `{0}`, not with the key this server has")]
    OtherKey(String),
    #[error("the secret is sealed and this server has no secret key")]
    NoKey,
    #[error("the sealed secret is damaged or was moved to another account")]
    Damaged,
}

impl SecretKey {
    /// The operator's key: 32 bytes as 64 hexadecimal digits or as base64.
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| STANDARD.decode(text).ok())
            .or_else(|| URL_SAFE_NO_PAD.decode(text).ok())
            .ok_or("the secret key must be 32 bytes as 64 hex digits or base64")?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!(
                "the secret key must be 32 bytes (256 bits), not {} bytes",
                b.len()
            )
        })?;
        Ok(SecretKey { key, version: "v1" })
    }

    /// The fixed, public development key (`serve --demo`, tests): it protects nothing
    /// and is named `dev` in what it seals, so a production key never mistakes it.
    pub fn development() -> SecretKey {
        SecretKey {
            key: *b"renkei development key, public!!",
            version: "dev",
        }
    }

    /// A new random key as 64 hex digits (what to put in the key file).
    pub fn generate_hex() -> String {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        hex::encode(key)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.key))
    }

    /// A value derived from the key for one purpose (`label`): the same on every call
    /// with the same key, and telling nothing about the key.
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"renkei-derive\0");
        h.update(label);
        h.update([0]);
        h.update(self.key);
        h.finalize().into()
    }

    /// Seals `plain` for practitioner `owner`.
    pub fn seal(&self, owner: Uuid, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = aad(owner);
        // Encryption with a valid key and nonce length cannot fail.
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", self.version, URL_SAFE_NO_PAD.encode(bytes))
    }

    fn open_sealed(&self, owner: Uuid, version: &str, body: &str) -> Result<String, OpenError> {
        if version != self.version {
            return Err(OpenError::OtherKey(version.to_owned()));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| OpenError::Damaged)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(OpenError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let aad = aad(owner);
        let plain = self
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError::Damaged)?;
        String::from_utf8(plain).map_err(|_| OpenError::Damaged)
    }
}

fn aad(owner: Uuid) -> Vec<u8> {
    format!("renkei/totp-secret/v1\n{owner}").into_bytes()
}

/// Whether a stored value is sealed (else it is a plain-text secret from before).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// Reads a stored secret of practitioner `owner`: opens a sealed one with `key`, passes
/// a plain-text one through.
pub fn open(key: Option<&SecretKey>, owner: Uuid, stored: &str) -> Result<String, OpenError> {
    let Some(rest) = stored.strip_prefix(PREFIX) else {
        return Ok(stored.to_owned());
    };
    let (version, body) = rest.split_once(':').ok_or(OpenError::Damaged)?;
    key.ok_or(OpenError::NoKey)?
        .open_sealed(owner, version, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_for_the_same_owner_only() {
        let key = SecretKey::parse(&"ab".repeat(32)).expect("hex key");
        let owner = Uuid::now_v7();
        let sealed = key.seal(owner, "JBSWY3DPEHPK3PXP");
        assert!(sealed.starts_with("enc:v1:"), "{sealed}");
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(sealed, key.seal(owner, "JBSWY3DPEHPK3PXP"), "fresh nonce");
        assert_eq!(
            open(Some(&key), owner, &sealed).as_deref(),
            Ok("JBSWY3DPEHPK3PXP")
        );
        assert_eq!(
            open(Some(&key), Uuid::now_v7(), &sealed),
            Err(OpenError::Damaged)
        );
        assert_eq!(open(None, owner, &sealed), Err(OpenError::NoKey));
        let other = SecretKey::parse(&"cd".repeat(32)).expect("key");
        assert_eq!(open(Some(&other), owner, &sealed), Err(OpenError::Damaged));
        let dev = SecretKey::development();
        assert_eq!(
            open(Some(&dev), owner, &sealed),
            Err(OpenError::OtherKey("v1".into()))
        );
        // Plain text from before encryption passes through.
        assert_eq!(open(None, owner, "ABC").as_deref(), Ok("ABC"));
    }

    #[test]
    fn keys_must_be_256_bits() {
        assert!(SecretKey::parse(&SecretKey::generate_hex()).is_ok());
        assert!(SecretKey::parse(&STANDARD.encode([7u8; 32])).is_ok());
        assert!(SecretKey::parse("abcd").is_err());
        assert!(SecretKey::parse("not a key at all").is_err());
        assert!(!format!("{:?}", SecretKey::development()).contains("public"));
    }
}
