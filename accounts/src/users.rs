//! Users and their roles: `admin` of a site (its settings, goals, notes,
//! users and links) or `viewer` (read only), on one site or on every site
//! of an organisation; a superuser administers the whole instance.

use crate::password::{self, PasswordError};
use crate::{Store, StoreError, now_ms, random_hex};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashMap;

/// Longest e-mail address (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;
/// Longest display name.
pub const MAX_NAME: usize = 120;

/// What a role allows on a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read the site's figures.
    Viewer,
    /// Read, and change the site's settings, goals, notes, users and links.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A user, without their password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub superuser: bool,
    pub created_at: i64,
    pub disabled: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0:?} is not an e-mail address")]
    Email(String),
    #[error("a name has at most {MAX_NAME} printable characters")]
    Name,
    #[error("an account already uses {0}")]
    Exists(String),
    #[error("no account uses {0}")]
    Unknown(String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("{0:?} is not a role: admin or viewer")]
    Role(String),
    #[error("{0:?} is not a site id or an organisation name")]
    Target(String),
}

impl From<sqlx::Error> for AccountError {
    fn from(error: sqlx::Error) -> AccountError {
        AccountError::Store(StoreError::Sql(error))
    }
}

/// An address as stored: trimmed, lowercase, checked.
pub fn normalise_email(text: &str) -> Result<String, AccountError> {
    let email = text.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(AccountError::Email(text.chars().take(80).collect()))
    }
}

/// A site id or an organisation name a role is granted on.
pub(crate) fn check_target(text: &str) -> Result<&str, AccountError> {
    let ok = !text.trim().is_empty()
        && text.chars().count() <= 120
        && !text.chars().any(char::is_control);
    if ok {
        Ok(text)
    } else {
        Err(AccountError::Target(text.chars().take(80).collect()))
    }
}

const USER_COLUMNS: &str = "id, email, name, superuser, created_at, disabled_at";

fn user_of(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        superuser: row.try_get::<i64, _>("superuser")? != 0,
        created_at: row.try_get("created_at")?,
        disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
    })
}

