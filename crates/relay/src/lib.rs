//! `weft-relay`: the server a team self-hosts as one binary. It authenticates devices by
//! Ed25519 challenge and response, enforces each workspace's signed access list, keeps a
//! per-workspace append-only log of opaque encrypted blobs with relay-assigned sequence
//! numbers, forwards presence, typing and call signalling without storing them, and never
//! holds a key that could read what it stores.

pub mod config;
pub mod listener;
pub mod metrics;
pub mod server;
pub mod storage;

pub use config::{Config, Limits};
pub use storage::{SqliteStorage, Storage};

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// A running relay.
pub struct Running {
    pub addr: SocketAddr,
    pub shared: Arc<server::Shared>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Tells every connection the relay is going away, then stops.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + server::SHUTDOWN_GRACE;
        let served = match tokio::time::timeout_at(deadline, self.task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(std::io::Error::other(e)),
            Err(_) => Ok(()),
        };
        // The HTTP server is done once upgrades are handed over; the WebSocket connections
        // run on their own tasks, which must get to send "shutting down" before we return.
        let open = || {
            self.shared
                .metrics
                .connections_open
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        while open() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        served
    }
}

/// Opens the store and starts serving on `config.listen` (port 0 picks a free port).
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&config.data_dir)?);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    // Caps connections per address and times out silent ones before any HTTP is read; sets
    // TCP_NODELAY (frames are small: with delayed ACKs, Nagle would add 40 ms).
    let listener = listener::GuardedListener::new(listener, config.limits.clone());
    let (stop, stopped) = watch::channel(false);
    let (app, shared) = server::router(storage, config.limits.clone(), stopped.clone());
    let mut stopped = stopped;
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<listener::PeerAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await
    });
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "relay listening");
    Ok(Running {
        addr,
        shared,
        stop,
        task,
    })
}

/// The line a relay process prints on stdout once it listens, so that scripts and tests can
/// find a relay started on port 0 (`weft-relay`, `weft relay`, weft-bench's relay).
pub fn announcement(addr: SocketAddr) -> String {
    format!("listening on {addr}")
}

/// Reads a relay process's [`announcement`] from its stdout: the address it listens on.
pub fn read_announcement(stdout: impl std::io::Read) -> std::io::Result<SocketAddr> {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    line.trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("unexpected relay output {line:?}")))
}

/// Runs a relay until SIGINT or SIGTERM, then shuts it down gracefully; `on_listen` is told
/// the address once it listens. What both `weft-relay` and `weft relay` run.
pub fn run_until_signal(config: &Config, on_listen: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        // The handlers are installed before the address is announced, so a signal sent as
        // soon as someone sees the address is never taken by the default action.
        #[cfg(unix)]
        let (mut sigterm, mut sigint) = {
            use tokio::signal::unix::{SignalKind, signal};
            (
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            )
        };
        let running = start(config).await?;
        on_listen(running.addr);
        #[cfg(unix)]
        tokio::select! {
            _ = sigint.recv() => {}
            _ = sigterm.recv() => {}
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await?;
        tracing::info!("shutting down");
        running.shutdown().await?;
        Ok(())
    })
}

/// Structured logs on stderr, filtered by `WEFT_LOG` (default `info`); JSON lines if asked.
pub fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        fmt.json().try_init()
    } else {
        fmt.try_init()
    };
}
