//! Weft scenario tests: real `weft` processes, real SQLite files, several replicas.
//!
//! - `bulk`        — a large remote batch (applied on two threads) lands what small batches
//!   land; a bad change deep inside it leaves nothing behind.
//! - `cli`         — the `weft` binary end to end: two people's replicas merging through change
//!   files; exit codes and messages scripts rely on.
//! - `crash`       — a `weft` write loop killed with SIGKILL a hundred times: every edit it
//!   reported is there after restart and the database is intact.
//! - `convergence` — property test: 3 to 5 replicas, random operations on every document kind,
//!   random exchange order; identical documents and read models at the end.
//! - `merge`       — the merge rules people notice: card moved twice, reorders, edit vs
//!   delete, concurrent field edits, reactions.
//! - `features`    — search filters, the start-up heads check, subscriptions, analytics, files,
//!   integrations, calendar views and ICS through the engine.
//! - `files`       — files through a real relay: a private channel's attachment fetched whole
//!   by a member and refused to others, damaged chunks never taken for content.
//! - `hostile`     — malformed change files, truncated databases, absurd sizes, invalid UTF-8,
//!   wrong time zones: a clear error, nothing lost.
//! - `timers`      — scheduled messages and reminders fire offline, and once after a restart.
//! - `inbox`       — mentions, DMs, keywords, levels, do-not-disturb and focus.
//! - `sync`        — three people through a real relay: invites, live edits, offline edits
//!   converging, a removed member cut off, a relay that holds no readable content.
//! - `live`        — two devices watching: edits, typing and presence heard live, a relay
//!   killed and restarted ridden out.
//! - `calls`       — two people's call signalled through a real relay: media peer to peer,
//!   forged, altered and outsider signals refused, a relay restart ridden out.
//! - `relay`       — `weft relay` serves until terminated. (The relay's own scenarios, against
//!   its real process, are in `crates/relay/tests`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod util;

mod bulk;
mod calls;
mod cli;
mod convergence;
mod crash;
mod features;
mod files;
mod hostile;
mod inbox;
mod live;
mod merge;
mod relay;
mod sync;
mod timers;
