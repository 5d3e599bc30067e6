//! `mesure user`: accounts from the command line. Passwords are read from
//! standard input or a file, never from the command line (where other
//! users of the machine and the shell history would see them).

use anyhow::Context;
use clap::{Args, Subcommand};
use mesure_accounts::{AccountsConfig, Role, Store};
use mesure_dashboard::audit::{self, Action, Actor};
use std::io::BufRead;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from standard input (its first
    /// line) unless --password-file or --no-password is given.
    Add {
        /// E-mail address: the sign-in name.
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Administers the whole instance: every site, user and setting.
        #[arg(long)]
        superuser: bool,
        #[command(flatten)]
        password: PasswordArgs,
        /// No password: sign-in through single sign-on only.
        #[arg(long, conflicts_with = "password_file")]
        no_password: bool,
    },
    /// Replace a user's password (read as for `add`).
    Password {
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List the users and their roles.
    List,
    /// Give a user a role on a site or on every site of an organisation.
    Grant {
        email: String,
        #[command(flatten)]
        target: Target,
        /// admin (settings, goals, notes, users, links) or viewer (read only).
        #[arg(long)]
        role: String,
    },
    /// Take a user's role on a site or an organisation away.
    Revoke {
        email: String,
        #[command(flatten)]
        target: Target,
    },
    /// Stop a user from signing in (their roles are kept).
    Disable { email: String },
    /// Let a disabled user sign in again.
    Enable { email: String },
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the password from this file's first line instead of standard input.
    #[arg(long)]
    password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// A site id.
    #[arg(long)]
    site: Option<String>,
    /// An organisation name, as sites carry it.
    #[arg(long)]
    organisation: Option<String>,
}

/// The first line of the file, or of standard input.
fn read_password(args: &PasswordArgs) -> anyhow::Result<String> {
    let mut line = String::new();
    match &args.password_file {
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("reading the password from {}", path.display()))?;
            std::io::BufReader::new(file).read_line(&mut line)?;
        }
        None => {
            std::io::stdin().lock().read_line(&mut line)?;
        }
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The accounts store, migrated.
pub async fn store(config: &AccountsConfig) -> anyhow::Result<Store> {
    let store = Store::open(&config.url)
        .await
        .with_context(|| format!("opening the accounts store {}", redacted(&config.url)))?;
    store
        .migrate()
        .await
        .context("migrating the accounts store")?;
    Ok(store)
}

/// A store URL without its password, for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn user_id(store: &Store, email: &str) -> anyhow::Result<String> {
    Ok(store
        .user_by_email(email)
        .await?
        .with_context(|| format!("no account uses {email}"))?
        .id)
}

fn role(text: &str) -> anyhow::Result<Role> {
    Role::parse(text).with_context(|| format!("{text:?} is not a role: admin or viewer"))
}

/// Records an action of the command line in the audit log; a failure is
/// a warning, the action being done.
pub async fn audit(client: &clickhouse::Client, action: Action, site_id: &str, detail: &str) {
    let row = Actor::command_line().row(action, site_id, detail, mesure_accounts::now_ms());
    if let Err(error) = audit::write(client, &[row], AUDIT_TIMEOUT).await {
        tracing::warn!(%error, "done, but not written to the audit log");
    }
}

const AUDIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A role's target, as the audit log names it.
fn target_text(target: &Target) -> (&str, String) {
    match (&target.site, &target.organisation) {
        (Some(site), _) => (site.as_str(), format!("site {site}")),
        (_, Some(org)) => ("", format!("organisation {org}")),
        (None, None) => ("", String::new()),
    }
}

