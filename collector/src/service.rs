//! The running collector: opens the spool, builds the pipeline from what
//! the spool's directory remembers (sites, salts), starts the background
//! tasks (site registry, salts, sessions, ClickHouse health, the shipper),
//! serves HTTP, and on shutdown stops accepting, then ships what it can.

use crate::clock::{Clock, SystemClock};
use crate::config::{CollectorConfig, ConfigError, GeoConfig};
use crate::delivery::{ClickHouseEvents, Timeouts, timed};
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::pipeline::agent::{Agents, AgentsError};
use crate::pipeline::geo::{Geo, GeoError, LiveGeo};
use crate::pipeline::referrer::{Referrers, ReferrersError};
use crate::pipeline::session::Sessions;
use crate::salt::SharedSalts;
use crate::server::{Collector, Health};
use crate::sites::Registry;
use crate::spool::{Spool, SpoolConfig, SpoolError};
use clickhouse::Client;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Where, in the spool's directory, the GeoIP databases are copied to be
/// mapped.
pub const GEOIP_COPIES: &str = "geoip";

/// Largest request head (request line and headers) read.
pub const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Agents(#[from] AgentsError),
    #[error(transparent)]
    Geo(#[from] GeoError),
    #[error(transparent)]
    Referrers(#[from] ReferrersError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
}

/// Everything the collector needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bound to the Mesure database.
    pub client: Client,
    pub timeouts: Timeouts,
    pub collector: CollectorConfig,
    pub geoip: GeoConfig,
    pub spool: SpoolConfig,
    /// Months the data is kept (`retention.months`), as the opt-out page says.
    pub retention_months: u32,
}

/// Runs until `shutdown` completes. `ready` receives the bound address.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), StartError> {
    let config = &settings.collector;
    config.validate()?;
    settings.spool.validate()?;
    let metrics = Metrics::new();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let spool = Spool::open(
        &settings.spool,
        ClickHouseEvents {
            client: settings.client.clone(),
            timeouts: settings.timeouts,
            metrics: metrics.clone(),
        },
        config.batch_limits(),
        metrics.clone(),
        Duration::from_secs(config.shutdown_grace_seconds),
    )?;
    // Mapped from copies in the spool's directory, now held locked.
    let geo = Arc::new(LiveGeo::open_mapped(
        &settings.geoip.databases,
        settings.geoip.cache.unwrap_or(100_000),
        &settings.spool.dir.join(GEOIP_COPIES),
    )?);
    set_geoip_age(&metrics, &geo.current());
    // What the last run knew: a start while ClickHouse is down still
    // serves the sites and uses the salts it had.
    let registry = Arc::new(Registry::default());
    match registry.restore(&settings.spool.dir) {
        Ok(Some(count)) => tracing::info!(sites = count, "sites restored from the local copy"),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "local copy of the sites unreadable"),
    }
    let salts = Arc::new(SharedSalts::new(
        config.salt_days_ahead,
        Some(settings.spool.dir.clone()),
    ));
    if let Err(error) = salts.restore(clock.now_ms()).await {
        tracing::warn!(%error, "local copy of the salts unreadable");
    }
    let sessions = Arc::new(Sessions::new(
        config.session_timeout_minutes,
        config.max_sessions,
    ));
    if settings.geoip.databases.is_empty() {
        tracing::warn!("no GeoIP database configured: countries, regions and cities stay empty");
    }
    let health = Arc::new(Health {
        geoip_optional: settings.geoip.databases.is_empty(),
        ..Health::default()
    });
    let geo_refresh = spawn_geo_refresh(&geo, &metrics);
    let pipeline = Pipeline {
        registry: Arc::clone(&registry),
        agents: Arc::new(Agents::new(config.user_agent_cache)?),
        geo,
        referrers: Arc::new(Referrers::new()?),
        salts: Arc::clone(&salts) as _,
        sessions: Arc::clone(&sessions),
        network: config.network().map_err(ConfigError::from)?,
        clock: Arc::clone(&clock),
        honor_signals: config.honor_dnt_and_gpc,
    };
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let shipper = tokio::spawn(spool.shipper.run(stopping));
    let sink = spool.sink;
    let background = spawn_background(
        &settings, &registry, &salts, &sessions, &health, &metrics, &clock,
    );

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|error| StartError::Listen {
            addr: config.listen,
            error,
        })?;
    let addr = listener.local_addr().map_err(|error| StartError::Listen {
        addr: config.listen,
        error,
    })?;
    tracing::info!(%addr, "collector listening");
    ready(addr);
    let collector = Arc::new(Collector {
        pipeline,
        sink: Arc::new(sink.clone()),
        metrics: metrics.clone(),
        health,
        limits: crate::server::Limits {
            max_connections: config.max_connections,
            read_timeout: Duration::from_millis(config.read_timeout_ms),
        },
        retention_months: settings.retention_months,
    });
    let depth = spawn_every(Duration::from_secs(1), move || {
        metrics
            .queue_rows
            .set(i64::try_from(sink.queued()).unwrap_or(i64::MAX));
        std::future::ready(())
    });
    serve(listener, collector, shutdown).await;

    for task in background {
        task.abort();
    }
    depth.abort();
    geo_refresh.abort();
    // The connections are gone, and with them every sender: the writer ends
    // once it has written what it holds; then the shipper drains the spool.
    let writer = spool.writer;
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    let _ = stopping_tx.send(true);
    let _ = shipper.await;
    drop(spool._lock);
    tracing::info!("collector stopped");
    Ok(())
}

