//! The relay scenario: a `weft-relay` in its own process on loopback, N authenticated devices
//! subscribed to one workspace, a few of them pushing at a fixed total rate; every delivery's
//! send→receive latency is measured, and the relay's memory per idle connection.

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use weft_crypto::{DeviceKeys, Envelope, SymKey};
use weft_proto::{AccessList, ClientFrame, Member, RelayFrame, Role};

/// Options of the relay scenario.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Connected devices, all subscribed to one workspace.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Seconds of pushing.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Pushes per second in all (each is delivered to every subscribed connection).
    #[arg(long, default_value_t = 250)]
    pub rate: u64,
    /// Devices that push.
    #[arg(long, default_value_t = 10)]
    pub publishers: usize,
    /// Bytes each device's WebSocket reads at a time (default: the engine's
    /// `RELAY_READ_CHUNK`; tungstenite's own default is 131072), to compare.
    #[arg(long)]
    pub read_chunk: Option<usize>,
}

/// `weft-bench relay-server`: the relay alone in this process (so its memory is its own).
#[derive(Debug, clap::Args)]
pub struct ServerOpts {
    #[arg(long)]
    pub data_dir: std::path::PathBuf,
}

pub fn serve(o: &ServerOpts) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut config = weft_relay::Config::load(None, |k| std::env::var(k).ok())?;
        config.listen = "127.0.0.1:0".parse()?;
        config.data_dir = o.data_dir.clone();
        config.limits.conns_per_addr = 1_000_000;
        config.limits.max_conns = 1_000_000;
        let running = weft_relay::start(&config).await?;
        println!("{}", weft_relay::announcement(running.addr));
        // Until the parent closes our stdin.
        let mut line = String::new();
        let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await;
        running.shutdown().await?;
        Ok(())
    })
}

/// CPU seconds a process has used (user + system; Linux counts in 1/100 s).
fn cpu_s(pid: u32) -> Result<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = s.rsplit_once(')').context("stat")?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 =
        f.get(11).context("utime")?.parse::<u64>()? + f.get(12).context("stime")?.parse::<u64>()?;
    Ok(ticks as f64 / 100.0)
}

fn rss_kb(pid: u32) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS")
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn recv(ws: &mut Ws) -> Result<RelayFrame> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await? {
            Some(Ok(Message::Binary(b))) => return Ok(RelayFrame::decode(&b)?),
            Some(Ok(_)) => continue,
            _ => bail!("connection closed"),
        }
    }
}

async fn connect(url: &str, keys: &DeviceKeys, read_chunk: Option<usize>) -> Result<Ws> {
    // The engine's own settings: the bench's devices read as the app's do.
    let mut config = weft_core::relay_client_config();
    if let Some(n) = read_chunk {
        config = config.read_buffer_size(n);
    }
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    let hello = ClientFrame::Hello {
        versions: vec![1],
        device: keys.public().sign,
    };
    ws.send(Message::Binary(hello.encode().into())).await?;
    let RelayFrame::Welcome { challenge, .. } = recv(&mut ws).await? else {
        bail!("expected Welcome");
    };
    let auth = ClientFrame::Auth {
        signature: keys.sign(weft_relay::server::AUTH_DOMAIN, &challenge),
    };
    ws.send(Message::Binary(auth.encode().into())).await?;
    match recv(&mut ws).await? {
        RelayFrame::Ready => Ok(ws),
        other => bail!("expected Ready, got {other:?}"),
    }
}

/// Subscribes (holding access list version 1 already) and waits for "up to date".
async fn subscribe(ws: &mut Ws, workspace: [u8; 16]) -> Result<()> {
    let f = ClientFrame::Subscribe {
        workspace,
        after: 0,
        access_version: 1,
    };
    ws.send(Message::Binary(f.encode().into())).await?;
    loop {
        match recv(ws).await? {
            RelayFrame::Entries { entries, .. } if entries.is_empty() => return Ok(()),
            RelayFrame::Error { message, .. } => bail!("subscribe: {message}"),
            _ => {}
        }
    }
}

pub fn run(o: &Opts) -> Result<Value> {
    if o.clients < 2 || o.publishers == 0 || o.publishers > o.clients {
        bail!("need at least 2 clients and 1..=clients publishers");
    }
    let relay = RelayProcess::start(&[
        ("WEFT_RELAY_RATE", "100000"),
        ("WEFT_RELAY_BURST", "100000"),
        ("WEFT_RELAY_QUEUE", "65536"),
    ])?;
    let (url, pid) = (relay.url.clone(), relay.pid);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let out = rt.block_on(drive(o, &url, pid));
    drop(relay);
    out
}

/// A relay in its own process (this binary's `relay-server`), on loopback; stopped when
/// dropped.
pub struct RelayProcess {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    pub url: String,
    pub pid: u32,
}

