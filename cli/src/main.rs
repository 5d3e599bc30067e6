//! `mesure`: the one binary of Mesure. Each service and each operation is a
//! subcommand; `mesure help <command>` documents it.

mod config;
mod health;
mod users;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use config::Config;
use mesure_collector::sites::{self, Mode, SiteRow};
use mesure_dashboard::audit::{self, Action};
use mesure_schema::Migrator;
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "mesure",
    version,
    about = "Privacy-first web audience measurement"
)]
struct Cli {
    /// Configuration file (TOML). Default: MESURE_CONFIG, else ./mesure.toml when present.
    /// Every key can also be set as MESURE_<SECTION>_<KEY>.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or upgrade the ClickHouse schema and apply the retention to its
    /// TTLs, and create or upgrade the accounts store.
    Migrate {
        /// Print the statements for an empty database instead of running them.
        #[arg(long)]
        print: bool,
    },
    /// Delete now the data past the retention, without waiting for TTL merges.
    Expire,
    /// Run the collector: tracking endpoints, health and metrics.
    Collector,
    /// Run the dashboard: the stats API, health and metrics.
    Dashboard,
    /// Manage the sites allowed to send hits.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Manage the goals (conversions) of a site.
    #[command(subcommand)]
    Goal(GoalCommand),
    /// Manage the users of the dashboard and their roles.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Manage API tokens: read access to some sites for scripts.
    #[command(subcommand)]
    Token(users::TokenCommand),
    /// Manage shared links: read-only views of one site's dashboard.
    #[command(subcommand)]
    Link(users::LinkCommand),
    /// Check the configuration and print it as applied (passwords hidden).
    Config {
        /// Print instead the reference of every key: type, default,
        /// environment variable, meaning (docs/configuration.md).
        #[arg(long)]
        reference: bool,
    },
    /// Fill ClickHouse with realistic demo traffic, through the same tables
    /// and views as real hits.
    DemoData(DemoArgs),
    /// Seal every finished day now (the dashboard does it every minute):
    /// after loading history, or to see how long it takes.
    Seal,
    /// Print a site's privacy notice, built from the live configuration, to
    /// paste into its privacy policy.
    Notice {
        /// Site id.
        site: String,
        /// fr or en.
        #[arg(long, default_value = "fr", value_parser = ["fr", "en"])]
        lang: String,
        /// md (Markdown) or html.
        #[arg(long, default_value = "md", value_parser = ["md", "html"])]
        format: String,
    },
    /// Ask the collector or the dashboard of this host whether it is alive
    /// (/healthz) or ready (/readyz): exits 0 when it answers 200. For
    /// container health checks.
    Health {
        /// collector or dashboard: whose listen address to ask.
        #[arg(value_parser = ["collector", "dashboard"])]
        service: String,
        /// Ask /readyz (ClickHouse reachable, sites and salts known)
        /// instead of /healthz.
        #[arg(long)]
        ready: bool,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
    /// Print the audit log, newest first, tab-separated: time (UTC),
    /// action, actor, credential, site, address, detail.
    Audit {
        /// One site's rows only.
        #[arg(long)]
        site: Option<String>,
        /// How many days back.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// An existing site to fill. Repeatable.
    #[arg(long = "site", conflicts_with = "sites")]
    site_ids: Vec<String>,
    /// How many demo sites to create and fill (demo-1, demo-2, ...).
    #[arg(long, default_value_t = 1)]
    sites: u32,
    /// Days of traffic, ending yesterday.
    #[arg(long, default_value_t = 28)]
    days: u32,
    /// Hits in all, about.
    #[arg(long, default_value_t = 200_000)]
    events: u64,
    /// Another seed gives other traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fill only a site that has no traffic yet.
    #[arg(long)]
    if_empty: bool,
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// Add a site, or replace it when the id exists.
    Put(SiteArgs),
    /// List the sites.
    List,
    /// Remove a site: its hits are refused from now on; its data stays until it expires.
    Remove {
        /// Site id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum GoalCommand {
    /// Add a goal, or replace it when the site has one of this name.
    Put {
        /// Site id.
        site: String,
        /// The goal's name, as reports show it.
        name: String,
        /// A page path pattern: `*` matches within a segment, `**` across.
        #[arg(long, conflicts_with = "event", required_unless_present = "event")]
        page: Option<String>,
        /// A custom event name.
        #[arg(long)]
        event: Option<String>,
    },
    /// List the goals, of one site or of all.
    List {
        /// Site id.
        site: Option<String>,
    },
    /// Remove a goal.
    Remove {
        /// Site id.
        site: String,
        /// The goal's name.
        name: String,
    },
}

#[derive(Debug, Args)]
struct SiteArgs {
    /// Site id: lowercase letters, digits, '-', '_' or '.'.
    id: String,
    /// A host the site sends from; `*.example.fr` also matches its subdomains. Repeatable.
    #[arg(long = "host", required = true)]
    hosts: Vec<String>,
    /// exempt (CNIL consent exemption, the default) or consent.
    #[arg(long, default_value = "exempt", value_parser = ["exempt", "consent"])]
    mode: String,
    /// IANA time zone of the site's reports.
    #[arg(long, default_value = "Europe/Paris")]
    time_zone: String,
    /// A query parameter kept in page URLs. Repeatable.
    #[arg(long = "param")]
    params: Vec<String>,
    /// A custom event name accepted. Repeatable.
    #[arg(long = "event")]
    events: Vec<String>,
    /// Store country and region only, not the city.
    #[arg(long)]
    no_city: bool,
    /// The idsite Matomo trackers of this site send.
    #[arg(long)]
    matomo_id: Option<u32>,
    /// The organisation the site belongs to (a ministry, a town): the
    /// dashboard sums page views and visits over its sites.
    #[arg(long, default_value = "")]
    organisation: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("MESURE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours for a terminal only: journald and log files get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let env = std::env::vars().collect();
    let config = Config::load(cli.config.as_deref(), &env).context("configuration")?;
    match cli.command {
        Command::Migrate { print } => migrate(&config, print).await,
        Command::Expire => expire(&config).await,
        Command::Health {
            service,
            ready,
            timeout,
        } => health::check(
            if service == "collector" {
                config.collector.listen
            } else {
                config.dashboard.listen
            },
            if ready { "/readyz" } else { "/healthz" },
            std::time::Duration::from_secs(timeout),
        ),
        Command::Collector => collector(config).await,
        Command::Dashboard => dashboard(config).await,
        Command::Site(command) => site(&config, command).await,
        Command::Goal(command) => goal(&config, command).await,
        Command::User(command) => {
            users::run(&config.accounts, &config.clickhouse.client(), command).await
        }
        Command::Token(command) => {
            users::tokens(&config.accounts, &config.clickhouse.client(), command).await
        }
        Command::Link(command) => {
            users::links(&config.accounts, &config.clickhouse.client(), command).await
        }
        Command::Config { reference: true } => {
            print(config::reference().trim_end());
            Ok(())
        }
        Command::Config { reference: false } => show_config(config),
        Command::DemoData(args) => demo_data(&config, args).await,
        Command::Seal => seal(&config).await,
        Command::Audit { site, days } => show_audit(&config, site, days).await,
        Command::Notice { site, lang, format } => {
            show_notice(&config, &site, (&lang, &format)).await
        }
    }
}

fn migrator(config: &Config) -> anyhow::Result<Migrator> {
    Ok(Migrator::new(
        config.clickhouse.server_client(),
        config.clickhouse.target()?,
        config.retention()?,
    ))
}

#[expect(clippy::print_stdout, reason = "printing is the command's output")]
fn print(text: &str) {
    println!("{text}");
}

async fn migrate(config: &Config, plan: bool) -> anyhow::Result<()> {
    let migrator = migrator(config)?;
    if plan {
        for statement in migrator.plan()? {
            print(&format!("{statement};\n"));
        }
        return Ok(());
    }
    let report = migrator
        .migrate()
        .await
        .with_context(|| format!("migrating {}", config.clickhouse.url))?;
    tracing::info!(
        applied = ?report.applied,
        retention_changed = ?report.retention_changed,
        database = %config.clickhouse.database,
        "schema is up to date"
    );
    users::store(&config.accounts).await?;
    tracing::info!(store = %users::redacted(&config.accounts.url), "accounts store is up to date");
    Ok(())
}

async fn expire(config: &Config) -> anyhow::Result<()> {
    let expiry = migrator(config)?.expire().await.context("forcing expiry")?;
    tracing::info!(dropped = ?expiry.dropped, materialized = ?expiry.materialized, salts = expiry.salts, "expired data deleted");
    // Recorded where the dashboards read it (mesure_expiry_last_run_timestamp_seconds),
    // so the alert on a missed expiry holds when a timer runs it.
    let now = chrono::Utc::now();
    let store = users::store(&config.accounts).await?;
    store
        .record_task(
            mesure_accounts::tasks::EXPIRY_TASK,
            &now.date_naive().to_string(),
            now.timestamp_millis(),
        )
        .await
        .context("recording the expiry in the accounts store")?;
    Ok(())
}

async fn collector(config: Config) -> anyhow::Result<()> {
    let retention_months = config.retention()?.as_months();
    let settings = mesure_collector::service::Settings {
        client: config.clickhouse.client(),
        timeouts: config.clickhouse.timeouts()?,
        collector: config.collector,
        geoip: config.geoip,
        spool: config.spool,
        retention_months,
    };
    mesure_collector::service::run(settings, shutdown_signal(), |_| {}).await?;
    Ok(())
}

async fn dashboard(config: Config) -> anyhow::Result<()> {
    let expiry = config
        .dashboard
        .daily_expiry
        .then(|| migrator(&config))
        .transpose()?;
    let notice = config.notice_facts()?;
    let settings = mesure_dashboard::service::Settings {
        notice,
        client: config.clickhouse.client(),
        timeouts: config.clickhouse.timeouts()?,
        accounts: users::store(&config.accounts).await?,
        policy: mesure_accounts::sessions::Policy::of(&config.accounts),
        dashboard: config.dashboard,
        oidc: config.oidc,
        expiry,
    };
    mesure_dashboard::service::run(settings, shutdown_signal(), |_| {}).await?;
    Ok(())
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

async fn site(config: &Config, command: SiteCommand) -> anyhow::Result<()> {
    let client = config.clickhouse.client();
    match command {
        SiteCommand::Put(args) => {
            let old = sites::load(&client)
                .await?
                .into_iter()
                .find(|row| row.site_id == args.id);
            let row = SiteRow {
                site_id: args.id.clone(),
                hostnames: args.hosts,
                time_zone: args.time_zone,
                mode: Mode::parse(&args.mode).unwrap_or(Mode::Exempt),
                allowed_params: args.params,
                allowed_events: args.events,
                city: !args.no_city,
                matomo_id: args.matomo_id,
                organisation: args.organisation,
                updated_at: 0,
                deleted: false,
            };
            sites::put(&client, row.clone()).await?;
            tracing::info!(site = %args.id, "site saved");
            for (action, detail) in audit::site_changes(old.as_ref(), &row) {
                users::audit(&client, action, &args.id, &detail).await;
            }
            if let Some(old) = old.filter(|old| old.mode != row.mode) {
                let now = mesure_accounts::now_ms();
                mesure_dashboard::annotations::mark_mode_change(&client, &row, old.mode, now)
                    .await?;
            }
        }
        SiteCommand::List => {
            for row in sites::load(&client).await? {
                let mut line = format!(
                    "{}\t{}\t{}\thosts={}\tparams={}\tevents={}\tcity={}",
                    row.site_id,
                    row.mode.as_str(),
                    row.time_zone,
                    row.hostnames.join(","),
                    row.allowed_params.join(","),
                    row.allowed_events.join(","),
                    row.city,
                );
                if let Some(id) = row.matomo_id {
                    line.push_str(&format!("\tmatomo_id={id}"));
                }
                if !row.organisation.is_empty() {
                    line.push_str(&format!("\torganisation={}", row.organisation));
                }
                print(&line);
            }
        }
        SiteCommand::Remove { id } => {
            sites::remove(&client, &id).await?;
            tracing::info!(site = %id, "site removed");
            users::audit(&client, Action::SiteRemoved, &id, "").await;
        }
    }
    Ok(())
}

async fn goal(config: &Config, command: GoalCommand) -> anyhow::Result<()> {
    use mesure_collector::sites::goals::{self, GoalRow};
    let client = config.clickhouse.client();
    match command {
        GoalCommand::Put {
            site,
            name,
            page,
            event,
        } => {
            let row = GoalRow {
                site_id: site.clone(),
                name: name.clone(),
                page_pattern: page.unwrap_or_default(),
                event_name: event.unwrap_or_default(),
                updated_at: 0,
                deleted: false,
            };
            let detail = if row.page_pattern.is_empty() {
                format!("{name}: event={}", row.event_name)
            } else {
                format!("{name}: page={}", row.page_pattern)
            };
            goals::put(&client, row).await?;
            tracing::info!(%site, goal = %name, "goal saved");
            users::audit(&client, Action::GoalSaved, &site, &detail).await;
        }
        GoalCommand::List { site } => {
            for row in goals::load(&client).await? {
                if site.as_ref().is_none_or(|s| *s == row.site_id) {
                    let target = if row.page_pattern.is_empty() {
                        format!("event={}", row.event_name)
                    } else {
                        format!("page={}", row.page_pattern)
                    };
                    print(&format!("{}\t{}\t{target}", row.site_id, row.name));
                }
            }
        }
        GoalCommand::Remove { site, name } => {
            goals::remove(&client, &site, &name).await?;
            tracing::info!(%site, goal = %name, "goal removed");
            users::audit(&client, Action::GoalRemoved, &site, &name).await;
        }
    }
    Ok(())
}

async fn show_notice(
    config: &Config,
    id: &str,
    (lang, format): (&str, &str),
) -> anyhow::Result<()> {
    use mesure_dashboard::notice::{self, Format};
    use mesure_dashboard::pages::i18n::Lang;
    let row = sites::load(&config.clickhouse.client())
        .await?
        .into_iter()
        .find(|row| row.site_id == id)
        .with_context(|| format!("no site {id}"))?;
    let site = sites::Site::from_row(&row)?;
    let lang = Lang::from_code(lang).unwrap_or(Lang::Fr);
    let format = Format::parse(format).unwrap_or(Format::Markdown);
    print(notice::notice(&config.notice_facts()?, &site, lang, format).trim_end());
    Ok(())
}

async fn show_audit(config: &Config, site: Option<String>, days: u32) -> anyhow::Result<()> {
    let now = mesure_accounts::now_ms();
    let filter = audit::Filter {
        site,
        from_ms: now - i64::from(days) * 86_400_000,
        to_ms: now + 1,
        limit: audit::MAX_ROWS,
        ..audit::Filter::default()
    };
    for row in audit::read(&config.clickhouse.client(), &filter).await? {
        let at = chrono::DateTime::from_timestamp_millis(row.at)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
            .unwrap_or_default();
        print(
            &[
                at.as_str(),
                &row.action,
                &row.actor,
                &row.credential,
                &row.site_id,
                &row.address,
                &row.detail,
            ]
            .join("\t"),
        );
    }
    Ok(())
}

async fn seal(config: &Config) -> anyhow::Result<()> {
    use mesure_dashboard::seal;
    use sites::goals::{self, Goal};
    let client = config.clickhouse.client();
    let sites: Vec<std::sync::Arc<sites::Site>> = sites::load(&client)
        .await?
        .iter()
        .filter_map(|row| sites::Site::from_row(row).ok())
        .map(std::sync::Arc::new)
        .collect();
    let goals: Vec<Goal> = goals::load(&client)
        .await?
        .iter()
        .filter_map(|row| Goal::from_row(row).ok())
        .collect();
    let started = std::time::Instant::now();
    let mut sealed = 0;
    loop {
        let now_ms = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis(),
        )?;
        let pass = seal::pass(&client, &sites, &goals, now_ms, 60).await?;
        sealed += pass.sealed;
        tracing::info!(sealed, left = pass.left, "sealing");
        if pass.left == 0 {
            break;
        }
    }
    tracing::info!(
        days = sealed,
        seconds = started.elapsed().as_secs(),
        "every finished day is sealed"
    );
    Ok(())
}

async fn demo_data(config: &Config, args: DemoArgs) -> anyhow::Result<()> {
    use mesure_dashboard::demo::{self, Spec};
    let client = config.clickhouse.client();
    let site_ids = if args.site_ids.is_empty() {
        let ids: Vec<String> = (1..=args.sites).map(|n| format!("demo-{n}")).collect();
        let known = sites::load(&client).await?;
        for id in ids
            .iter()
            .filter(|id| !known.iter().any(|s| &s.site_id == *id))
        {
            let mut row = SiteRow::new(id, &[&format!("www.{id}.fr")]);
            row.allowed_events = ["Inscription", "Formulaire / Envoi", "Recherche"]
                .map(str::to_owned)
                .to_vec();
            sites::put(&client, row).await?;
        }
        ids
    } else {
        args.site_ids
    };
    if args.if_empty {
        let existing: u64 = client
            .query("SELECT count() FROM events WHERE has(?, site_id)")
            .bind(site_ids.as_slice())
            .fetch_one()
            .await?;
        if existing > 0 {
            tracing::info!(
                events = existing,
                "the sites already have traffic: nothing generated"
            );
            return Ok(());
        }
    }
    let spec = Spec {
        sites: site_ids,
        days: args.days,
        events: args.events,
        seed: args.seed,
    };
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs() / 86_400).unwrap_or(0));
    let started = std::time::Instant::now();
    let inserted = demo::generate(&client, &spec, today, |done, all| {
        tracing::info!(visits = done, of = all, "demo traffic");
    })
    .await?;
    tracing::info!(
        events = inserted,
        seconds = started.elapsed().as_secs(),
        sites = ?spec.sites,
        "demo traffic generated"
    );
    Ok(())
}

fn show_config(mut config: Config) -> anyhow::Result<()> {
    if !config.clickhouse.password.is_empty() {
        config.clickhouse.password = "(hidden)".to_owned();
    }
    config.accounts.url = users::redacted(&config.accounts.url);
    if !config.oidc.client_secret.is_empty() {
        config.oidc.client_secret = "(hidden)".to_owned();
    }
    print(&toml::to_string(&config)?);
    Ok(())
}
