//! Sessions: a signed-in browser holds a random secret; the store keeps its
//! SHA-256, the user, a CSRF token, and when it began and was last used. A
//! session ends when unused for the idle time, or at its maximum age
//! whatever its use. Failed sign-ins are counted per account and per
//! client address, and refused beyond a limit within a window.

use crate::users::{AccountError, User};
use crate::{AccountsConfig, Store, random_hex};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// How long a session's last use may be out of date in the store: a page
/// view writes at most once a minute per session.
const SEEN_GRANULARITY_MS: i64 = 60_000;

/// How sessions end and sign-ins are limited, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub idle_ms: i64,
    pub max_ms: i64,
    pub failures_per_account: u32,
    pub failures_per_address: u32,
    pub window_ms: i64,
}

impl Policy {
    pub fn of(config: &AccountsConfig) -> Policy {
        Policy {
            idle_ms: i64::from(config.session_idle_minutes) * 60_000,
            max_ms: i64::from(config.session_max_hours) * 3_600_000,
            failures_per_account: config.sign_in_failures_per_account,
            failures_per_address: config.sign_in_failures_per_address,
            window_ms: i64::from(config.sign_in_window_minutes) * 60_000,
        }
    }
}

/// A session just opened: the secret for the cookie, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub secret: String,
    pub csrf: String,
}

/// A live session, as a request finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub csrf: String,
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The key an address typed at sign-in is counted under: hashed, so any
/// text (a NUL byte, megabytes) makes a short, valid key.
fn account_key(email: &str) -> String {
    format!("account:{}", digest(&email.trim().to_lowercase()))
}

fn address_key(address: &str) -> String {
    format!("address:{address}")
}

impl Store {
    /// Opens a session for `user` at `now_ms`.
    pub async fn open_session(&self, user: &User, now_ms: i64) -> Result<Opened, AccountError> {
        let opened = Opened {
            secret: random_hex(32)?,
            csrf: random_hex(32)?,
        };
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf, created_at, seen_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(digest(&opened.secret))
        .bind(&user.id)
        .bind(&opened.csrf)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(opened)
    }

    /// The live session of a cookie's secret at `now_ms`, its last use
    /// moved to now. An ended session is deleted and gives `None`, as does
    /// a disabled user's.
    pub async fn session(
        &self,
        secret: &str,
        now_ms: i64,
        policy: Policy,
    ) -> Result<Option<Session>, AccountError> {
        // A secret is 64 hex digits; anything else is no session.
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let id_hash = digest(secret);
        let row = sqlx::query(
            "SELECT user_id, csrf, created_at, seen_at FROM sessions WHERE id_hash = $1",
        )
        .bind(&id_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (user_id, csrf): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let (created_at, seen_at): (i64, i64) = (row.try_get(2)?, row.try_get(3)?);
        let ended = now_ms - seen_at > policy.idle_ms || now_ms - created_at > policy.max_ms;
        let user = match self.user_by_id(&user_id).await? {
            Some(user) if !ended && !user.disabled => user,
            _ => {
                self.close_session(secret).await?;
                return Ok(None);
            }
        };
        if now_ms - seen_at >= SEEN_GRANULARITY_MS {
            sqlx::query("UPDATE sessions SET seen_at = $1 WHERE id_hash = $2")
                .bind(now_ms)
                .bind(&id_hash)
                .execute(self.pool())
                .await?;
        }
        Ok(Some(Session { user, csrf }))
    }

    /// Ends a session (signing out).
    pub async fn close_session(&self, secret: &str) -> Result<(), AccountError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(digest(secret))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of a user (password changed, account disabled).
    pub async fn close_sessions_of(&self, user_id: &str) -> Result<(), AccountError> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes ended sessions and failures past the window.
    pub async fn sweep(&self, now_ms: i64, policy: Policy) -> Result<(), AccountError> {
        sqlx::query("DELETE FROM sessions WHERE seen_at < $1 OR created_at < $2")
            .bind(now_ms - policy.idle_ms)
            .bind(now_ms - policy.max_ms)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM sign_in_failures WHERE at < $1")
            .bind(now_ms - policy.window_ms)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Whether a sign-in for `email` from `address` (truncated) may be
    /// tried now: fewer failures than the limits within the window.
    pub async fn may_sign_in(
        &self,
        email: &str,
        address: &str,
        now_ms: i64,
        policy: Policy,
    ) -> Result<bool, AccountError> {
        for (key, limit) in [
            (account_key(email), policy.failures_per_account),
            (address_key(address), policy.failures_per_address),
        ] {
            let count: i64 = sqlx::query(
                "SELECT COUNT(*) FROM sign_in_failures WHERE failure_key = $1 AND at > $2",
            )
            .bind(&key)
            .bind(now_ms - policy.window_ms)
            .fetch_one(self.pool())
            .await?
            .try_get(0)?;
            if count >= i64::from(limit) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Counts a failed sign-in against the account and the address.
    pub async fn sign_in_failed(
        &self,
        email: &str,
        address: &str,
        now_ms: i64,
    ) -> Result<(), AccountError> {
        for key in [account_key(email), address_key(address)] {
            sqlx::query("INSERT INTO sign_in_failures (failure_key, at) VALUES ($1, $2)")
                .bind(key)
                .bind(now_ms)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }
}