impl RelayProcess {
    /// Starts one with extra `WEFT_RELAY_*` settings.
    pub fn start(env: &[(&str, &str)]) -> Result<RelayProcess> {
        let dir = tempfile::tempdir()?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["relay-server", "--data-dir"])
            .arg(dir.path())
            .env("WEFT_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let addr = weft_relay::read_announcement(child.stdout.take().context("stdout")?)?;
        Ok(RelayProcess {
            pid: child.id(),
            child,
            _dir: dir,
            url: format!("ws://{addr}/"),
        })
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        // Closing its stdin asks it to shut down.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

async fn drive(o: &Opts, url: &str, pid: u32) -> Result<Value> {
    let workspace = [7u8; 16];
    let keys: Vec<DeviceKeys> = (0..o.clients).map(|_| DeviceKeys::generate()).collect();
    let owner = &keys[0];
    let mut list = AccessList {
        workspace,
        version: 1,
        members: keys
            .iter()
            .enumerate()
            .map(|(i, k)| Member {
                device: k.public().sign,
                user: [(i % 251) as u8; 16],
                role: if i == 0 { Role::Owner } else { Role::Member },
            })
            .collect(),
        invites: vec![],
        signer: owner.public().sign,
        signature: [0; 64],
    };
    list.signature = owner.sign(weft_relay::server::ACCESS_DOMAIN, &list.signed_part());
    // Baseline memory: the relay with one connection open.
    let mut first = connect(url, owner, o.read_chunk).await?;
    let set = ClientFrame::SetAccess {
        workspace,
        list: list.encode(),
    };
    first.send(Message::Binary(set.encode().into())).await?;
    loop {
        match recv(&mut first).await? {
            RelayFrame::Ack { .. } => break,
            RelayFrame::Error { message, .. } => bail!("access list: {message}"),
            _ => {}
        }
    }
    subscribe(&mut first, workspace).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = rss_kb(pid)?;
    let mut conns = vec![first];
    for k in &keys[1..] {
        let mut ws = connect(url, k, o.read_chunk).await?;
        subscribe(&mut ws, workspace).await?;
        conns.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = rss_kb(pid)?;
    let per_idle = (rss_idle.saturating_sub(rss_before)) as f64 / (o.clients - 1) as f64;

    // Fan-out under load. A blob id carries its send time (ns since `base`), so every
    // receiver measures its own latency with no shared state.
    let base = Instant::now();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let delivered = Arc::new(AtomicU64::new(0));
    let key = SymKey::generate(1);
    let total = o.rate * o.seconds;
    // Every subscriber receives every push, its author's other connections included.
    let expected = total * o.clients as u64;
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for (i, ws) in conns.into_iter().enumerate() {
        let (mut sink, mut stream) = ws.split();
        let lat = latencies.clone();
        let delivered = delivered.clone();
        readers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(Ok(m)) = stream.next().await {
                let Message::Binary(b) = m else { continue };
                let Ok(RelayFrame::Entries { entries, .. }) = RelayFrame::decode(&b) else {
                    continue;
                };
                let now = base.elapsed().as_nanos() as u64;
                for e in &entries {
                    let mut t = [0u8; 8];
                    t.copy_from_slice(&e.blob[8..]);
                    let sent = u64::from_le_bytes(t);
                    mine.push(now.saturating_sub(sent) as f64 / 1e6);
                }
                delivered.fetch_add(entries.len() as u64, Relaxed);
            }
            lat.lock().unwrap_or_else(|p| p.into_inner()).extend(mine);
        }));
        if i < o.publishers {
            let dev = DeviceKeys::from_secret_bytes(&keys[i].secret_bytes());
            let key = key.clone();
            let per = total / o.publishers as u64;
            let interval = Duration::from_secs_f64(o.publishers as f64 / o.rate as f64);
            writers.push(tokio::spawn(async move {
                // Envelopes made before the clock starts: signing is the client's cost.
                let pushes: Vec<(u64, Vec<u8>)> = (0..per)
                    .map(|n| {
                        let env = Envelope::seal(&dev, &key, workspace, "ch:bench", &[b'x'; 200])
                            .map(|e| e.to_bytes())
                            .unwrap_or_default();
                        (n, env)
                    })
                    .collect();
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                for (n, data) in pushes {
                    tick.tick().await;
                    let mut blob = [0u8; 16];
                    blob[..4].copy_from_slice(&(i as u32).to_le_bytes());
                    blob[4..8].copy_from_slice(&(n as u32).to_le_bytes());
                    blob[8..].copy_from_slice(&(base.elapsed().as_nanos() as u64).to_le_bytes());
                    let f = ClientFrame::Push {
                        workspace,
                        blob,
                        data,
                    };
                    if sink.send(Message::Binary(f.encode().into())).await.is_err() {
                        break;
                    }
                }
                sink
            }));
        } else {
            // Keep the sink alive for the reader's connection.
            writers.push(tokio::spawn(async move { sink }));
        }
    }
    let started = Instant::now();
    let cpu_before = cpu_s(pid)?;
    let mut sinks = Vec::new();
    for w in writers {
        sinks.push(w.await?);
    }
    // Wait for the deliveries to drain (bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivered.load(Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let relay_cpu = cpu_s(pid)? - cpu_before;
    let got = delivered.load(Relaxed);
    for mut s in sinks {
        let _ = s.close().await;
    }
    for r in readers {
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    Ok(json!({
        "scenario": "relay",
        "clients": o.clients,
        "publishers": o.publishers,
        "client_read_chunk": o.read_chunk.unwrap_or(weft_core::RELAY_READ_CHUNK),
        "pushes": total,
        "seconds": round(elapsed),
        "deliveries_expected": expected,
        "deliveries": got,
        "deliveries_per_s": (got as f64 / elapsed).round(),
        "latency_p50_ms": round(pct(0.5)),
        "latency_p99_ms": round(pct(0.99)),
        "latency_max_ms": round(pct(1.0)),
        "relay_cpu_percent": (relay_cpu / elapsed * 100.0).round(),
        "relay_rss_kb_before": rss_before,
        "relay_rss_kb_idle": rss_idle,
        "relay_rss_kb_per_idle_conn": round(per_idle),
    }))
}
