//! The relay server: WebSocket connections, the handshake, the durable append path with group
//! commit, fan-out to subscribers, the ephemeral path, `/healthz` and `/metrics`.

use crate::config::Limits;
use crate::metrics::Metrics;
use crate::storage::{ChunkPut, NewEntry, Snapshot, Storage};
use axum::{
    Router,
    body::Bytes,
    extract::{
        ConnectInfo, State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::{IntoResponse, Response},
    routing::get,
};
use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use weft_proto::{
    AccessList, ChunkId, ClientFrame, DeviceKey, Entry, ErrorCode, MAX_ENTRIES, RelayFrame,
    WorkspaceId,
};

/// Signature domains of the handshake (see `weft_crypto::DeviceKeys::sign`).
pub use weft_proto::{ACCESS_DOMAIN, AUTH_DOMAIN, JOIN_DOMAIN};
/// Most blobs committed in one transaction.
const GROUP_COMMIT: usize = 512;
/// About how many bytes one catch-up `Entries` frame carries.
const CATCHUP_BYTES: usize = 1 << 20;

type Sink = SplitSink<WebSocket, Message>;

/// What a connection's writer sends.
enum Out {
    Frame(RelayFrame),
    /// A new entry, with its `Entries` frame encoded once for every subscriber.
    Live(WorkspaceId, Arc<Entry>, Bytes),
    CatchUp(WorkspaceId, u64),
    Close(ErrorCode, String),
}

struct Sub {
    device: DeviceKey,
    tx: mpsc::Sender<Out>,
    kill: Arc<Notify>,
}

struct AppendReq {
    entry: NewEntry,
    reply: oneshot::Sender<Result<u64, String>>,
}

/// State shared by every connection.
pub struct Shared {
    storage: Arc<dyn Storage>,
    limits: Limits,
    pub metrics: Metrics,
    hubs: Mutex<HashMap<WorkspaceId, HashMap<u64, Sub>>>,
    per_addr: Mutex<HashMap<IpAddr, usize>>,
    access: Mutex<HashMap<WorkspaceId, Arc<AccessList>>>,
    next_conn: AtomicU64,
    appender: mpsc::Sender<AppendReq>,
    shutdown: watch::Receiver<bool>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Builds the router and starts the append task. `shutdown` turning true closes every
/// connection with `ShuttingDown`.
pub fn router(
    storage: Arc<dyn Storage>,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
) -> (Router, Arc<Shared>) {
    let (tx, rx) = mpsc::channel(65_536);
    let shared = Arc::new(Shared {
        storage,
        limits,
        metrics: Metrics::default(),
        hubs: Mutex::new(HashMap::new()),
        per_addr: Mutex::new(HashMap::new()),
        access: Mutex::new(HashMap::new()),
        next_conn: AtomicU64::new(1),
        appender: tx,
        shutdown,
    });
    tokio::spawn(append_loop(shared.clone(), rx));
    let app = Router::new()
        .route("/", get(ws_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(|State(s): State<Arc<Shared>>| async move { s.metrics.render() }),
        )
        .with_state(shared.clone());
    (app, shared)
}

/// Group commit: every append waiting is stored in one transaction, acknowledged once it is
/// durable, then fanned out in sequence order.
async fn append_loop(shared: Arc<Shared>, mut rx: mpsc::Receiver<AppendReq>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < GROUP_COMMIT {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let entries: Vec<NewEntry> = batch.iter().map(|r| r.entry.clone()).collect();
        let storage = shared.storage.clone();
        let res = tokio::task::spawn_blocking(move || storage.append(&entries)).await;
        shared.metrics.commits_total.fetch_add(1, Relaxed);
        match res {
            Ok(Ok(appended)) => {
                for (req, a) in batch.into_iter().zip(appended) {
                    if a.new {
                        shared.metrics.pushes_total.fetch_add(1, Relaxed);
                        let e = Arc::new(Entry {
                            seq: a.seq,
                            blob: req.entry.blob,
                            author: req.entry.author,
                            data: req.entry.data,
                        });
                        fan_out(&shared, req.entry.workspace, e);
                    } else {
                        shared.metrics.pushes_duplicate_total.fetch_add(1, Relaxed);
                    }
                    let _ = req.reply.send(Ok(a.seq));
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "append failed");
                for req in batch {
                    let _ = req.reply.send(Err(e.to_string()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "append task failed");
                for req in batch {
                    let _ = req.reply.send(Err("storage task failed".into()));
                }
            }
        }
    }
}

/// Hands a new entry to every subscriber of its workspace without ever waiting: a subscriber
/// whose queue is full is disconnected (it catches up when it comes back).
fn fan_out(shared: &Shared, ws: WorkspaceId, e: Arc<Entry>) {
    let hubs = lock(&shared.hubs);
    let Some(subs) = hubs.get(&ws) else { return };
    let frame = Bytes::from(
        RelayFrame::Entries {
            workspace: ws,
            entries: vec![(*e).clone()],
            head: e.seq,
        }
        .encode(),
    );
    for sub in subs.values() {
        if sub
            .tx
            .try_send(Out::Live(ws, e.clone(), frame.clone()))
            .is_err()
        {
            sub.kill.notify_one();
        }
    }
}

async fn ws_handler(
    ws: WebSocketUpgrade,
    ConnectInfo(crate::listener::PeerAddr(addr)): ConnectInfo<crate::listener::PeerAddr>,
    State(shared): State<Arc<Shared>>,
) -> Response {
    // Oversized messages up to this size are read and answered with `FrameTooLarge`; beyond
    // it the WebSocket layer closes the connection (close code 1009).
    let hard = shared.limits.max_frame + (1 << 20);
    // Small buffers: most connections are idle, and memory per idle connection is budgeted
    // (SPEC: 30 KB). Reads grow the buffer as a frame needs; writes go out as they come.
    ws.max_message_size(hard)
        .max_frame_size(hard)
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .on_upgrade(move |socket| connection(shared, socket, addr))
        .into_response()
}

struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.metrics.connections_open.fetch_sub(1, Relaxed);
        let mut m = lock(&self.shared.per_addr);
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

async fn send(sink: &mut Sink, shared: &Shared, f: &RelayFrame) -> bool {
    let b = f.encode();
    shared
        .metrics
        .bytes_out_total
        .fetch_add(b.len() as u64, Relaxed);
    if let RelayFrame::Error { code, .. } = f {
        shared.metrics.error(*code);
    }
    sink.send(Message::Binary(b.into())).await.is_ok()
}

async fn refuse(mut sink: Sink, shared: &Shared, code: ErrorCode, message: String) {
    tracing::info!(?code, %message, "refused");
    let _ = send(&mut sink, shared, &RelayFrame::Error { code, message }).await;
    let _ = sink.close().await;
}

async fn connection(shared: Arc<Shared>, socket: WebSocket, addr: SocketAddr) {
    let (sink, mut stream) = socket.split();
    shared.metrics.connections_total.fetch_add(1, Relaxed);
    shared.metrics.connections_open.fetch_add(1, Relaxed);
    let ip = addr.ip();
    let over = {
        let mut m = lock(&shared.per_addr);
        let n = m.entry(ip).or_insert(0);
        *n += 1;
        let open = shared.metrics.connections_open.load(Relaxed) as usize;
        if *n > shared.limits.conns_per_addr {
            Some(format!(
                "too many connections from {ip}: the limit is {}",
                shared.limits.conns_per_addr
            ))
        } else if open > shared.limits.max_conns {
            Some(format!(
                "the relay is at its limit of {} connections",
                shared.limits.max_conns
            ))
        } else {
            None
        }
    };
    let _slot = Slot {
        shared: shared.clone(),
        ip,
    };
    if let Some(msg) = over {
        refuse(sink, &shared, ErrorCode::TooManyConnections, msg).await;
        return;
    }
    let mut sink = sink;
    let handshake = tokio::time::timeout(
        shared.limits.handshake(),
        handshake(&shared, &mut sink, &mut stream),
    )
    .await;
    let device = match handshake {
        Ok(Ok(d)) => d,
        Ok(Err((code, msg))) => return refuse(sink, &shared, code, msg).await,
        Err(_) => {
            return refuse(
                sink,
                &shared,
                ErrorCode::HandshakeTimeout,
                format!(
                    "handshake not finished within {} s",
                    shared.limits.handshake_s
                ),
            )
            .await;
        }
    };
    shared.metrics.authenticated_total.fetch_add(1, Relaxed);
    let id = shared.next_conn.fetch_add(1, Relaxed);
    let (tx, rx) = mpsc::channel(shared.limits.queue);
    let kill = Arc::new(Notify::new());
    let writer = tokio::spawn(writer(shared.clone(), sink, rx, kill.clone()));
    let _ = tx.try_send(Out::Frame(RelayFrame::Ready));
    let mut conn = Conn {
        shared: shared.clone(),
        id,
        device,
        tx,
        kill,
        subscribed: Vec::new(),
        tokens: f64::from(shared.limits.burst),
        refilled: Instant::now(),
    };
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(Ok(msg)) = msg else { break };
                if !conn.on_message(msg).await {
                    break;
                }
            }
            _ = shutdown.changed() => {
                conn.queue(Out::Close(ErrorCode::ShuttingDown, "the relay is shutting down".into()));
                break;
            }
        }
    }
    conn.leave();
    drop(conn);
    let _ = writer.await;
}

/// `Hello` → `Welcome` → `Auth` or `Join`; returns the authenticated device.
async fn handshake(
    shared: &Shared,
    sink: &mut Sink,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
) -> Result<DeviceKey, (ErrorCode, String)> {
    let first = next_frame(shared, stream).await?;
    let ClientFrame::Hello { versions, device } = first else {
        return Err((ErrorCode::Protocol, "expected Hello".into()));
    };
    let Some(version) = weft_proto::negotiate(&versions) else {
        return Err((
            ErrorCode::Version,
            format!(
                "no protocol version in common: client speaks {versions:?}, relay speaks {:?}",
                weft_proto::VERSIONS
            ),
        ));
    };
    let mut challenge = [0u8; 32];
    rand::rng().fill_bytes(&mut challenge);
    if !send(sink, shared, &RelayFrame::Welcome { version, challenge }).await {
        return Err((ErrorCode::Protocol, "connection lost".into()));
    }
    match next_frame(shared, stream).await? {
        ClientFrame::Auth { signature } => {
            weft_crypto::verify(&device, AUTH_DOMAIN, &challenge, &signature)
                .map_err(|e| (ErrorCode::Auth, format!("device signature: {e}")))?;
            Ok(device)
        }
        ClientFrame::Join {
            workspace,
            invite,
            device_signature,
            invite_signature,
        } => {
            weft_crypto::verify(&device, AUTH_DOMAIN, &challenge, &device_signature)
                .map_err(|e| (ErrorCode::Auth, format!("device signature: {e}")))?;
            weft_crypto::verify(&invite, JOIN_DOMAIN, &challenge, &invite_signature)
                .map_err(|e| (ErrorCode::Invite, format!("invite signature: {e}")))?;
            let list = shared
                .access_list(&workspace)
                .map_err(|e| (ErrorCode::Storage, e))?
                .ok_or((ErrorCode::Invite, "unknown workspace".to_string()))?;
            let inv = list
                .invite(&invite)
                .ok_or((ErrorCode::Invite, "unknown or revoked invite".to_string()))?;
            if now_ms() >= inv.expires_at {
                return Err((ErrorCode::Invite, "the invite has expired".into()));
            }
            let storage = shared.storage.clone();
            let max = inv.max_uses;
            let admitted = tokio::task::spawn_blocking(move || {
                storage.admit(&workspace, &invite, &device, max)
            })
            .await
            .map_err(|e| (ErrorCode::Storage, e.to_string()))?
            .map_err(|e| (ErrorCode::Storage, e.to_string()))?;
            if admitted.is_none() {
                return Err((
                    ErrorCode::Invite,
                    format!("the invite has been used its {max} times"),
                ));
            }
            Ok(device)
        }
        _ => Err((ErrorCode::Protocol, "expected Auth or Join".into())),
    }
}

async fn next_frame(
    shared: &Shared,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
) -> Result<ClientFrame, (ErrorCode, String)> {
    loop {
        match stream.next().await {
            Some(Ok(Message::Binary(b))) => {
                shared
                    .metrics
                    .bytes_in_total
                    .fetch_add(b.len() as u64, Relaxed);
                if b.len() > shared.limits.max_frame {
                    return Err((
                        ErrorCode::FrameTooLarge,
                        format!(
                            "frame of {} bytes is over the limit of {}",
                            b.len(),
                            shared.limits.max_frame
                        ),
                    ));
                }
                return ClientFrame::decode(&b).map_err(|e| (ErrorCode::Malformed, e.to_string()));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Text(_))) => {
                return Err((ErrorCode::Malformed, "binary frames only".into()));
            }
            _ => return Err((ErrorCode::Protocol, "connection closed".into())),
        }
    }
}

impl Shared {
    /// The current access list of a workspace (cached).
    fn access_list(&self, ws: &WorkspaceId) -> Result<Option<Arc<AccessList>>, String> {
        if let Some(l) = lock(&self.access).get(ws) {
            return Ok(Some(l.clone()));
        }
        let Some((_, bytes)) = self.storage.access(ws).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let list = Arc::new(AccessList::decode(&bytes).map_err(|e| e.to_string())?);
        lock(&self.access).insert(*ws, list.clone());
        Ok(Some(list))
    }

    /// Whether `device` may read and write `ws`: on the list, or admitted by an invite that is
    /// still on it.
    fn is_member(&self, ws: &WorkspaceId, device: &DeviceKey) -> Result<bool, String> {
        let Some(list) = self.access_list(ws)? else {
            return Ok(false);
        };
        if list.role_of(device).is_some() {
            return Ok(true);
        }
        Ok(self
            .storage
            .admitted_by(ws, device)
            .map_err(|e| e.to_string())?
            .is_some_and(|inv| list.invite(&inv).is_some()))
    }
}

struct Conn {
    shared: Arc<Shared>,
    id: u64,
    device: DeviceKey,
    tx: mpsc::Sender<Out>,
    kill: Arc<Notify>,
    subscribed: Vec<WorkspaceId>,
    tokens: f64,
    refilled: Instant,
}

impl Conn {
    fn queue(&self, out: Out) {
        if self.tx.try_send(out).is_err() {
            self.kill.notify_one();
        }
    }

    fn error(&self, code: ErrorCode, message: impl Into<String>) {
        self.queue(Out::Frame(RelayFrame::Error {
            code,
            message: message.into(),
        }));
    }

    /// Token bucket: `rate_per_s` sustained, `burst` at once.
    fn allow(&mut self) -> bool {
        let l = &self.shared.limits;
        let now = Instant::now();
        let dt = now.duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + dt * f64::from(l.rate_per_s)).min(f64::from(l.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Handles one message; false ends the connection.
    async fn on_message(&mut self, msg: Message) -> bool {
        let b = match msg {
            Message::Binary(b) => b,
            Message::Text(_) => {
                self.error(ErrorCode::Malformed, "binary frames only");
                return true;
            }
            Message::Close(_) => return false,
            _ => return true,
        };
        self.shared
            .metrics
            .bytes_in_total
            .fetch_add(b.len() as u64, Relaxed);
        if !self.allow() {
            self.error(
                ErrorCode::RateLimited,
                format!(
                    "over {} frames per second (bursts of {}); frame dropped",
                    self.shared.limits.rate_per_s, self.shared.limits.burst
                ),
            );
            return true;
        }
        if b.len() > self.shared.limits.max_frame {
            self.error(
                ErrorCode::FrameTooLarge,
                format!(
                    "frame of {} bytes is over the limit of {}",
                    b.len(),
                    self.shared.limits.max_frame
                ),
            );
            return true;
        }
        let frame = match ClientFrame::decode(&b) {
            Ok(f) => f,
            Err(e) => {
                self.error(ErrorCode::Malformed, e.to_string());
                return true;
            }
        };
        self.on_frame(frame).await;
        true
    }

    fn member(&self, ws: &WorkspaceId) -> bool {
        match self.shared.is_member(ws, &self.device) {
            Ok(true) => true,
            Ok(false) => {
                self.error(
                    ErrorCode::NotMember,
                    "this device is not on the workspace's access list",
                );
                false
            }
            Err(e) => {
                self.error(ErrorCode::Storage, e);
                false
            }
        }
    }

    /// An envelope must be well formed, for this workspace, and signed by this device.
    fn check_envelope(&self, ws: &WorkspaceId, data: &[u8]) -> bool {
        let env = match weft_crypto::Envelope::from_bytes(data) {
            Ok(e) => e,
            Err(e) => {
                self.error(ErrorCode::Malformed, format!("envelope: {e}"));
                return false;
            }
        };
        if &env.workspace != ws || env.author != self.device {
            self.error(
                ErrorCode::Auth,
                "envelope is for another workspace or by another device",
            );
            return false;
        }
        if let Err(e) = env.verify_signature() {
            self.error(ErrorCode::Auth, format!("envelope: {e}"));
            return false;
        }
        true
    }

    async fn on_frame(&mut self, frame: ClientFrame) {
        match frame {
            ClientFrame::Push {
                workspace,
                blob,
                data,
            } => {
                if !self.member(&workspace) || !self.check_envelope(&workspace, &data) {
                    return;
                }
                let (reply, rx) = oneshot::channel();
                let req = AppendReq {
                    entry: NewEntry {
                        workspace,
                        blob,
                        author: self.device,
                        data,
                        at_ms: now_ms(),
                    },
                    reply,
                };
                if self.shared.appender.send(req).await.is_err() {
                    self.error(ErrorCode::Storage, "the relay's store is gone");
                    return;
                }
                // Acknowledge once durable, without holding up the next frame.
                let tx = self.tx.clone();
                let kill = self.kill.clone();
                tokio::spawn(async move {
                    let out = match rx.await {
                        Ok(Ok(seq)) => RelayFrame::Ack { blob, seq },
                        Ok(Err(e)) => RelayFrame::Error {
                            code: ErrorCode::Storage,
                            message: format!("not stored, push again: {e}"),
                        },
                        Err(_) => RelayFrame::Error {
                            code: ErrorCode::Storage,
                            message: "not stored, push again".into(),
                        },
                    };
                    if tx.try_send(Out::Frame(out)).is_err() {
                        kill.notify_one();
                    }
                });
            }
            ClientFrame::Subscribe {
                workspace,
                after,
                access_version,
            } => {
                if !self.member(&workspace) {
                    return;
                }
                if let Ok(Some(list)) = self.shared.access_list(&workspace)
                    && list.version > access_version
                {
                    self.queue(Out::Frame(RelayFrame::Access {
                        workspace,
                        list: list.encode(),
                    }));
                }
                if !self.subscribed.contains(&workspace) {
                    self.subscribed.push(workspace);
                    lock(&self.shared.hubs)
                        .entry(workspace)
                        .or_default()
                        .insert(
                            self.id,
                            Sub {
                                device: self.device,
                                tx: self.tx.clone(),
                                kill: self.kill.clone(),
                            },
                        );
                }
                self.queue(Out::CatchUp(workspace, after));
            }
            ClientFrame::PutSnapshot {
                workspace,
                covers,
                blob,
                data,
            } => {
                if !self.member(&workspace) || !self.check_envelope(&workspace, &data) {
                    return;
                }
                let storage = self.shared.storage.clone();
                let author = self.device;
                let res = tokio::task::spawn_blocking(move || {
                    let head = storage.head(&workspace)?;
                    if covers > head {
                        return Ok(Err(head));
                    }
                    storage
                        .put_snapshot(
                            &workspace,
                            &Snapshot {
                                covers,
                                blob,
                                author,
                                data,
                            },
                        )
                        .map(Ok)
                })
                .await;
                match res {
                    Ok(Ok(Ok(()))) => self.queue(Out::Frame(RelayFrame::Ack { blob, seq: covers })),
                    Ok(Ok(Err(head))) => self.error(
                        ErrorCode::Protocol,
                        format!("snapshot covers {covers}, past the log's head {head}"),
                    ),
                    Ok(Err(e)) => self.error(ErrorCode::Storage, e.to_string()),
                    Err(e) => self.error(ErrorCode::Storage, e.to_string()),
                }
            }
            ClientFrame::SetAccess { workspace, list } => self.set_access(workspace, list).await,
            ClientFrame::Ephemeral {
                workspace,
                to,
                data,
            } => {
                if !self.member(&workspace) {
                    return;
                }
                let hubs = lock(&self.shared.hubs);
                let Some(subs) = hubs.get(&workspace) else {
                    return;
                };
                for (id, sub) in subs {
                    if *id == self.id || to.is_some_and(|t| t != sub.device) {
                        continue;
                    }
                    // Ephemeral: dropped for a full queue, never stored, never waited for.
                    let _ = sub.tx.try_send(Out::Frame(RelayFrame::Ephemeral {
                        workspace,
                        from: self.device,
                        data: data.clone(),
                    }));
                    self.shared.metrics.ephemeral_total.fetch_add(1, Relaxed);
                }
            }
            ClientFrame::Ping { nonce } => self.queue(Out::Frame(RelayFrame::Pong { nonce })),
            ClientFrame::PutChunk {
                workspace,
                chunk,
                data,
            } => self.put_chunk(workspace, chunk, data).await,
            ClientFrame::GetChunk { workspace, chunk } => {
                if !self.member(&workspace) {
                    return;
                }
                let storage = self.shared.storage.clone();
                let res = tokio::task::spawn_blocking(move || storage.chunk(&workspace, &chunk))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                match res {
                    Ok(Some(data)) => {
                        self.shared
                            .metrics
                            .chunks_served_total
                            .fetch_add(1, Relaxed);
                        self.queue(Out::Frame(RelayFrame::Chunk {
                            workspace,
                            chunk,
                            data,
                        }));
                    }
                    Ok(None) => self.queue(Out::Frame(RelayFrame::NoChunk { workspace, chunk })),
                    Err(e) => self.error(ErrorCode::Storage, e),
                }
            }
            ClientFrame::Hello { .. } | ClientFrame::Auth { .. } | ClientFrame::Join { .. } => {
                self.error(ErrorCode::Protocol, "already authenticated");
            }
        }
    }

    /// A file chunk from a member, addressed by the SHA-256 of its bytes (checked here, so
    /// that a chunk id names one content for everyone), within the workspace's quota.
    async fn put_chunk(&mut self, workspace: WorkspaceId, chunk: ChunkId, data: Vec<u8>) {
        if !self.member(&workspace) {
            return;
        }
        let digest: [u8; 32] = Sha256::digest(&data).into();
        if digest != chunk {
            self.error(
                ErrorCode::Malformed,
                "chunk id is not the SHA-256 of its bytes; not stored",
            );
            return;
        }
        let storage = self.shared.storage.clone();
        let quota = self.shared.limits.file_quota;
        let len = data.len() as u64;
        let res = tokio::task::spawn_blocking(move || {
            storage.put_chunk(&workspace, &chunk, &data, quota)
        })
        .await;
        match res {
            Ok(Ok(ChunkPut::Stored)) => {
                let m = &self.shared.metrics;
                m.chunks_stored_total.fetch_add(1, Relaxed);
                m.chunk_bytes_stored_total.fetch_add(len, Relaxed);
                self.queue(Out::Frame(RelayFrame::ChunkStored { workspace, chunk }));
            }
            Ok(Ok(ChunkPut::Held)) => {
                self.queue(Out::Frame(RelayFrame::ChunkStored { workspace, chunk }))
            }
            Ok(Ok(ChunkPut::OverQuota { used })) => self.error(
                ErrorCode::Quota,
                format!(
                    "the workspace's files on this relay hold {used} bytes of {quota}; \
                     a chunk of {len} bytes does not fit"
                ),
            ),
            Ok(Err(e)) => self.error(ErrorCode::Storage, format!("chunk not stored: {e}")),
            Err(e) => self.error(ErrorCode::Storage, format!("chunk not stored: {e}")),
        }
    }

    /// A new access list: signed by an admin of the current one (or, for a workspace the relay
    /// does not know yet, by this device as its owner), and newer than the current one.
    async fn set_access(&mut self, workspace: WorkspaceId, bytes: Vec<u8>) {
        let list = match AccessList::decode(&bytes) {
            Ok(l) => l,
            Err(e) => return self.error(ErrorCode::Access, format!("access list: {e}")),
        };
        if list.workspace != workspace {
            return self.error(ErrorCode::Access, "access list is for another workspace");
        }
        if let Err(e) = weft_crypto::verify(
            &list.signer,
            ACCESS_DOMAIN,
            &list.signed_part(),
            &list.signature,
        ) {
            return self.error(ErrorCode::Access, format!("access list: {e}"));
        }
        let current = match self.shared.access_list(&workspace) {
            Ok(c) => c,
            Err(e) => return self.error(ErrorCode::Storage, e),
        };
        match &current {
            Some(cur) => {
                if !cur.role_of(&list.signer).is_some_and(|r| r.is_admin()) {
                    return self.error(
                        ErrorCode::Access,
                        "access list not signed by an admin of the current list",
                    );
                }
                if list.version <= cur.version {
                    return self.error(
                        ErrorCode::Access,
                        format!(
                            "access list version {} is not newer than {}",
                            list.version, cur.version
                        ),
                    );
                }
            }
            None => {
                if list.signer != self.device
                    || list.role_of(&self.device) != Some(weft_proto::Role::Owner)
                {
                    return self.error(
                        ErrorCode::Access,
                        "a new workspace's first access list must be signed by its owner's device",
                    );
                }
            }
        }
        let storage = self.shared.storage.clone();
        let version = list.version;
        let stored =
            tokio::task::spawn_blocking(move || storage.set_access(&workspace, version, &bytes))
                .await;
        if !matches!(stored, Ok(Ok(()))) {
            return self.error(ErrorCode::Storage, "access list not stored");
        }
        let list = Arc::new(list);
        lock(&self.shared.access).insert(workspace, list.clone());
        self.queue(Out::Frame(RelayFrame::Ack {
            blob: [0; 16],
            seq: version,
        }));
        // Everyone subscribed hears of it; devices no longer members are cut off.
        let encoded = list.encode();
        let hubs = lock(&self.shared.hubs);
        if let Some(subs) = hubs.get(&workspace) {
            for sub in subs.values() {
                let still = list.role_of(&sub.device).is_some()
                    || self
                        .shared
                        .storage
                        .admitted_by(&workspace, &sub.device)
                        .ok()
                        .flatten()
                        .is_some_and(|inv| list.invite(&inv).is_some());
                let out = if still {
                    Out::Frame(RelayFrame::Access {
                        workspace,
                        list: encoded.clone(),
                    })
                } else {
                    Out::Close(
                        ErrorCode::NotMember,
                        "this device was removed from the workspace".into(),
                    )
                };
                if sub.tx.try_send(out).is_err() {
                    sub.kill.notify_one();
                }
            }
        }
    }

    fn leave(&mut self) {
        let mut hubs = lock(&self.shared.hubs);
        for ws in &self.subscribed {
            if let Some(subs) = hubs.get_mut(ws) {
                subs.remove(&self.id);
                if subs.is_empty() {
                    hubs.remove(ws);
                }
            }
        }
    }
}

/// Sends what the connection's queue holds; catch-up reads run here so that a subscriber's
/// backlog never holds up the relay's other work.
async fn writer(
    shared: Arc<Shared>,
    mut sink: Sink,
    mut rx: mpsc::Receiver<Out>,
    kill: Arc<Notify>,
) {
    // Per workspace: the newest sequence number sent, once catch-up has begun.
    let mut cursors: HashMap<WorkspaceId, u64> = HashMap::new();
    loop {
        let out = tokio::select! {
            o = rx.recv() => match o { Some(o) => o, None => break },
            _ = kill.notified() => {
                let _ = send(&mut sink, &shared, &RelayFrame::Error {
                    code: ErrorCode::QueueFull,
                    message: format!(
                        "this connection fell {} frames behind; reconnect and resubscribe",
                        shared.limits.queue
                    ),
                }).await;
                break;
            }
        };
        let ok = match out {
            Out::Frame(f) => send(&mut sink, &shared, &f).await,
            Out::Close(code, message) => {
                let _ = send(&mut sink, &shared, &RelayFrame::Error { code, message }).await;
                break;
            }
            Out::CatchUp(ws, after) => catch_up(&shared, &mut sink, &mut cursors, ws, after).await,
            Out::Live(ws, first, frame) => {
                // Gather what else is already queued for this workspace into one frame.
                let mut live = vec![(first, frame)];
                let mut rest = Vec::new();
                while live.len() < MAX_ENTRIES {
                    match rx.try_recv() {
                        Ok(Out::Live(w, e, f)) if w == ws => live.push((e, f)),
                        Ok(other) => {
                            rest.push(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let mut ok = deliver(&shared, &mut sink, &mut cursors, ws, live).await;
                for o in rest {
                    if !ok {
                        break;
                    }
                    ok = match o {
                        Out::Frame(f) => send(&mut sink, &shared, &f).await,
                        Out::Live(w, e, f) => {
                            deliver(&shared, &mut sink, &mut cursors, w, vec![(e, f)]).await
                        }
                        Out::CatchUp(w, a) => {
                            catch_up(&shared, &mut sink, &mut cursors, w, a).await
                        }
                        Out::Close(code, message) => {
                            let _ = send(&mut sink, &shared, &RelayFrame::Error { code, message })
                                .await;
                            false
                        }
                    };
                }
                ok
            }
        };
        if !ok {
            break;
        }
    }
    let _ = sink.close().await;
}

async fn deliver(
    shared: &Shared,
    sink: &mut Sink,
    cursors: &mut HashMap<WorkspaceId, u64>,
    ws: WorkspaceId,
    live: Vec<(Arc<Entry>, Bytes)>,
) -> bool {
    let Some(&cursor) = cursors.get(&ws) else {
        return true; // not caught up yet: the catch-up read will include these
    };
    let Some((first, _)) = live.iter().find(|(e, _)| e.seq > cursor) else {
        return true;
    };
    if live.len() == 1 && first.seq == cursor + 1 {
        // The common case: one new entry, next in line; its shared frame goes out as is.
        let (e, frame) = &live[0];
        cursors.insert(ws, e.seq);
        shared.metrics.deliveries_total.fetch_add(1, Relaxed);
        shared
            .metrics
            .bytes_out_total
            .fetch_add(frame.len() as u64, Relaxed);
        return sink.send(Message::Binary(frame.clone())).await.is_ok();
    }
    if first.seq > cursor + 1 {
        // A gap (entries committed between the catch-up read and now): read it first.
        if !catch_up(shared, sink, cursors, ws, cursor).await {
            return false;
        }
    }
    let cursor = cursors.get(&ws).copied().unwrap_or(cursor);
    let entries: Vec<Entry> = live
        .iter()
        .filter(|(e, _)| e.seq > cursor)
        .map(|(e, _)| (**e).clone())
        .collect();
    let Some(last) = entries.last().map(|e| e.seq) else {
        return true;
    };
    cursors.insert(ws, last);
    shared
        .metrics
        .deliveries_total
        .fetch_add(entries.len() as u64, Relaxed);
    send(
        sink,
        shared,
        &RelayFrame::Entries {
            workspace: ws,
            entries,
            head: last,
        },
    )
    .await
}

async fn catch_up(
    shared: &Shared,
    sink: &mut Sink,
    cursors: &mut HashMap<WorkspaceId, u64>,
    ws: WorkspaceId,
    after: u64,
) -> bool {
    let mut cursor = after;
    let storage = shared.storage.clone();
    let snap = tokio::task::spawn_blocking(move || storage.snapshot(&ws)).await;
    if let Ok(Ok(Some(s))) = snap
        && s.covers > cursor
    {
        cursor = s.covers;
        if !send(
            sink,
            shared,
            &RelayFrame::Snapshot {
                workspace: ws,
                covers: s.covers,
                blob: s.blob,
                author: s.author,
                data: s.data,
            },
        )
        .await
        {
            return false;
        }
    }
    loop {
        let storage = shared.storage.clone();
        let page = tokio::task::spawn_blocking(move || {
            storage.read(&ws, cursor, MAX_ENTRIES, CATCHUP_BYTES)
        })
        .await;
        let entries = match page {
            Ok(Ok(e)) => e,
            _ => {
                let _ = send(
                    sink,
                    shared,
                    &RelayFrame::Error {
                        code: ErrorCode::Storage,
                        message: "catch-up read failed; resubscribe".into(),
                    },
                )
                .await;
                return false;
            }
        };
        let Some(last) = entries.last().map(|e| e.seq) else {
            break;
        };
        cursor = last;
        shared
            .metrics
            .deliveries_total
            .fetch_add(entries.len() as u64, Relaxed);
        if !send(
            sink,
            shared,
            &RelayFrame::Entries {
                workspace: ws,
                entries,
                head: last,
            },
        )
        .await
        {
            return false;
        }
    }
    cursors.insert(ws, cursor);
    // An empty frame tells the client it is up to date.
    send(
        sink,
        shared,
        &RelayFrame::Entries {
            workspace: ws,
            entries: Vec::new(),
            head: cursor,
        },
    )
    .await
}

/// How long a graceful shutdown waits for connections to close.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
