//! The `sentinel-console` binary: serve the console (default) or run the simulator alone.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use sentinel_console::config::Config;
use sentinel_console::simulator::{SimConfig, Simulator};
use sentinel_console::startup::{Application, shutdown_signal};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    version,
    about = "Sentinel Console: run thousands of cellular lines from a browser"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the console (the default). Configuration comes from the environment.
    Serve,
    /// Run the Sentinel simulator and demo sign-in alone (for tests and benchmarks).
    Simulate {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        bind: SocketAddr,
        /// Lines in the large device group.
        #[arg(long, default_value_t = 100_000)]
        large_group: u64,
        /// Lifetime of demo access tokens, in seconds.
        #[arg(long, default_value_t = 3600)]
        token_ttl: u64,
        /// A redirect URI the demo sign-in accepts (repeatable). None given: only loopback
        /// `http://…/auth/callback` URIs (consoles on this machine).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<url::Url>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Simulate {
            bind,
            large_group,
            token_ttl,
            redirect_uris,
        } => {
            let sim = Simulator::new(SimConfig {
                large_group_size: large_group,
                token_ttl: std::time::Duration::from_secs(token_ttl),
                redirect_uris,
                // The standalone simulator serves tests and benchmarks: its control endpoints are its point.
                control_endpoints: true,
            });
            sim.start_usage_clock(std::time::Duration::from_secs(60));
            let listener = tokio::net::TcpListener::bind(bind).await?;
            let addr = listener.local_addr()?;
            println!("Sentinel simulator on http://{addr}");
            println!("  API base:  http://{addr}/sentinel/api");
            println!("  OAuth:     http://{addr}/oauth/authorize, /oauth/token, /oauth/revoke");
            axum::serve(listener, sim.router())
                .with_graceful_shutdown(shutdown_signal())
                .await?;
            Ok(())
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let demo = config.is_demo();
    let app = Application::build(config).await?;
    let url = app.state().public_url.clone();
    println!("Sentinel Console is serving on {url}");
    if demo {
        println!(
            "DEMO MODE: simulated lines and a demo sign-in that needs no password. Not for real data."
        );
        println!(
            "  Demo users (pick one on the sign-in page): super, tech, kajeet, manager, media, readonly, limited, choice"
        );
        println!("  Device group NORTHSTAR-ISD has 499 lines.");
    }
    app.run_until_stopped(shutdown_signal()).await?;
    Ok(())
}