/// Serves HTTP until `shutdown`, then lets open connections finish (10 s at most).
pub async fn serve(
    listener: TcpListener,
    collector: Arc<Collector>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(
        collector.limits.max_connections,
    ));
    let read_timeout = collector.limits.read_timeout;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // At the limit, new connections wait in the kernel's backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let collector = Arc::clone(&collector);
                let service = service_fn(move |request| {
                    let collector = Arc::clone(&collector);
                    async move { Ok::<_, Infallible>(collector.handle(request, peer.ip()).await) }
                });
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(read_timeout)
                    .max_buf_size(MAX_HEAD)
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    // Client errors (resets, malformed requests) end only their connection.
                    let _ = connection.await;
                    drop(slot);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    drop(collector);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 10 s, closing them");
    }
}

/// Runs `tick` now, then every `period`, until aborted.
/// How often the GeoIP files are looked at for a new version.
const GEOIP_CHECK: Duration = Duration::from_secs(60);

fn set_geoip_age(metrics: &Metrics, geo: &Geo) {
    if let Some(built) = geo.oldest_build() {
        let age = SystemTime::now()
            .duration_since(built)
            .map_or(0, |d| d.as_secs());
        metrics
            .geoip_age
            .set(i64::try_from(age).unwrap_or(i64::MAX));
    }
}

/// Opens the GeoIP files again when an operator replaces them, without a
/// restart.
fn spawn_geo_refresh(geo: &Arc<LiveGeo>, metrics: &Metrics) -> JoinHandle<()> {
    let (geo, metrics) = (Arc::clone(geo), metrics.clone());
    spawn_every(GEOIP_CHECK, move || {
        let (geo, metrics) = (Arc::clone(&geo), metrics.clone());
        async move {
            let refreshed = tokio::task::spawn_blocking(move || {
                let outcome = geo.refresh();
                if let Ok(true) = outcome {
                    set_geoip_age(&metrics, &geo.current());
                }
                outcome
            })
            .await;
            match refreshed {
                Ok(Ok(true)) => {
                    tracing::info!("GeoIP databases changed on disk: new version in use")
                }
                Ok(Ok(false)) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "GeoIP database changed but unreadable: the previous version stays in use");
                }
                Err(error) => tracing::warn!(%error, "GeoIP refresh stopped"),
            }
        }
    })
}

fn spawn_every<F, Fut>(period: Duration, mut tick: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            tick().await;
        }
    })
}

fn spawn_background(
    settings: &Settings,
    registry: &Arc<Registry>,
    salts: &Arc<SharedSalts>,
    sessions: &Arc<Sessions>,
    health: &Arc<Health>,
    metrics: &Metrics,
    clock: &Arc<dyn Clock>,
) -> Vec<JoinHandle<()>> {
    let timeouts = settings.timeouts;
    let sites = {
        let (client, registry, metrics, dir) = (
            settings.client.clone(),
            Arc::clone(registry),
            metrics.clone(),
            settings.spool.dir.clone(),
        );
        spawn_every(
            Duration::from_secs(settings.collector.sites_refresh_seconds),
            move || {
                let (client, registry, metrics, dir): (_, _, _, PathBuf) = (
                    client.clone(),
                    Arc::clone(&registry),
                    metrics.clone(),
                    dir.clone(),
                );
                async move {
                    let reload = registry.reload(&client, Some(&dir));
                    match timed(&timeouts, &metrics, "sites", reload).await {
                        Ok(count) => metrics.sites.set(i64::try_from(count).unwrap_or(i64::MAX)),
                        Err(error) => tracing::warn!(%error, "site registry not reloaded"),
                    }
                }
            },
        )
    };
    let salt = {
        let (client, salts, metrics, clock) = (
            settings.client.clone(),
            Arc::clone(salts),
            metrics.clone(),
            Arc::clone(clock),
        );
        spawn_every(Duration::from_secs(60), move || {
            let (client, salts, metrics, clock) = (
                client.clone(),
                Arc::clone(&salts),
                metrics.clone(),
                Arc::clone(&clock),
            );
            async move {
                let now = clock.now_ms();
                let refresh = salts.refresh(&client, now);
                if let Err(error) = timed(&timeouts, &metrics, "salts", refresh).await {
                    tracing::warn!(%error, "daily salts not refreshed");
                }
                metrics.salt_age.set(salts.age_seconds(now).unwrap_or(-1));
                metrics.salt_days_ahead.set(salts.days_ahead(now));
            }
        })
    };
    let sweep = {
        let (sessions, metrics, clock) = (Arc::clone(sessions), metrics.clone(), Arc::clone(clock));
        spawn_every(Duration::from_secs(60), move || {
            let remaining = sessions.sweep(clock.now_ms());
            metrics
                .sessions
                .set(i64::try_from(remaining).unwrap_or(i64::MAX));
            metrics.sessions_untracked.inc_by(sessions.take_untracked());
            std::future::ready(())
        })
    };
    let ping = {
        let (client, health, metrics) =
            (settings.client.clone(), Arc::clone(health), metrics.clone());
        spawn_every(Duration::from_secs(5), move || {
            let (client, health, metrics) = (client.clone(), Arc::clone(&health), metrics.clone());
            async move {
                let ping = client.query("SELECT 1").fetch_one::<u8>();
                let ok = timed(&timeouts, &metrics, "ping", ping).await.is_ok();
                health.clickhouse.store(ok, Ordering::Relaxed);
            }
        })
    };
    vec![sites, salt, sweep, ping]
}
