//! The connection to a relay: moves frames between the WebSocket and the sans-IO
//! [`weft_sync::Session`], and hands what arrives to the engine. The binary owns the runtime;
//! this only needs a tokio reactor and timer.

use crate::{CoreError, Engine, Result};
use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use weft_proto::{ClientFrame, ErrorCode, RelayFrame};
use weft_sync::{Event, Session};

/// Bytes a connection to a relay reads at a time. tungstenite zeroes that much of its read
/// buffer before every read, so its 128 KiB default costs a 128 KiB memset per frame
/// received: with a thousand devices on one machine in `weft-bench relay`, the receivers spent
/// more time there than anywhere else. 16 KiB still reads a large catch-up frame in few reads
/// (the buffer grows to hold a whole frame).
pub const RELAY_READ_CHUNK: usize = 16 * 1024;

/// The WebSocket settings of a device's connection to a relay.
pub fn relay_client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(RELAY_READ_CHUNK)
}

/// Pushes in flight at once (the relay's rate limit allows bursts of a few hundred).
pub const WINDOW: usize = 64;
/// File chunks (up to 1 MiB each) being uploaded at once.
pub const CHUNK_UPLOADS: usize = 4;
/// File chunks asked for at once.
pub const CHUNK_FETCHES: usize = 8;
/// How long uploads wait after the relay said the workspace's files are over its quota, and
/// the longest a chunk the relay did not have (or sent damaged) waits before it is asked again.
pub const CHUNK_RETRY: Duration = Duration::from_secs(30);
/// The first wait before a chunk the relay did not have is asked again (doubling each time it
/// is still missing, up to [`CHUNK_RETRY`]): a file just sent is often still on its way up.
pub const CHUNK_RETRY_FIRST: Duration = Duration::from_secs(1);
/// Missed chunks remembered per connection before those due again are forgotten.
const MAX_CHUNKS_MISSED: usize = 4096;

/// How long a chunk missed `misses` times waits before it is asked again.
fn chunk_retry_wait(misses: u32) -> Duration {
    CHUNK_RETRY_FIRST
        .saturating_mul(1u32 << misses.saturating_sub(1).min(16))
        .min(CHUNK_RETRY)
}
/// How long connecting and the handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait between reconnection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long a sync runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Until every log is up to date and every local change is acknowledged.
    Once,
    /// Until stopped, reconnecting with backoff.
    Watch,
}

/// What a UI shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncStatus {
    Offline {
        error: Option<String>,
    },
    Connecting,
    /// Backlog arriving or local changes not yet acknowledged.
    Syncing {
        pending: u64,
    },
    UpToDate,
}

/// Counts from one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SyncReport {
    pub entries_received: u64,
    /// Bytes of the entries received (envelopes as stored on the relay).
    pub bytes_received: u64,
    pub changes_new: u64,
    pub pushes_acked: u64,
    pub connections: u64,
}

type Shared = Arc<Mutex<Engine>>;

fn lock(e: &Shared) -> std::sync::MutexGuard<'_, Engine> {
    e.lock().unwrap_or_else(|p| p.into_inner())
}

