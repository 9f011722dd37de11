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

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    weft_relay::init_logs(args.json_logs);
    let config = match weft_relay::Config::load(args.config.as_deref(), |k| std::env::var(k).ok()) {
        Ok(mut c) => {
            if let Some(l) = args.listen {
                c.listen = l;
            }
            if let Some(d) = args.data_dir {
                c.data_dir = d;
            }
            c
        }
        Err(e) => {
            eprintln!("weft-relay: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // The address on stdout, so scripts and tests can find a relay started on port 0.
    #[allow(clippy::print_stdout)]
    let announce = |addr| println!("{}", weft_relay::announcement(addr));
    match weft_relay::run_until_signal(&config, announce) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weft-relay: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
