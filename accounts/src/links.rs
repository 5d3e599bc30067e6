//! Shared links: a read-only view of one site's dashboard for people
//! without an account (`/share/SECRET`). The secret is shown once; the
//! store keeps its SHA-256. A link may need a password and may expire; it
//! is revocable, and it stops with its maker's access to the site.

use crate::password;
use crate::users::{AccountError, User};
use crate::{Store, random_hex};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A link's secret: 64 hex digits.
pub const SECRET_LENGTH: usize = 64;

/// A link as listed and as requests find it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: String,
    pub site_id: String,
    pub name: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked: bool,
    /// Whether a password is asked.
    pub locked: bool,
    /// Whether pages of the site's own hosts may frame it.
    pub embeddable: bool,
    password_hash: String,
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Whether `text` may be a link's secret.
pub fn well_formed(text: &str) -> bool {
    text.len() == SECRET_LENGTH && text.bytes().all(|b| b.is_ascii_hexdigit())
}

const COLUMNS: &str = "id, site_id, name, user_id, created_at, expires_at, last_used_at, revoked_at, \
     password_hash, embeddable";

fn link_of(row: &AnyRow) -> Result<Link, sqlx::Error> {
    let password_hash: String = row.try_get("password_hash")?;
    Ok(Link {
        id: row.try_get("id")?,
        site_id: row.try_get("site_id")?,
        name: row.try_get("name")?,
        user_id: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        locked: !password_hash.is_empty(),
        embeddable: row.try_get::<i64, _>("embeddable")? != 0,
        password_hash,
    })
}

impl Link {
    /// Whether `password` opens this link.
    pub fn opens(&self, password: &str) -> bool {
        !self.locked || password::verify(password, &self.password_hash)
    }

    /// What a browser keeps once it gave the password: derived from the
    /// link's secret and its password hash, so that neither alone makes it.
    pub fn unlock_value(&self, secret: &str) -> String {
        digest(&format!("{secret}:{}", self.password_hash))
    }
}

impl Store {
    /// Makes a link to `site_id` for `user` (who must administer it; the
    /// caller checks); returns it and its secret, which is not kept.
    pub async fn add_link(
        &self,
        user: &User,
        site_id: &str,
        name: &str,
        password: Option<&str>,
        expires_at: Option<i64>,
        now_ms: i64,
    ) -> Result<(Link, String), AccountError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
            return Err(AccountError::Target(
                "a link needs a name of 1 to 120 printable characters".to_owned(),
            ));
        }
        crate::users::check_target(site_id)?;
        let hash = match password {
            Some(password) => password::hash(password)?,
            None => String::new(),
        };
        let (id, secret) = (random_hex(8)?, random_hex(SECRET_LENGTH / 2)?);
        sqlx::query(
            "INSERT INTO shared_links (id, hash, site_id, name, password_hash, expires_at, user_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(digest(&secret))
        .bind(site_id)
        .bind(name)
        .bind(&hash)
        .bind(expires_at)
        .bind(&user.id)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        let link = self
            .link(&id)
            .await?
            .ok_or_else(|| AccountError::Unknown(id.clone()))?;
        Ok((link, secret))
    }

    pub async fn link(&self, id: &str) -> Result<Option<Link>, AccountError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM shared_links WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(link_of).transpose()?)
    }

    /// Every link of a site, newest first.
    pub async fn links_of_site(&self, site_id: &str) -> Result<Vec<Link>, AccountError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM shared_links WHERE site_id = $1 ORDER BY created_at DESC, id"
        ))
        .bind(site_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(link_of).collect::<Result<_, _>>()?)
    }

    /// Revokes a link: it shows nothing from now on.
    /// Lets pages of the site's own hosts frame the link, or not.
    pub async fn set_embeddable(&self, id: &str, embeddable: bool) -> Result<(), AccountError> {
        sqlx::query("UPDATE shared_links SET embeddable = $1 WHERE id = $2")
            .bind(i64::from(embeddable))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn revoke_link(&self, id: &str, now_ms: i64) -> Result<(), AccountError> {
        self.revoke("shared_links", id, now_ms).await
    }

    /// The live link of a secret and its maker, its last use moved to now:
    /// not revoked, not expired, its maker enabled. Whether the maker may
    /// still read the site is the caller's to check.
    pub async fn shared(
        &self,
        secret: &str,
        now_ms: i64,
    ) -> Result<Option<(Link, User)>, AccountError> {
        if !well_formed(secret) {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM shared_links WHERE hash = $1"
        ))
        .bind(digest(secret))
        .fetch_optional(self.pool())
        .await?;
        let Some(link) = row.as_ref().map(link_of).transpose()? else {
            return Ok(None);
        };
        if link.revoked || link.expires_at.is_some_and(|at| at <= now_ms) {
            return Ok(None);
        }
        let Some(user) = self
            .user_by_id(&link.user_id)
            .await?
            .filter(|u| !u.disabled)
        else {
            return Ok(None);
        };
        if crate::use_due(link.last_used_at, now_ms) {
            sqlx::query("UPDATE shared_links SET last_used_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(&link.id)
                .execute(self.pool())
                .await?;
        }
        Ok(Some((link, user)))
    }
}