impl Store {
    /// Adds a user. Without a password, they can only sign in through
    /// single sign-on (or after an invitation sets one).
    pub async fn add_user(
        &self,
        email: &str,
        name: &str,
        password: Option<&str>,
        superuser: bool,
    ) -> Result<User, AccountError> {
        let email = normalise_email(email)?;
        let name = name.trim();
        if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(AccountError::Name);
        }
        let hash = match password {
            Some(password) => password::hash(password)?,
            None => String::new(),
        };
        let id = random_hex(16)?;
        let added = sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, superuser, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING",
        )
        .bind(&id)
        .bind(&email)
        .bind(name)
        .bind(&hash)
        .bind(i64::from(superuser))
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        if added.rows_affected() == 0 {
            return Err(AccountError::Exists(email));
        }
        self.user_by_email(&email)
            .await?
            .ok_or(AccountError::Unknown(email))
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, AccountError> {
        let email = normalise_email(email)?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(&email)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(user_of).transpose()?)
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>, AccountError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(user_of).transpose()?)
    }

    /// Every user, by address.
    pub async fn users(&self) -> Result<Vec<User>, AccountError> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(user_of).collect::<Result<_, _>>()?)
    }

    /// Replaces a user's password, and ends their sessions.
    pub async fn set_password(&self, email: &str, password: &str) -> Result<(), AccountError> {
        let email = normalise_email(email)?;
        let hash = password::hash(password)?;
        let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE email = $2")
            .bind(&hash)
            .bind(&email)
            .execute(self.pool())
            .await?;
        if changed.rows_affected() == 0 {
            return Err(AccountError::Unknown(email));
        }
        self.close_sessions_of_email(&email).await
    }

    /// Ends every session of the account at `email`.
    async fn close_sessions_of_email(&self, email: &str) -> Result<(), AccountError> {
        sqlx::query(
            "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE email = $1)",
        )
        .bind(email)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The user with this address and password, if enabled. An unknown
    /// address costs the same hashing as a wrong password, so the time
    /// taken does not tell whether an account exists.
    pub async fn authenticate(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<User>, AccountError> {
        let Ok(email) = normalise_email(email) else {
            password::verify(password, password::decoy());
            return Ok(None);
        };
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"
        ))
        .bind(&email)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            password::verify(password, password::decoy());
            return Ok(None);
        };
        let stored: String = row.try_get("password_hash")?;
        let user = user_of(&row)?;
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || password::verify(&password, &stored))
            .await
            .unwrap_or(false);
        Ok((matches && !user.disabled).then_some(user))
    }

    /// Turns an account off (it keeps its roles; its sessions end) or on again.
    pub async fn set_disabled(&self, email: &str, disabled: bool) -> Result<(), AccountError> {
        let email = normalise_email(email)?;
        let changed = sqlx::query("UPDATE users SET disabled_at = $1 WHERE email = $2")
            .bind(disabled.then(now_ms))
            .bind(&email)
            .execute(self.pool())
            .await?;
        if changed.rows_affected() == 0 {
            return Err(AccountError::Unknown(email));
        }
        if disabled {
            self.close_sessions_of_email(&email).await?;
        }
        Ok(())
    }

    /// Gives `user_id` a role on a site (replacing the one they had).
    pub async fn grant_site(
        &self,
        user_id: &str,
        site_id: &str,
        role: Role,
    ) -> Result<(), AccountError> {
        self.grant(
            "site_roles",
            "site_id",
            user_id,
            check_target(site_id)?,
            role,
        )
        .await
    }

    /// Gives `user_id` a role on every site of an organisation.
    pub async fn grant_organisation(
        &self,
        user_id: &str,
        organisation: &str,
        role: Role,
    ) -> Result<(), AccountError> {
        self.grant(
            "organisation_roles",
            "organisation",
            user_id,
            check_target(organisation)?,
            role,
        )
        .await
    }

    async fn grant(
        &self,
        table: &'static str,
        column: &'static str,
        user_id: &str,
        target: &str,
        role: Role,
    ) -> Result<(), AccountError> {
        sqlx::query(&format!(
            "INSERT INTO {table} (user_id, {column}, role, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, {column}) DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at"
        ))
        .bind(user_id)
        .bind(target)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The users with a role on the site itself, by address.
    pub async fn site_members(&self, site_id: &str) -> Result<Vec<(User, Role)>, AccountError> {
        self.members(("site_roles", "site_id"), site_id).await
    }

    /// The users with a role on every site of an organisation, by address.
    pub async fn organisation_members(
        &self,
        organisation: &str,
    ) -> Result<Vec<(User, Role)>, AccountError> {
        self.members(("organisation_roles", "organisation"), organisation)
            .await
    }

    async fn members(
        &self,
        (table, column): (&'static str, &'static str),
        target: &str,
    ) -> Result<Vec<(User, Role)>, AccountError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, role FROM users JOIN {table} ON {table}.user_id = users.id \
             WHERE {table}.{column} = $1 ORDER BY email"
        ))
        .bind(target)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let role: String = row.try_get("role")?;
                Ok((
                    user_of(row)?,
                    Role::parse(&role).ok_or(AccountError::Role(role))?,
                ))
            })
            .collect()
    }

    /// Takes away `user_id`'s role on a site.
    pub async fn revoke_site(&self, user_id: &str, site_id: &str) -> Result<(), AccountError> {
        sqlx::query("DELETE FROM site_roles WHERE user_id = $1 AND site_id = $2")
            .bind(user_id)
            .bind(site_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes away `user_id`'s role on an organisation.
    pub async fn revoke_organisation(
        &self,
        user_id: &str,
        organisation: &str,
    ) -> Result<(), AccountError> {
        sqlx::query("DELETE FROM organisation_roles WHERE user_id = $1 AND organisation = $2")
            .bind(user_id)
            .bind(organisation)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Marks the row `id` of `table` revoked (tokens, links); an unknown or
    /// already revoked one is an error.
    pub(crate) async fn revoke(
        &self,
        table: &'static str,
        id: &str,
        now_ms: i64,
    ) -> Result<(), AccountError> {
        let changed = sqlx::query(&format!(
            "UPDATE {table} SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
        ))
        .bind(now_ms)
        .bind(id)
        .execute(self.pool())
        .await?;
        if changed.rows_affected() == 0 {
            return Err(AccountError::Unknown(id.to_owned()));
        }
        Ok(())
    }

    /// Everything `user` may see.
    pub async fn access(&self, user: &User) -> Result<Access, AccountError> {
        let mut access = Access {
            superuser: user.superuser && !user.disabled,
            ..Access::default()
        };
        if user.disabled {
            return Ok(access);
        }
        for (table, column, into) in [
            ("site_roles", "site_id", &mut access.sites),
            (
                "organisation_roles",
                "organisation",
                &mut access.organisations,
            ),
        ] {
            let rows = sqlx::query(&format!(
                "SELECT {column}, role FROM {table} WHERE user_id = $1"
            ))
            .bind(&user.id)
            .fetch_all(self.pool())
            .await?;
            for row in rows {
                let role: String = row.try_get(1)?;
                let role = Role::parse(&role).ok_or(AccountError::Role(role))?;
                into.insert(row.try_get(0)?, role);
            }
        }
        Ok(access)
    }
}

/// What one user may see: their roles, read once per request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub superuser: bool,
    pub sites: HashMap<String, Role>,
    pub organisations: HashMap<String, Role>,
}

impl Access {
    /// The role on a site of `organisation` (empty: none): the higher of the
    /// site's own and its organisation's.
    pub fn role_on(&self, site_id: &str, organisation: &str) -> Option<Role> {
        if self.superuser {
            return Some(Role::Admin);
        }
        let by_site = self.sites.get(site_id).copied();
        let by_organisation = (!organisation.is_empty())
            .then(|| self.organisations.get(organisation).copied())
            .flatten();
        by_site.max(by_organisation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised_and_checked() {
        assert_eq!(
            normalise_email("  Ana.Dupont@Mairie.FR ").expect("valid"),
            "ana.dupont@mairie.fr"
        );
        for bad in [
            "",
            "ana",
            "@mairie.fr",
            "ana@",
            "ana@mairie",
            "a b@mairie.fr",
            "a@b@c.fr",
            "a\n@b.fr",
        ] {
            assert!(
                matches!(normalise_email(bad), Err(AccountError::Email(_))),
                "{bad:?}"
            );
        }
        assert!(normalise_email(&format!("{}@b.fr", "a".repeat(MAX_EMAIL))).is_err());
    }

    #[test]
    fn a_role_comes_from_the_site_or_its_organisation_whichever_is_higher() {
        let mut access = Access::default();
        access.sites.insert("a".into(), Role::Viewer);
        access.organisations.insert("Ville".into(), Role::Admin);
        assert_eq!(access.role_on("a", ""), Some(Role::Viewer));
        assert_eq!(access.role_on("a", "Ville"), Some(Role::Admin));
        assert_eq!(access.role_on("b", "Ville"), Some(Role::Admin));
        assert_eq!(access.role_on("b", "Autre"), None);
        assert_eq!(access.role_on("b", ""), None);
        let root = Access {
            superuser: true,
            ..Access::default()
        };
        assert_eq!(root.role_on("anything", ""), Some(Role::Admin));
    }
}
