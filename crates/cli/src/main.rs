//! `weft`: the Weft command-line client, for people, scripts and bots.
//!
//! `weft [--data-dir DIR] [--json] <noun> <verb> ...`. Exit codes: 0 ok, 1 other error,
//! 2 usage, 3 invalid input, 4 not found, 5 forbidden, 6 data directory (or a file's content)
//! damaged or too new, 7 a file's content not here yet.

// Printing results is what these binaries are for; the lint guards the libraries.
#![allow(clippy::print_stdout)]

mod cli;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let json = args.json;
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let kind = if let Some(ce) = e.downcast_ref::<weft_core::CoreError>() {
                ce.kind()
            } else if let Some(de) = e.downcast_ref::<weft_domain::DomainError>() {
                weft_core::CoreError::Invalid(de.clone()).kind()
            } else {
                "error"
            };
            let code = exit_code(kind);
            if json {
                eprintln!(
                    "{}",
                    serde_json::json!({ "error": { "kind": kind, "message": format!("{e:#}") } })
                );
            } else {
                eprintln!("weft: {e:#}");
            }
            ExitCode::from(code)
        }
    }
}

fn exit_code(kind: &str) -> u8 {
    match kind {
        "invalid" | "bad_input" | "archived" | "conflict" => 3,
        "not_found" | "no_profile" => 4,
        "forbidden" => 5,
        "corrupt" | "too_new" => 6,
        "not_here_yet" => 7,
        _ => 1,
    }
}
