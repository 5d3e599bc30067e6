//! Invitations: a one-time link (`/invite/SECRET`) a site's admin copies
//! to someone without an account, no mail server needed. Opening it sets
//! the new account's password and gives it one role on one site; it works
//! once, until it expires or is revoked. The store keeps the secret's
//! SHA-256.

use crate::users::{AccountError, Role, User, check_target, normalise_email};
use crate::{Store, password, random_hex};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

/// How long an invitation stays valid.
pub const VALID_MS: i64 = 7 * 86_400_000;
/// Pending invitations a site may have.
pub const MAX_PENDING: i64 = 100;

/// An invitation as listed and as its link finds it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub site_id: String,
    pub role: Role,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted: bool,
    pub revoked: bool,
}

impl Invitation {
    /// Whether its link still opens.
    pub fn live(&self, now_ms: i64) -> bool {
        !self.accepted && !self.revoked && now_ms < self.expires_at
    }
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

const COLUMNS: &str =
    "id, email, site_id, role, invited_by, created_at, expires_at, accepted_at, revoked_at";

fn invitation_of(row: &AnyRow) -> Result<Invitation, AccountError> {
    let role: String = row.try_get("role")?;
    Ok(Invitation {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        site_id: row.try_get("site_id")?,
        role: Role::parse(&role).ok_or(AccountError::Role(role))?,
        invited_by: row.try_get("invited_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        accepted: row.try_get::<Option<i64>, _>("accepted_at")?.is_some(),
        revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
    })
}

impl Store {
    /// Invites `email` (who has no account) to `site_id` with `role`, by
    /// `inviter`; the invitation and its secret, which is not kept.
    pub async fn invite(
        &self,
        inviter: &User,
        email: &str,
        (site_id, role): (&str, Role),
        now_ms: i64,
    ) -> Result<(Invitation, String), AccountError> {
        let email = normalise_email(email)?;
        check_target(site_id)?;
        if self.user_by_email(&email).await?.is_some() {
            return Err(AccountError::Exists(email));
        }
        let pending: i64 = sqlx::query(
            "SELECT COUNT(*) FROM invitations WHERE site_id = $1 AND accepted_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(site_id)
        .bind(now_ms)
        .fetch_one(self.pool())
        .await?
        .try_get(0)?;
        if pending >= MAX_PENDING {
            return Err(AccountError::Target(format!(
                "a site has at most {MAX_PENDING} pending invitations"
            )));
        }
        let (id, secret) = (random_hex(8)?, random_hex(32)?);
        sqlx::query(
            "INSERT INTO invitations (id, hash, email, site_id, role, invited_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(digest(&secret))
        .bind(&email)
        .bind(site_id)
        .bind(role.as_str())
        .bind(&inviter.id)
        .bind(now_ms)
        .bind(now_ms + VALID_MS)
        .execute(self.pool())
        .await?;
        let invitation = self
            .invitation_where("id = $1", &id)
            .await?
            .ok_or_else(|| AccountError::Unknown(id.clone()))?;
        Ok((invitation, secret))
    }

    async fn invitation_where(
        &self,
        condition: &str,
        value: &str,
    ) -> Result<Option<Invitation>, AccountError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invitations WHERE {condition}"
        ))
        .bind(value)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(invitation_of).transpose()
    }

    /// The live invitation of a secret, if any.
    pub async fn invitation(
        &self,
        secret: &str,
        now_ms: i64,
    ) -> Result<Option<Invitation>, AccountError> {
        if !crate::links::well_formed(secret) {
            return Ok(None);
        }
        Ok(self
            .invitation_where("hash = $1", &digest(secret))
            .await?
            .filter(|i| i.live(now_ms)))
    }

    /// A site's invitations not accepted, newest first.
    pub async fn invitations_of_site(
        &self,
        site_id: &str,
    ) -> Result<Vec<Invitation>, AccountError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invitations WHERE site_id = $1 AND accepted_at IS NULL \
             ORDER BY created_at DESC"
        ))
        .bind(site_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(invitation_of).collect()
    }

    /// An invitation by id.
    pub async fn invitation_by_id(&self, id: &str) -> Result<Option<Invitation>, AccountError> {
        self.invitation_where("id = $1", id).await
    }

    pub async fn revoke_invitation(&self, id: &str, now_ms: i64) -> Result<(), AccountError> {
        self.revoke("invitations", id, now_ms).await
    }

    /// Accepts an invitation: in one transaction, marks it used (a second
    /// use, an expired or revoked one finds nothing), makes the account
    /// with `password` and `name`, and gives it the role.
    pub async fn accept(
        &self,
        secret: &str,
        (name, password): (&str, &str),
        now_ms: i64,
    ) -> Result<Option<(User, Invitation)>, AccountError> {
        let Some(invitation) = self.invitation(secret, now_ms).await? else {
            return Ok(None);
        };
        let name = name.trim();
        if name.chars().count() > crate::users::MAX_NAME || name.chars().any(char::is_control) {
            return Err(AccountError::Name);
        }
        let hash = password::hash(password)?;
        let id = random_hex(16)?;
        let mut tx = self.pool().begin().await?;
        let claimed = sqlx::query(
            "UPDATE invitations SET accepted_at = $1 WHERE hash = $2 AND accepted_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now_ms)
        .bind(digest(secret))
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        let added = sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, superuser, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (email) DO NOTHING",
        )
        .bind(&id)
        .bind(&invitation.email)
        .bind(name)
        .bind(&hash)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() == 0 {
            return Err(AccountError::Exists(invitation.email));
        }
        sqlx::query(
            "INSERT INTO site_roles (user_id, site_id, role, granted_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(&invitation.site_id)
        .bind(invitation.role.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let user = self
            .user_by_id(&id)
            .await?
            .ok_or_else(|| AccountError::Unknown(id.clone()))?;
        Ok(Some((user, invitation)))
    }
}
