//! Logins for people (issue 3 §6; quality S5, S6, P10): password login behind a
//! failed-login throttle and an account lockout, browser sessions, TOTP two-factor with
//! recovery codes, first-login password change; [`tokens`] manages API tokens.
//!
//! Order of work at `POST /login`, cheapest first, so an attacker never buys argon2 time:
//! 1. the throttle (per client address, and per login *from that address*, in
//!    `login_throttle`) reserves an attempt in one short write transaction, or refuses
//!    (429) without hashing. The lockout is tied to the address: failures from one
//!    address never lock the account for its owner at another;
//! 2. argon2id verification on the blocking pool (a dummy verification when there is no
//!    hash, so unknown logins take as long as wrong passwords);
//! 3. the result, the audit event and, on success, a new session in one transaction.
//!
//! Sessions: the cookie holds 256 random bits; only their SHA-256 is stored. Every login
//! creates a new session and revokes the one the browser presented, so a planted cookie
//! is useless. A session is usable only once its second factor is done (when the user
//! has TOTP or the organisation requires it) and the initial password is changed.

mod login;
pub mod password;
mod password_change;
pub mod secret_key;
mod sessions;
mod throttle;
pub mod tokens;
pub mod totp;
mod two_factor;

pub use login::{
    LoginResult, login, new_prelogin, normalize_login, prelogin_csrf, refuse_login_post,
};
pub use password_change::{PasswordChange, change_password};
pub use sessions::{
    IssuedSession, SESSION_ABSOLUTE_SECS, SESSION_IDLE_SECS, Session, Step, is_token_shaped,
    logout, record_csrf_rejection, resume_session, tokens_equal,
};
pub use throttle::{
    ADDRESS_LIMIT, LOCKOUT_AFTER, LOCKOUT_SECS, LOGIN_LIMIT, SECOND_FACTOR_LIMIT,
    THROTTLE_WINDOW_SECS, UNAUTHENTICATED_AUDIT_LIMIT, record_unauthenticated,
};
pub use two_factor::{
    ConfirmResult, Enrolment, RECOVERY_CODES, SecondFactorResult, TOTP_NEEDS_KEY, confirm_totp,
    recovery_codes_left, second_factor, totp_enrolment,
};

#[cfg(test)]
mod tests {
    use super::login::*;
    use super::sessions::*;
    use super::two_factor::*;
    use uuid::Uuid;

    #[test]
    fn steps_in_order() {
        assert_eq!(next_step(false, true, false, true), Step::SecondFactor);
        assert_eq!(next_step(false, false, true, true), Step::EnrolTotp);
        assert_eq!(next_step(false, false, false, true), Step::ChangePassword);
        assert_eq!(next_step(true, true, true, true), Step::ChangePassword);
        assert_eq!(next_step(true, true, true, false), Step::Ready);
        assert_eq!(next_step(false, false, false, false), Step::Ready);
    }

    #[test]
    fn tokens_and_codes() {
        let t = random_token();
        assert!(is_token_shaped(&t));
        assert!(!is_token_shaped("short"));
        assert_ne!(random_token(), t);
        assert!(tokens_equal(&prelogin_csrf(&t), &prelogin_csrf(&t)));
        assert!(!tokens_equal(
            &prelogin_csrf(&t),
            &prelogin_csrf(&random_token())
        ));
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        assert_eq!(
            recovery_hash(Uuid::nil(), &code),
            recovery_hash(Uuid::nil(), &code.to_uppercase().replace('-', " "))
        );
        assert_eq!(normalize_code("１２３ ４５６"), "123456");
        assert_eq!(normalize_login(" ＳＡＴＯ "), "sato");
    }
}
