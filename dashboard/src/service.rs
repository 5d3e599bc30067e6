//! The running dashboard: loads the site registry (and keeps it fresh),
//! serves the routes, and stops gracefully.

use crate::app::{AppState, app};
use crate::config::{ConfigError, DashboardConfig};
use crate::metrics::Metrics;
use crate::query::Reader;
use crate::seal;
use clickhouse::Client;
use mesure_accounts::tasks::EXPIRY_TASK;
use mesure_schema::Timeouts;
use mesure_sites::Registry;
use mesure_sites::goals::{self, Goal};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Oidc(#[from] crate::oidc::OidcConfigError),
    #[error("single sign-on: {0}")]
    Provider(#[from] crate::oidc::OidcError),
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
}

/// Everything the dashboard needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bound to the Mesure database.
    pub client: Client,
    pub timeouts: Timeouts,
    pub dashboard: DashboardConfig,
    /// Users, roles and sessions, migrated.
    pub accounts: mesure_accounts::Store,
    pub policy: mesure_accounts::sessions::Policy,
    /// Single sign-on (off without an issuer).
    pub oidc: crate::oidc::OidcConfig,
    /// The daily forced expiry (`mesure expire`), run by one replica a
    /// day; `None`: not run by the dashboard.
    pub expiry: Option<mesure_schema::Migrator>,
    /// What the privacy notices say: the live configuration.
    pub notice: crate::notice::Facts,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Reloads the sites and their goals (invalid rows skipped); the number
/// of sites.
pub(crate) async fn reload(
    client: &Client,
    registry: &Registry,
    goals: &RwLock<Arc<Vec<Goal>>>,
) -> Result<usize, mesure_sites::RegistryError> {
    let count = registry.reload(client, None).await?;
    let valid = goals::load(client)
        .await?
        .iter()
        .filter_map(|row| Goal::from_row(row).ok())
        .collect();
    *goals.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(valid);
    Ok(count)
}

/// How often a replica looks whether today's expiry has run.
const EXPIRY_CHECK: Duration = Duration::from_secs(15 * 60);

/// Runs the forced expiry once a UTC day, on the one replica that claims
/// the day in the accounts store; a failed run is given back and tried
/// again at the next check. Without a migrator (`daily_expiry = false`),
/// only reports when a run by `mesure expire` last finished.
async fn expire_daily(
    migrator: Option<mesure_schema::Migrator>,
    accounts: mesure_accounts::Store,
    metrics: Metrics,
) {
    loop {
        if let Some(migrator) = &migrator {
            expire_today(migrator, &accounts, &metrics).await;
        }
        if let Ok(Some(at)) = accounts.last_finished(EXPIRY_TASK).await {
            metrics.expiry_last_run.set(at / 1000);
        }
        tokio::time::sleep(EXPIRY_CHECK).await;
    }
}

async fn expire_today(
    migrator: &mesure_schema::Migrator,
    accounts: &mesure_accounts::Store,
    metrics: &Metrics,
) {
    let now = now_ms();
    let day = chrono::DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .date_naive()
        .to_string();
    match accounts.claim_task(EXPIRY_TASK, &day, now).await {
        Ok(true) => match migrator.expire().await {
            Ok(expiry) => {
                metrics.expiry_runs.with_label_values(&["done"]).inc();
                tracing::info!(dropped = ?expiry.dropped, materialized = ?expiry.materialized, salts = expiry.salts, "daily expiry done");
                if let Err(error) = accounts.finish_task(EXPIRY_TASK, &day, now_ms()).await {
                    tracing::warn!(%error, "daily expiry done, not recorded");
                }
            }
            Err(error) => {
                metrics.expiry_runs.with_label_values(&["failed"]).inc();
                tracing::warn!(%error, "daily expiry failed; tried again later");
                if let Err(error) = accounts.release_task(EXPIRY_TASK, &day).await {
                    tracing::warn!(%error, "daily expiry claim not given back");
                }
            }
        },
        Ok(false) => {}
        Err(error) => tracing::warn!(%error, "daily expiry not claimed"),
    }
}

/// Seals finished days every `period`, once the sites are known.
async fn seal_forever(
    reader: Reader,
    registry: Arc<Registry>,
    goals: Arc<RwLock<Arc<Vec<Goal>>>>,
    metrics: Metrics,
    period: Duration,
) {
    loop {
        // The first pass as soon as the sites are known.
        if !registry.is_known() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let sites: Vec<_> = registry.current().iter().cloned().collect();
        let goals = Arc::clone(&goals.read().unwrap_or_else(PoisonError::into_inner));
        let timer = metrics.seal_duration.start_timer();
        match seal::pass(&reader.client, &sites, &goals, now_ms(), usize::MAX).await {
            Ok(pass) => {
                if pass.sealed > 0 {
                    reader.forget_sealed_days();
                }
                metrics
                    .sealed_days
                    .inc_by(u64::try_from(pass.sealed).unwrap_or(0));
                metrics
                    .unsealed_days
                    .set(i64::try_from(pass.left).unwrap_or(i64::MAX));
                if pass.sealed > 0 {
                    tracing::info!(days = pass.sealed, "days sealed");
                }
            }
            Err(error) => {
                metrics.seal_errors.inc();
                tracing::warn!(%error, "sealing stopped; next pass will resume");
            }
        }
        timer.observe_duration();
        tokio::time::sleep(period).await;
    }
}

/// Runs until `shutdown` completes. `ready` receives the bound address.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), StartError> {
    settings.dashboard.validate()?;
    settings.oidc.validate()?;
    let oidc = if settings.oidc.enabled() {
        Some(crate::oidc::Provider::new(settings.oidc.clone())?)
    } else {
        None
    };
    let metrics = Metrics::new();
    let registry = Arc::new(Registry::default());
    let goals: Arc<RwLock<Arc<Vec<Goal>>>> = Arc::default();
    let refresh = {
        let (client, registry, goals, metrics, timeouts) = (
            settings.client.clone(),
            Arc::clone(&registry),
            Arc::clone(&goals),
            metrics.clone(),
            settings.timeouts,
        );
        let period = Duration::from_secs(settings.dashboard.sites_refresh_seconds);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                match tokio::time::timeout(timeouts.receive, reload(&client, &registry, &goals))
                    .await
                {
                    Ok(Ok(count)) => metrics.sites.set(i64::try_from(count).unwrap_or(i64::MAX)),
                    Ok(Err(error)) => tracing::warn!(%error, "site registry not reloaded"),
                    Err(_) => tracing::warn!("site registry not reloaded: clickhouse timed out"),
                }
            }
        })
    };
    let reader = Reader::new(
        settings.client.clone(),
        settings.dashboard.sealed_cache_mib.saturating_mul(1 << 20),
    )
    .counted(metrics.sealed_answers.clone());
    let expirer = tokio::spawn(expire_daily(
        settings.expiry.clone(),
        settings.accounts.clone(),
        metrics.clone(),
    ));
    let sealer = tokio::spawn(seal_forever(
        reader.clone(),
        Arc::clone(&registry),
        Arc::clone(&goals),
        metrics.clone(),
        Duration::from_secs(settings.dashboard.seal_interval_seconds),
    ));
    let state = AppState {
        reader,
        timeouts: settings.timeouts,
        registry,
        goals,
        metrics,
        now_ms: Arc::new(now_ms),
        accounts: settings.accounts.clone(),
        policy: settings.policy,
        network: Arc::new(settings.dashboard.network()),
        notice: Arc::new(settings.notice.clone()),
        oidc,
    };
    // Ended sessions and old sign-in failures are deleted every few minutes.
    let sweeper = {
        let (accounts, policy) = (settings.accounts, settings.policy);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(300));
            loop {
                interval.tick().await;
                if let Err(error) = accounts.sweep(now_ms(), policy).await {
                    tracing::warn!(%error, "ended sessions not deleted");
                }
            }
        })
    };
    let listener = tokio::net::TcpListener::bind(settings.dashboard.listen)
        .await
        .map_err(|error| StartError::Listen {
            addr: settings.dashboard.listen,
            error,
        })?;
    let addr = listener.local_addr().map_err(|error| StartError::Listen {
        addr: settings.dashboard.listen,
        error,
    })?;
    tracing::info!(%addr, "dashboard listening");
    ready(addr);
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    refresh.abort();
    sweeper.abort();
    sealer.abort();
    expirer.abort();
    if let Err(error) = served {
        tracing::error!(%error, "dashboard server failed");
    }
    tracing::info!("dashboard stopped");
    Ok(())
}
