//! API tokens: read access to some sites for scripts and connectors
//! (`Authorization: Bearer mesure_...`). The secret is shown once, when
//! made; the store keeps its SHA-256. A token reads a site only while it
//! lists it and its maker may read it too; a revoked token reads nothing.

use crate::users::{AccountError, User};
use crate::{Store, random_hex};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// How every token starts: secret scanners and readers recognise it.
pub const PREFIX: &str = "mesure_";
/// Longest token name.
pub const MAX_NAME: usize = 120;
/// Sites a token may list.
pub const MAX_SITES: usize = 1000;

/// A token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub sites: Vec<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked: bool,
}

/// A token a request presented: its maker and the sites it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub token_id: String,
    pub user: User,
    pub sites: Vec<String>,
    /// Its last use before this one.
    pub last_used_at: Option<i64>,
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Store {
    /// Makes a token for `user` reading `sites`; returns it and its secret,
    /// which is not kept.
    pub async fn add_token(
        &self,
        user: &User,
        name: &str,
        sites: &[String],
        now_ms: i64,
    ) -> Result<(Token, String), AccountError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(AccountError::Target(format!(
                "a token needs a name of 1 to {MAX_NAME} printable characters"
            )));
        }
        if sites.is_empty() || sites.len() > MAX_SITES {
            return Err(AccountError::Target(format!(
                "a token lists 1 to {MAX_SITES} sites"
            )));
        }
        for site in sites {
            crate::users::check_target(site)?;
        }
        let (id, secret) = (random_hex(8)?, format!("{PREFIX}{}", random_hex(32)?));
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, hash, name, user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(digest(&secret))
        .bind(name)
        .bind(&user.id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        for site in sites {
            sqlx::query(
                "INSERT INTO api_token_sites (token_id, site_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&id)
            .bind(site)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let token = self
            .token(&id)
            .await?
            .ok_or_else(|| AccountError::Unknown(id.clone()))?;
        Ok((token, secret))
    }

    /// A token by id.
    pub async fn token(&self, id: &str) -> Result<Option<Token>, AccountError> {
        Ok(self.tokens_where("t.id = $1", id).await?.pop())
    }

    /// Every token of a user, newest first.
    pub async fn tokens_of(&self, user_id: &str) -> Result<Vec<Token>, AccountError> {
        self.tokens_where("t.user_id = $1", user_id).await
    }

    async fn tokens_where(&self, condition: &str, value: &str) -> Result<Vec<Token>, AccountError> {
        let rows = sqlx::query(&format!(
            "SELECT t.id, t.name, t.user_id, t.created_at, t.last_used_at, t.revoked_at, s.site_id \
             FROM api_tokens t LEFT JOIN api_token_sites s ON s.token_id = t.id \
             WHERE {condition} ORDER BY t.created_at DESC, t.id, s.site_id"
        ))
        .bind(value)
        .fetch_all(self.pool())
        .await?;
        let mut tokens: Vec<Token> = Vec::new();
        for row in rows {
            let id: String = row.try_get(0)?;
            let site: Option<String> = row.try_get(6)?;
            if tokens.last().is_none_or(|t| t.id != id) {
                tokens.push(Token {
                    id,
                    name: row.try_get(1)?,
                    user_id: row.try_get(2)?,
                    sites: Vec::new(),
                    created_at: row.try_get(3)?,
                    last_used_at: row.try_get(4)?,
                    revoked: row.try_get::<Option<i64>, _>(5)?.is_some(),
                });
            }
            if let (Some(token), Some(site)) = (tokens.last_mut(), site) {
                token.sites.push(site);
            }
        }
        Ok(tokens)
    }

    /// Revokes a token: it reads nothing from now on.
    pub async fn revoke_token(&self, id: &str, now_ms: i64) -> Result<(), AccountError> {
        self.revoke("api_tokens", id, now_ms).await
    }

    /// The live token of a presented secret, its last use moved to now; a
    /// revoked token, a disabled maker or anything else gives `None`.
    pub async fn presented(
        &self,
        secret: &str,
        now_ms: i64,
    ) -> Result<Option<Presented>, AccountError> {
        let well_formed = secret
            .strip_prefix(PREFIX)
            .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        if !well_formed {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT id, user_id, last_used_at FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(digest(secret))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (token_id, user_id): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let last_used: Option<i64> = row.try_get(2)?;
        let Some(user) = self.user_by_id(&user_id).await?.filter(|u| !u.disabled) else {
            return Ok(None);
        };
        if crate::use_due(last_used, now_ms) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(&token_id)
                .execute(self.pool())
                .await?;
        }
        let sites =
            sqlx::query("SELECT site_id FROM api_token_sites WHERE token_id = $1 ORDER BY site_id")
                .bind(&token_id)
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?;
        Ok(Some(Presented {
            token_id,
            user,
            sites,
            last_used_at: last_used,
        }))
    }
}
