//! `weft-bench`: system-level benchmarks. Each scenario prints ONE JSON object on stdout, with
//! its baselines measured in the same run (this machine is shared and noisy: compare ratios).
//!
//! `cargo run --release -p weft-bench -- store --messages 1000000`

// Printing results is what these binaries are for; the lint guards the libraries.
#![allow(clippy::print_stdout)]

use anyhow::Result;
use clap::{Parser, Subcommand};

mod app;
mod call;
mod catchup;
mod media;
mod relay;
mod store;

#[derive(Debug, Parser)]
#[command(name = "weft-bench", about = "Weft system benchmarks (JSON out)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Local store: import, open a channel, search, local edits, size on disk.
    Store(store::Opts),
    /// Relay fan-out on loopback: deliveries per second, latency, memory per connection.
    Relay(relay::Opts),
    /// Catch-up through a relay: a new member receives the whole history.
    Catchup(catchup::Opts),
    /// Media engine: Opus and H.264 per-frame cost, picture quality, bitrate accuracy.
    Media(media::Opts),
    /// A loopback call: connect time, glass-to-glass latency, delivery, quality, CPU.
    Call(call::Opts),
    /// The desktop app: cold start to interactive and memory, with a 100k-message workspace.
    App(app::Opts),
    /// (internal) The relay alone in this process, for the relay scenario.
    #[command(hide = true)]
    RelayServer(relay::ServerOpts),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let out = match cli.cmd {
        Cmd::Store(o) => store::run(&o)?,
        Cmd::Relay(o) => relay::run(&o)?,
        Cmd::Catchup(o) => catchup::run(&o)?,
        Cmd::Media(o) => media::run(&o)?,
        Cmd::App(o) => app::run(&o)?,
        Cmd::Call(o) => call::run(&o)?,
        Cmd::RelayServer(o) => return relay::serve(&o),
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
