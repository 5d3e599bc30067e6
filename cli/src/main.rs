//! `mesure`: the one binary of Mesure. Each service and each operation is a
//! subcommand; `mesure help <command>` documents it.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use mesure_schema::{Migrator, Retention, Target};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "mesure",
    version,
    about = "Privacy-first web audience measurement"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or upgrade the ClickHouse schema and apply the retention to its TTLs.
    Migrate(MigrateArgs),
    /// Delete now the data past the retention, without waiting for TTL merges.
    Expire(SchemaArgs),
}

#[derive(Debug, Args)]
struct MigrateArgs {
    #[command(flatten)]
    schema: SchemaArgs,
    /// Print the statements for an empty database instead of running them.
    #[arg(long)]
    print: bool,
}

#[derive(Debug, Args)]
struct SchemaArgs {
    /// ClickHouse HTTP URL.
    #[arg(
        long,
        env = "MESURE_CLICKHOUSE_URL",
        default_value = "http://127.0.0.1:8123"
    )]
    clickhouse_url: String,
    /// ClickHouse user.
    #[arg(long, env = "MESURE_CLICKHOUSE_USER", default_value = "default")]
    clickhouse_user: String,
    /// ClickHouse password.
    #[arg(
        long,
        env = "MESURE_CLICKHOUSE_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    clickhouse_password: String,
    /// Database that holds Mesure's tables.
    #[arg(long, env = "MESURE_CLICKHOUSE_DATABASE", default_value = "mesure")]
    database: String,
    /// ClickHouse cluster to create replicated and distributed tables on.
    #[arg(long, env = "MESURE_CLICKHOUSE_CLUSTER")]
    cluster: Option<String>,
    /// How long raw events and sessions are kept, in months (1 to 25).
    #[arg(long, env = "MESURE_RETENTION_MONTHS", default_value_t = 6, value_parser = parse_retention)]
    retention_months: u32,
}

fn parse_retention(value: &str) -> Result<u32, String> {
    let months: u32 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of months"))?;
    Retention::months(months)
        .map(Retention::as_months)
        .map_err(|e| e.to_string())
}

impl SchemaArgs {
    fn migrator(&self) -> anyhow::Result<Migrator> {
        let target = Target::new(&self.database, self.cluster.as_deref())?;
        let retention = Retention::months(self.retention_months)?;
        let client = clickhouse::Client::default()
            .with_url(&self.clickhouse_url)
            .with_user(&self.clickhouse_user)
            .with_password(&self.clickhouse_password)
            .with_compression(clickhouse::Compression::Lz4);
        Ok(Migrator::new(client, target, retention))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Migrate(args) => migrate(args).await,
        Command::Expire(args) => expire(args).await,
    }
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let migrator = args.schema.migrator()?;
    if args.print {
        for statement in migrator.plan()? {
            #[expect(
                clippy::print_stdout,
                reason = "printing the plan is the command's output"
            )]
            {
                println!("{statement};\n");
            }
        }
        return Ok(());
    }
    let report = migrator
        .migrate()
        .await
        .with_context(|| format!("migrating {}", args.schema.clickhouse_url))?;
    tracing::info!(
        applied = ?report.applied,
        retention_changed = ?report.retention_changed,
        database = %args.schema.database,
        "schema is up to date"
    );
    Ok(())
}

async fn expire(args: SchemaArgs) -> anyhow::Result<()> {
    let expiry = args.migrator()?.expire().await.context("forcing expiry")?;
    tracing::info!(dropped = ?expiry.dropped, materialized = ?expiry.materialized, "expired data deleted");
    Ok(())
}
