//! Printing results as text for people or as JSON for scripts.

use serde::Serialize;
use std::io::Write;

/// Prints `value` as one JSON document, or `text` for people.
pub fn emit<T: Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, value)?;
        writeln!(out)?;
    } else {
        let t = text();
        if !t.is_empty() {
            writeln!(out, "{t}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A timestamp for people.
pub fn when(ms: i64) -> String {
    weft_domain::Timestamp(ms)
        .to_utc()
        .format("%Y-%m-%d %H:%M")
        .to_string()
}