pub async fn run(
    config: &AccountsConfig,
    client: &clickhouse::Client,
    command: UserCommand,
) -> anyhow::Result<()> {
    let store = store(config).await?;
    match command {
        UserCommand::Add {
            email,
            name,
            superuser,
            password,
            no_password,
        } => {
            let password = if no_password {
                None
            } else {
                Some(read_password(&password)?)
            };
            let user = store
                .add_user(&email, &name, password.as_deref(), superuser)
                .await?;
            tracing::info!(email = %user.email, superuser, "user added");
            let detail = format!(
                "{}{}",
                user.email,
                if superuser { " superuser" } else { "" }
            );
            audit(client, Action::UserAdded, "", &detail).await;
        }
        UserCommand::Password { email, password } => {
            store
                .set_password(&email, &read_password(&password)?)
                .await?;
            tracing::info!(%email, "password changed");
            audit(
                client,
                Action::UserChanged,
                "",
                &format!("{email}: password"),
            )
            .await;
        }
        UserCommand::List => {
            for user in store.users().await? {
                let access = store.access(&user).await?;
                let mut roles: Vec<String> = access
                    .sites
                    .iter()
                    .map(|(site, role)| format!("site:{site}={}", role.as_str()))
                    .chain(
                        access
                            .organisations
                            .iter()
                            .map(|(org, role)| format!("organisation:{org}={}", role.as_str())),
                    )
                    .collect();
                roles.sort();
                super::print(&format!(
                    "{}\t{}{}{}\t{}",
                    user.email,
                    if user.superuser { "superuser" } else { "user" },
                    if user.disabled { "\tdisabled" } else { "" },
                    if user.name.is_empty() {
                        String::new()
                    } else {
                        format!("\tname={}", user.name)
                    },
                    roles.join(",")
                ));
            }
        }
        UserCommand::Grant {
            email,
            target,
            role: text,
        } => {
            let (id, role) = (user_id(&store, &email).await?, role(&text)?);
            match (&target.site, &target.organisation) {
                (Some(site), _) => store.grant_site(&id, site, role).await?,
                (_, Some(org)) => store.grant_organisation(&id, org, role).await?,
                (None, None) => anyhow::bail!("give --site or --organisation"),
            }
            tracing::info!(%email, ?target, role = role.as_str(), "role granted");
            let (site, text) = target_text(&target);
            let detail = format!("{email}: {} on {text}", role.as_str());
            audit(client, Action::RoleGranted, site, &detail).await;
        }
        UserCommand::Revoke { email, target } => {
            let id = user_id(&store, &email).await?;
            match (&target.site, &target.organisation) {
                (Some(site), _) => store.revoke_site(&id, site).await?,
                (_, Some(org)) => store.revoke_organisation(&id, org).await?,
                (None, None) => anyhow::bail!("give --site or --organisation"),
            }
            tracing::info!(%email, ?target, "role revoked");
            let (site, text) = target_text(&target);
            audit(
                client,
                Action::RoleRevoked,
                site,
                &format!("{email}: {text}"),
            )
            .await;
        }
        UserCommand::Disable { email } => {
            store.set_disabled(&email, true).await?;
            tracing::info!(%email, "user disabled");
            audit(
                client,
                Action::UserChanged,
                "",
                &format!("{email}: disabled"),
            )
            .await;
        }
        UserCommand::Enable { email } => {
            store.set_disabled(&email, false).await?;
            tracing::info!(%email, "user enabled");
            audit(
                client,
                Action::UserChanged,
                "",
                &format!("{email}: enabled"),
            )
            .await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_are_shown_without_their_password() {
        assert_eq!(
            redacted("postgres://mesure:s3cret@db.example:5432/mesure"),
            "postgres://mesure:***@db.example:5432/mesure"
        );
        assert_eq!(
            redacted("postgres://mesure@db/mesure"),
            "postgres://mesure@db/mesure"
        );
        assert_eq!(
            redacted("sqlite://accounts.sqlite"),
            "sqlite://accounts.sqlite"
        );
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token reading some sites, for a user who may read them;
    /// prints it once (it is not kept).
    Add {
        /// The user the token acts for.
        email: String,
        /// What the token is for ("Grafana", "export script").
        #[arg(long)]
        name: String,
        /// A site it reads. Repeatable.
        #[arg(long = "site", required = true)]
        sites: Vec<String>,
    },
    /// List a user's tokens (never their secret).
    List { email: String },
    /// Revoke a token: it reads nothing from now on.
    Revoke { id: String },
}

pub async fn tokens(
    config: &AccountsConfig,
    client: &clickhouse::Client,
    command: TokenCommand,
) -> anyhow::Result<()> {
    let store = store(config).await?;
    let now = mesure_accounts::now_ms();
    match command {
        TokenCommand::Add { email, name, sites } => {
            let user = store
                .user_by_email(&email)
                .await?
                .with_context(|| format!("no account uses {email}"))?;
            let access = store.access(&user).await?;
            let known = mesure_sites::load(client).await?;
            for site in &sites {
                let row = known
                    .iter()
                    .find(|row| row.site_id == *site)
                    .with_context(|| format!("no site {site}"))?;
                anyhow::ensure!(
                    access.role_on(&row.site_id, &row.organisation).is_some(),
                    "{email} may not read {site}: a token reads only what its user may"
                );
            }
            let (token, secret) = store.add_token(&user, &name, &sites, now).await?;
            tracing::info!(id = %token.id, %email, "token made; shown once");
            let detail = format!(
                "{}: {} for {email} on {}",
                token.id,
                token.name,
                sites.join(",")
            );
            for site in &sites {
                audit(client, Action::TokenCreated, site, &detail).await;
            }
            super::print(&secret);
        }
        TokenCommand::List { email } => {
            let id = user_id(&store, &email).await?;
            for token in store.tokens_of(&id).await? {
                super::print(&format!(
                    "{}\t{}\tsites={}\tcreated_ms={}\tlast_used_ms={}{}",
                    token.id,
                    token.name,
                    token.sites.join(","),
                    token.created_at,
                    token
                        .last_used_at
                        .map_or("never".to_owned(), |t| t.to_string()),
                    if token.revoked { "\trevoked" } else { "" }
                ));
            }
        }
        TokenCommand::Revoke { id } => {
            let token = store
                .token(&id)
                .await?
                .with_context(|| format!("no token {id}"))?;
            store.revoke_token(&id, now).await?;
            tracing::info!(%id, "token revoked");
            for site in &token.sites {
                audit(
                    client,
                    Action::TokenRevoked,
                    site,
                    &format!("{id}: {}", token.name),
                )
                .await;
            }
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum LinkCommand {
    /// Make a read-only link to one site's dashboard, for a user who
    /// administers the site; prints its path once (it is not kept).
    Add {
        /// The admin the link is made by: it stops if they lose the site.
        email: String,
        #[arg(long)]
        site: String,
        /// What the link is for ("conseil municipal").
        #[arg(long)]
        name: String,
        /// Days until the link stops working.
        #[arg(long)]
        expires_days: Option<u32>,
        /// Ask this password (the file's first line) before showing anything.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Let pages of the site's own hosts frame it (without a password only).
        #[arg(long, conflicts_with = "password_file")]
        embeddable: bool,
    },
    /// List a site's links (never their secret).
    List {
        #[arg(long)]
        site: String,
    },
    /// Revoke a link: it shows nothing from now on.
    Revoke { id: String },
}

pub async fn links(
    config: &AccountsConfig,
    client: &clickhouse::Client,
    command: LinkCommand,
) -> anyhow::Result<()> {
    let store = store(config).await?;
    let now = mesure_accounts::now_ms();
    match command {
        LinkCommand::Add {
            email,
            site,
            name,
            expires_days,
            password_file,
            embeddable,
        } => {
            let user = store
                .user_by_email(&email)
                .await?
                .with_context(|| format!("no account uses {email}"))?;
            let known = mesure_sites::load(client).await?;
            let row = known
                .iter()
                .find(|row| row.site_id == site)
                .with_context(|| format!("no site {site}"))?;
            let access = store.access(&user).await?;
            anyhow::ensure!(
                access.role_on(&row.site_id, &row.organisation) == Some(Role::Admin),
                "{email} does not administer {site}: only a site's admins share it"
            );
            let password = match &password_file {
                Some(path) => Some(read_password(&PasswordArgs {
                    password_file: Some(path.clone()),
                })?),
                None => None,
            };
            let expires = expires_days.map(|days| now + i64::from(days) * 86_400_000);
            let (link, secret) = store
                .add_link(&user, &site, &name, password.as_deref(), expires, now)
                .await?;
            if embeddable {
                store.set_embeddable(&link.id, true).await?;
            }
            tracing::info!(id = %link.id, %site, "link made; shown once");
            let detail = format!("{}: {} by {email}", link.id, link.name);
            audit(client, Action::LinkCreated, &site, &detail).await;
            super::print(&format!("/share/{secret}"));
        }
        LinkCommand::List { site } => {
            for link in store.links_of_site(&site).await? {
                super::print(&format!(
                    "{}\t{}\tpassword={}\tembeddable={}\texpires_ms={}\tlast_used_ms={}{}",
                    link.id,
                    link.name,
                    link.locked,
                    link.embeddable,
                    link.expires_at
                        .map_or("never".to_owned(), |t| t.to_string()),
                    link.last_used_at
                        .map_or("never".to_owned(), |t| t.to_string()),
                    if link.revoked { "\trevoked" } else { "" }
                ));
            }
        }
        LinkCommand::Revoke { id } => {
            let link = store
                .link(&id)
                .await?
                .with_context(|| format!("no link {id}"))?;
            store.revoke_link(&id, now).await?;
            tracing::info!(%id, "link revoked");
            let detail = format!("{id}: {}", link.name);
            audit(client, Action::LinkRevoked, &link.site_id, &detail).await;
        }
    }
    Ok(())
}
