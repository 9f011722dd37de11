//! `weft-relay [--config FILE]`: runs the relay until SIGINT or SIGTERM.

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "weft-relay", version, about = "The Weft relay")]
struct Args {
    /// TOML configuration file; `WEFT_RELAY_*` environment variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (overrides the file and the environment).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Data directory (overrides the file and the environment).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Logs as JSON lines.
    #[arg(long)]
    json_logs: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if args.json_logs {
        fmt.json().init();
    } else {
        fmt.init();
    }
    let mut config =
        match weft_relay::Config::load(args.config.as_deref(), |k| std::env::var(k).ok()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("weft-relay: {e}");
                return std::process::ExitCode::from(2);
            }
        };
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(d) = args.data_dir {
        config.data_dir = d;
    }
    let running = match weft_relay::start(&config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weft-relay: {e:#}");
            return std::process::ExitCode::from(1);
        }
    };
    // The address on stdout, so scripts and tests can find a relay started on port 0.
    #[allow(clippy::print_stdout)]
    {
        println!("listening on {}", running.addr);
    }
    let term = async {
        #[cfg(unix)]
        {
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
                return;
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
    match running.shutdown().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weft-relay: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