/// Syncs one account. `Once` returns when up to date (or with the first error); `Watch`
/// runs until `stop` turns true, reconnecting with exponential backoff.
pub async fn sync_account(
    engine: Shared,
    account: i64,
    mode: SyncMode,
    status: watch::Sender<SyncStatus>,
    mut stop: watch::Receiver<bool>,
) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    let mut backoff = Duration::from_millis(250);
    loop {
        let _ = status.send(SyncStatus::Connecting);
        report.connections += 1;
        let mut was_ready = false;
        let res = connection(
            &engine,
            account,
            mode,
            &status,
            &mut stop,
            &mut report,
            &mut was_ready,
        )
        .await;
        if was_ready {
            // It worked until it broke: try again soon, not after the longest wait.
            backoff = Duration::from_millis(250);
        }
        match (res, mode) {
            (Ok(()), _) => {
                let _ = status.send(if *stop.borrow() {
                    SyncStatus::Offline { error: None }
                } else {
                    SyncStatus::UpToDate
                });
                return Ok(report);
            }
            (Err(e), SyncMode::Once) => {
                let _ = status.send(SyncStatus::Offline {
                    error: Some(e.to_string()),
                });
                return Err(e);
            }
            (Err(e), SyncMode::Watch) => {
                tracing::info!(error = %e, ?backoff, "relay connection lost; reconnecting");
                let _ = status.send(SyncStatus::Offline {
                    error: Some(e.to_string()),
                });
                if matches!(e, CoreError::Forbidden(_)) {
                    return Err(e);
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped(&mut stop) => return Ok(report),
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Queues access lists to publish, remembering each until the relay acknowledges it.
fn queue_access(
    due: Vec<crate::sync::AccessDue>,
    sent: &mut std::collections::VecDeque<([u8; 16], u64)>,
    out: &mut Vec<ClientFrame>,
) {
    for (log, version, list) in due {
        sent.push_back((log, version));
        out.push(ClientFrame::SetAccess {
            workspace: log,
            list,
        });
    }
}

/// Frames handled in one round at most.
const DRAIN: usize = 256;

/// A relay frame from what the WebSocket gave; `None` for control messages.
fn frame_of(
    m: Option<std::result::Result<Message, tokio_tungstenite::tungstenite::Error>>,
) -> Result<Option<RelayFrame>> {
    match m {
        Some(Ok(Message::Binary(b))) => {
            Ok(Some(RelayFrame::decode(&b).map_err(|e| {
                CoreError::Net(format!("the relay sent a malformed frame: {e}"))
            })?))
        }
        Some(Ok(Message::Close(_))) | None => {
            Err(CoreError::Net("the relay closed the connection".into()))
        }
        Some(Ok(_)) => Ok(None),
        Some(Err(e)) => Err(CoreError::Net(e.to_string())),
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn refused(code: ErrorCode, message: String) -> CoreError {
    CoreError::Relay {
        code: format!("{code:?}"),
        message,
    }
}

async fn connection(
    engine: &Shared,
    account: i64,
    mode: SyncMode,
    status: &watch::Sender<SyncStatus>,
    stop: &mut watch::Receiver<bool>,
    report: &mut SyncReport,
    was_ready: &mut bool,
) -> Result<()> {
    let (plan, waker) = {
        let mut e = lock(engine);
        (e.sync_plan(account)?, e.outbox_waker())
    };
    let (mut ws, _) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(&plan.url, Some(relay_client_config()), true),
    )
    .await
    .map_err(|_| CoreError::Net(format!("{}: no answer within 10 s", plan.url)))?
    .map_err(|e| CoreError::Net(format!("{}: {e}", plan.url)))?;
    let mut session = Session::new(&plan.keys, plan.credential.clone());
    let send = |f: &ClientFrame| Message::Binary(f.encode().into());
    ws.send(send(&session.hello()))
        .await
        .map_err(|e| CoreError::Net(e.to_string()))?;
    let logs: Vec<[u8; 16]> = plan.logs.iter().map(|l| l.log).collect();
    // SetAccess frames sent and not yet acknowledged, in order: (log, version).
    let mut access_sent: std::collections::VecDeque<([u8; 16], u64)> = Default::default();
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    let mut ready = false;
    let mut last_count = std::time::Instant::now();
    let mut last_pending = 0;
    // Whether the access lists this device should publish may have changed.
    let mut recheck_access = false;
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    // File chunks in flight each way, chunks not to ask for again before a moment, and when
    // uploads may go again after a quota refusal.
    let mut chunks_up: std::collections::BTreeSet<[u8; 32]> = Default::default();
    let mut chunks_down: std::collections::BTreeSet<[u8; 32]> = Default::default();
    // A chunk missed: when it may be asked again, and how many times it has been missed.
    let mut chunks_later: std::collections::HashMap<[u8; 32], (tokio::time::Instant, u32)> =
        Default::default();
    let mut uploads_from = std::time::Instant::now();
    loop {
        let mut out: Vec<ClientFrame> = Vec::new();
        let now = tokio::time::Instant::now();
        let next_retry = chunks_later
            .values()
            .map(|(at, _)| *at)
            .filter(|at| *at > now)
            .min();
        let first = tokio::select! {
            m = ws.next() => frame_of(m)?,
            _ = waker.notified() => {
                recheck_access = true;
                None
            }
            _ = ping.tick() => {
                if ready { out.push(ClientFrame::Ping { nonce: 0 }); }
                None
            }
            // A missed chunk's turn to be asked again.
            _ = tokio::time::sleep_until(next_retry.unwrap_or_else(tokio::time::Instant::now)), if next_retry.is_some() => None,
            _ = tokio::time::sleep_until(deadline), if !ready => {
                return Err(CoreError::Net("the relay did not finish the handshake in time".into()));
            }
            _ = stopped(stop) => {
                let _ = ws.close(None).await;
                return Ok(());
            }
        };
        // Whatever else has already arrived is handled in the same round, so that a stream
        // of acknowledgements costs one transaction, not one each.
        let mut frames: Vec<RelayFrame> = first.into_iter().collect();
        // An error met while draining comes after the frames before it (a refusal is followed
        // by the close): those are handled first.
        let mut broke = None;
        while !frames.is_empty() && frames.len() < DRAIN {
            match futures_util::FutureExt::now_or_never(ws.next()) {
                Some(m) => match frame_of(m) {
                    Ok(f) => frames.extend(f),
                    Err(e) => {
                        broke = Some(e);
                        break;
                    }
                },
                None => break,
            }
        }
        let mut acked: Vec<weft_proto::BlobId> = Vec::new();
        for frame in frames {
            let (replies, events) = session.handle(frame);
            out.extend(replies);
            for ev in events {
                match ev {
                    Event::Ready => {
                        ready = true;
                        *was_ready = true;
                        // Lists first: a workspace new to the relay needs one to subscribe.
                        let due = lock(engine).sync_access_due(account)?;
                        queue_access(due, &mut access_sent, &mut out);
                        recheck_access = false;
                        for l in &plan.logs {
                            out.push(session.subscribe(l.log, l.cursor, l.access_version));
                        }
                    }
                    Event::Entries { log, entries } => {
                        report.entries_received += entries.len() as u64;
                        report.bytes_received +=
                            entries.iter().map(|e| e.data.len() as u64).sum::<u64>();
                        recheck_access = true;
                        let r = lock(engine).sync_entries(log, &entries);
                        match r {
                            Ok(r) => report.changes_new += r.changes_new as u64,
                            Err(e @ CoreError::Sync(_)) => {
                                tracing::warn!(error = %e, "entries refused");
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    Event::UpToDate { log } => {
                        lock(engine).sync_up_to_date(log)?;
                        recheck_access = true;
                    }
                    Event::Snapshot { .. } => {
                        // Snapshots carry no more than the entries they replace, which this
                        // client always keeps; the entries after them follow.
                    }
                    Event::Access { log, list } => {
                        if let Err(e) = lock(engine).sync_access(log, &list) {
                            tracing::warn!(error = %e, "access list refused");
                        }
                    }
                    Event::Acked { blob, seq } => {
                        if blob == [0; 16] {
                            if let Some(pos) = access_sent.iter().position(|(_, v)| *v == seq) {
                                access_sent.remove(pos);
                            }
                        } else {
                            report.pushes_acked += 1;
                            acked.push(blob);
                        }
                    }
                    Event::Ephemeral { log, data, .. } => {
                        let _ = lock(engine).sync_ephemeral(log, &data);
                    }
                    Event::Pong { .. } => {}
                    Event::ChunkStored { log, chunk } => {
                        chunks_up.remove(&chunk);
                        lock(engine).sync_chunk_stored(log, chunk)?;
                    }
                    Event::Chunk { log, chunk, data } => {
                        chunks_down.remove(&chunk);
                        if let Err(e) = lock(engine).sync_chunk(log, chunk, &data) {
                            tracing::warn!(error = %e, "file chunk refused");
                            // What the relay holds is damaged: not asked again soon.
                            chunks_later.insert(
                                chunk,
                                (tokio::time::Instant::now() + CHUNK_RETRY, u32::MAX),
                            );
                        } else {
                            chunks_later.remove(&chunk);
                        }
                    }
                    Event::NoChunk { chunk, .. } => {
                        chunks_down.remove(&chunk);
                        let misses = chunks_later
                            .get(&chunk)
                            .map_or(0, |(_, m)| *m)
                            .saturating_add(1);
                        chunks_later.insert(
                            chunk,
                            (
                                tokio::time::Instant::now() + chunk_retry_wait(misses),
                                misses,
                            ),
                        );
                    }
                    Event::Refused {
                        code,
                        message,
                        fatal,
                    } => {
                        if fatal {
                            let _ = ws.close(None).await;
                            return Err(match code {
                                ErrorCode::Invite | ErrorCode::NotMember => {
                                    CoreError::Forbidden(format!("the relay refused: {message}"))
                                }
                                _ => refused(code, message),
                            });
                        }
                        match code {
                            ErrorCode::Access => {
                                // Our list lost a race or was stale; the relay's comes next.
                                access_sent.pop_front();
                                tracing::warn!(%message, "access list refused");
                            }
                            ErrorCode::Quota => {
                                tracing::warn!(%message, "file upload refused");
                                chunks_up.clear();
                                uploads_from = std::time::Instant::now() + CHUNK_RETRY;
                            }
                            ErrorCode::NotMember => {
                                let _ = ws.close(None).await;
                                return Err(CoreError::Forbidden(format!(
                                    "the relay refused: {message}"
                                )));
                            }
                            _ => tracing::warn!(?code, %message, "relay refused a frame"),
                        }
                    }
                }
            }
        }
        if !acked.is_empty() {
            lock(engine).sync_acked(&acked)?;
        }
        if let Some(e) = broke {
            return Err(e);
        }
        if ready {
            let (pending, more) = {
                let mut e = lock(engine);
                if recheck_access && access_sent.is_empty() && session.up_to_date() {
                    recheck_access = false;
                    queue_access(e.sync_access_due(account)?, &mut access_sent, &mut out);
                }
                for (log, data) in e.take_ephemeral() {
                    out.push(ClientFrame::Ephemeral {
                        workspace: log,
                        to: None,
                        data,
                    });
                }
                let mut more = Vec::new();
                for log in &logs {
                    let room = WINDOW.saturating_sub(session.inflight() + more.len());
                    if room == 0 {
                        break;
                    }
                    for (blob, data) in e.sync_pushes(*log, room, session.inflight_blobs())? {
                        more.push((*log, blob, data));
                    }
                }
                // File chunks, a few at a time each way, once the log is caught up.
                let mut ups = Vec::new();
                let mut downs = Vec::new();
                if session.up_to_date() {
                    let now = tokio::time::Instant::now();
                    if chunks_later.len() > MAX_CHUNKS_MISSED {
                        chunks_later.retain(|_, (at, _)| *at > now);
                    }
                    let later: std::collections::BTreeSet<[u8; 32]> = chunks_later
                        .iter()
                        .filter(|(_, (at, _))| *at > now)
                        .map(|(c, _)| *c)
                        .collect();
                    let skip_down: std::collections::BTreeSet<[u8; 32]> =
                        later.union(&chunks_down).copied().collect();
                    for log in &logs {
                        let room = CHUNK_UPLOADS.saturating_sub(chunks_up.len() + ups.len());
                        if room > 0 && std::time::Instant::now() >= uploads_from {
                            for (c, data) in e.sync_chunk_uploads(*log, room, &chunks_up)? {
                                ups.push((*log, c, data));
                            }
                        }
                        let room = CHUNK_FETCHES.saturating_sub(chunks_down.len() + downs.len());
                        if room > 0 {
                            for c in e.sync_chunk_fetches(*log, room, &skip_down)? {
                                downs.push((*log, c));
                            }
                        }
                    }
                }
                for (log, chunk, data) in ups {
                    chunks_up.insert(chunk);
                    out.push(ClientFrame::PutChunk {
                        workspace: log,
                        chunk,
                        data,
                    });
                }
                for (log, chunk) in downs {
                    chunks_down.insert(chunk);
                    out.push(ClientFrame::GetChunk {
                        workspace: log,
                        chunk,
                    });
                }
                // Counting the outbox costs a scan: only when it may be the last word.
                let quiet = session.up_to_date()
                    && session.inflight() + more.len() == 0
                    && access_sent.is_empty()
                    && chunks_up.is_empty();
                let pending = if quiet || last_count.elapsed() > Duration::from_millis(250) {
                    last_count = std::time::Instant::now();
                    e.sync_pending(account)?
                } else {
                    last_pending
                };
                last_pending = pending;
                (pending, more)
            };
            for (log, blob, data) in more {
                out.push(session.push(log, blob, data));
            }
            let done = session.up_to_date()
                && session.inflight() == 0
                && access_sent.is_empty()
                && chunks_up.is_empty()
                && chunks_down.is_empty();
            let _ = status.send(if done && pending == 0 {
                SyncStatus::UpToDate
            } else {
                SyncStatus::Syncing { pending }
            });
            // Done: up to date, nothing in flight, nothing more to send (what is left in the
            // outbox, if anything, cannot go yet: no key, or a joiner's before it has joined).
            if mode == SyncMode::Once && done && out.is_empty() {
                let _ = ws.close(None).await;
                return Ok(());
            }
        }
        for f in out {
            ws.send(send(&f))
                .await
                .map_err(|e| CoreError::Net(e.to_string()))?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_chunk_is_asked_again_soon_then_less_often() {
        let waits: Vec<u64> = [1, 2, 3, 4, 5, 6, 40, u32::MAX]
            .into_iter()
            .map(|m| chunk_retry_wait(m).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(chunk_retry_wait(0), CHUNK_RETRY_FIRST);
    }
}
