//! Password hashing and the password rules (MHLW guideline 6.0 and its Q&A, S6):
//! argon2id at 19 MiB / t=2 / p=1, at least 13 characters mixing two character classes,
//! or at least 8 once two-factor is on; a blocklist of common choices; no forced
//! rotation.

use renkei_domain::Rule;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use renkei_domain::FieldError;

/// argon2id memory in KiB (19 MiB, OWASP's minimum for argon2id).
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// argon2id passes.
pub const ARGON2_PASSES: u32 = 2;
/// argon2id lanes.
pub const ARGON2_LANES: u32 = 1;

/// Minimum length without two-factor.
pub const MIN_LENGTH: usize = 13;
/// Minimum length once TOTP is enabled.
pub const MIN_LENGTH_WITH_TOTP: usize = 8;
/// Longest accepted password (hashing cost is bounded anyway; this bounds the body).
pub const MAX_LENGTH: usize = 256;

fn argon2() -> Argon2<'static> {
    let params =
        Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (argon2id, current parameters, random salt).
pub fn hash(password: &str) -> Result<String, anyhow::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?
        .to_string())
}

/// Hashes with other argon2id cost parameters (memory in KiB, passes): for tests of the
/// upgrade of weaker hashes, and benchmarks.
pub fn hash_with_params(
    password: &str,
    memory_kib: u32,
    passes: u32,
) -> Result<String, anyhow::Error> {
    let params = Params::new(memory_kib, passes, ARGON2_LANES, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?
        .to_string())
}

/// What checking a password against a stored hash found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash uses weaker parameters (or another algorithm) than today's: rehash
    /// after a successful login.
    pub needs_rehash: bool,
}

/// Verifies `password` against a PHC string, with the parameters recorded in the string.
/// A string that does not parse never verifies.
pub fn verify(stored: &str, password: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified {
            ok: false,
            needs_rehash: false,
        };
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    Verified {
        ok,
        needs_rehash: ok && is_weaker(&parsed),
    }
}

fn is_weaker(parsed: &PasswordHash<'_>) -> bool {
    if parsed.algorithm.as_str() != "argon2id" {
        return true;
    }
    if parsed.version.is_some_and(|v| v != 0x13) {
        return true;
    }
    match Params::try_from(parsed) {
        Ok(p) => p.m_cost() < ARGON2_MEMORY_KIB || p.t_cost() < ARGON2_PASSES,
        Err(_) => true,
    }
}

/// Spends the same work as a real verification, for logins that have no hash to check
/// (unknown login, no password set), so response times do not tell them apart.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("renkei dummy password for timing").unwrap_or_default());
    let _ = verify(stored, password);
}

fn classes(password: &str) -> usize {
    [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count()
}

fn blocklist() -> &'static [&'static str] {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("common_passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether `password` is a common choice: on the list as typed (case-insensitive), or
/// once trailing digits and symbols are removed ("Password2026!" is "password").
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let stem = lower.trim_end_matches(|c: char| !c.is_alphabetic());
    let list = blocklist();
    list.contains(&lower.as_str()) || (!stem.is_empty() && list.contains(&stem))
}

/// Everything wrong with a new password, as field errors on `field`.
pub fn problems(password: &str, login: &str, two_factor: bool, field: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let len = password.chars().count();
    let min = if two_factor {
        MIN_LENGTH_WITH_TOTP
    } else {
        MIN_LENGTH
    };
    if len < min {
        errors.push(FieldError::new(
            field,
            Rule::TooShort,
            if two_factor {
                format!("パスワードは{min}文字以上にしてください")
            } else {
                format!(
                    "パスワードは{min}文字以上にしてください(二要素認証を有効にすると{MIN_LENGTH_WITH_TOTP}文字以上で構いません)"
                )
            },
        ));
    }
    if len > MAX_LENGTH {
        errors.push(FieldError::new(
            field,
            Rule::TooLong,
            format!("パスワードは{MAX_LENGTH}文字以内にしてください"),
        ));
    }
    if classes(password) < 2 {
        errors.push(FieldError::new(
            field,
            Rule::Classes,
            "英小文字・英大文字・数字・記号のうち2種類以上を組み合わせてください",
        ));
    }
    if is_common(password) {
        errors.push(FieldError::new(
            field,
            Rule::Common,
            "よく使われていて推測されやすいパスワードです。別のものにしてください",
        ));
    }
    let login = login.to_lowercase();
    if login.chars().count() >= 3 && password.to_lowercase().contains(&login) {
        errors.push(FieldError::new(
            field,
            Rule::ContainsLogin,
            "ログインIDを含むパスワードは使えません",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(p: &str, totp: bool) -> Vec<&'static str> {
        problems(p, "sato", totp, "new_password")
            .into_iter()
            .map(|e| e.code.as_str())
            .collect()
    }

    #[test]
    fn length_depends_on_two_factor() {
        assert!(rules("kx7-mqv2-trel", false).is_empty());
        assert_eq!(rules("kx7-mqv2", false), vec!["too_short"]);
        assert!(rules("kx7-mqv2", true).is_empty());
        assert_eq!(rules("kx7-mq", true), vec!["too_short"]);
    }

    #[test]
    fn classes_blocklist_and_login() {
        assert_eq!(rules("abcdefghijklmnop", false), vec!["classes"]);
        assert_eq!(rules("Password2026!!", false), vec!["common"]);
        assert_eq!(rules("1234567890123", false), vec!["classes", "common"]);
        assert_eq!(rules("sato-is-my-name-1", false), vec!["contains_login"]);
        assert!(is_common("QWERTY123"));
        assert!(!is_common("tsukimi-dango-42"));
    }

    #[test]
    fn hashes_verify_and_weak_ones_need_rehash() {
        let h = hash("correct horse 42").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let v = verify(&h, "correct horse 42");
        assert!(v.ok && !v.needs_rehash);
        assert!(!verify(&h, "wrong").ok);
        // A weaker argon2id (m=8 MiB, t=1) still verifies but asks for a rehash.
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).expect("params"),
        )
        .hash_password(b"correct horse 42", &SaltString::generate(&mut OsRng))
        .expect("weak hash")
        .to_string();
        assert_eq!(
            verify(&weak, "correct horse 42"),
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        // argon2i is another algorithm: rehash.
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(b"pw", &SaltString::generate(&mut OsRng))
            .expect("argon2i")
            .to_string();
        assert!(verify(&argon2i, "pw").needs_rehash);
        assert!(!verify("not a phc string", "pw").ok);
    }
}
