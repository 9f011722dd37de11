//! A real relay process on loopback and a small client for tests.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};
use weft_crypto::{DeviceKeys, Envelope, SymKey};
use weft_proto::{AccessList, ClientFrame, ErrorCode, Invite, Member, RelayFrame, Role};

pub const AUTH: &str = "relay-auth/v1";
pub const JOIN: &str = "relay-join/v1";
pub const ACCESS: &str = "access-list/v1";

/// A `weft-relay` process; killed when dropped.
pub struct Relay {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
}

impl Relay {
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Relay {
        Relay::start_at(dir, "127.0.0.1:0", env)
    }

    pub fn start_at(dir: &Path, listen: &str, env: &[(&str, &str)]) -> Relay {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft-relay"));
        cmd.args(["--listen", listen, "--data-dir"])
            .arg(dir)
            .env("WEFT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start weft-relay");
        let addr = weft_relay::read_announcement(child.stdout.take().expect("stdout"))
            .expect("relay address");
        Relay {
            child,
            addr,
            dir: dir.to_owned(),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("wait")
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connected, authenticated device.
pub struct Client {
    pub ws: Ws,
    pub keys: DeviceKeys,
}

pub async fn open(url: &str) -> Ws {
    tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .expect("connect")
        .0
}

pub async fn send(ws: &mut Ws, f: &ClientFrame) {
    ws.send(Message::Binary(f.encode().into()))
        .await
        .expect("send");
}

/// The next relay frame (ten seconds at most); `None` when the connection ended.
pub async fn recv(ws: &mut Ws) -> Option<RelayFrame> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("relay answered within 10 s");
        match m {
            Some(Ok(Message::Binary(b))) => {
                return Some(RelayFrame::decode(&b).expect("relay frame decodes"));
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// Frames until one matches, failing on an unexpected error.
pub async fn expect<T>(ws: &mut Ws, mut f: impl FnMut(&RelayFrame) -> Option<T>) -> T {
    loop {
        let fr = recv(ws).await.expect("connection open");
        if let Some(t) = f(&fr) {
            return t;
        }
        if let RelayFrame::Error { code, message } = &fr {
            panic!("unexpected error {code:?}: {message}");
        }
    }
}

/// The next error frame's code (skipping other frames).
pub async fn expect_error(ws: &mut Ws) -> (ErrorCode, String) {
    loop {
        match recv(ws).await {
            Some(RelayFrame::Error { code, message }) => return (code, message),
            Some(_) => continue,
            None => panic!("connection closed without an error frame"),
        }
    }
}

/// Hello and Welcome; returns the challenge.
pub async fn hello(ws: &mut Ws, keys: &DeviceKeys) -> [u8; 32] {
    send(
        ws,
        &ClientFrame::Hello {
            versions: vec![1],
            device: keys.public().sign,
        },
    )
    .await;
    match recv(ws).await {
        Some(RelayFrame::Welcome { version, challenge }) => {
            assert_eq!(version, 1);
            challenge
        }
        other => panic!("expected Welcome, got {other:?}"),
    }
}

impl Client {
    pub async fn connect(url: &str, keys: DeviceKeys) -> Client {
        let mut ws = open(url).await;
        let challenge = hello(&mut ws, &keys).await;
        send(
            &mut ws,
            &ClientFrame::Auth {
                signature: keys.sign(AUTH, &challenge),
            },
        )
        .await;
        assert_eq!(recv(&mut ws).await, Some(RelayFrame::Ready));
        Client { ws, keys }
    }

    pub async fn send(&mut self, f: &ClientFrame) {
        send(&mut self.ws, f).await
    }

    /// Pushes and waits for the acknowledgement; returns the sequence number.
    pub async fn push(&mut self, ws: [u8; 16], blob: [u8; 16], data: Vec<u8>) -> u64 {
        self.send(&ClientFrame::Push {
            workspace: ws,
            blob,
            data,
        })
        .await;
        expect(&mut self.ws, |f| match f {
            RelayFrame::Ack { blob: b, seq } if *b == blob => Some(*seq),
            _ => None,
        })
        .await
    }

    /// Subscribes and collects entries until the relay says it is up to date.
    pub async fn subscribe(&mut self, ws: [u8; 16], after: u64) -> Vec<weft_proto::Entry> {
        self.send(&ClientFrame::Subscribe {
            workspace: ws,
            after,
            access_version: 0,
        })
        .await;
        let mut out = Vec::new();
        loop {
            let done = expect(&mut self.ws, |f| match f {
                RelayFrame::Entries { entries, .. } => Some(Some(entries.clone())),
                RelayFrame::Access { .. } | RelayFrame::Snapshot { .. } => Some(None),
                _ => None,
            })
            .await;
            match done {
                Some(e) if e.is_empty() => return out,
                Some(e) => out.extend(e),
                None => {}
            }
        }
    }
}

/// A signed access list.
pub fn access_list(
    signer: &DeviceKeys,
    ws: [u8; 16],
    version: u64,
    members: &[(&DeviceKeys, Role)],
    invites: Vec<Invite>,
) -> Vec<u8> {
    let mut l = AccessList {
        workspace: ws,
        version,
        members: members
            .iter()
            .enumerate()
            .map(|(i, (k, r))| Member {
                device: k.public().sign,
                user: [i as u8; 16],
                role: *r,
            })
            .collect(),
        invites,
        signer: signer.public().sign,
        signature: [0; 64],
    };
    l.signature = signer.sign(ACCESS, &l.signed_part());
    l.encode()
}

/// An envelope holding `text`, sealed by `dev`.
pub fn envelope(dev: &DeviceKeys, key: &SymKey, ws: [u8; 16], text: &str) -> Vec<u8> {
    Envelope::seal(dev, key, ws, "ch:test", text.as_bytes())
        .expect("seal")
        .to_bytes()
}

pub fn blob(n: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&n.to_le_bytes());
    b
}

/// Every file under `dir`, read whole.
pub fn all_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(all_bytes(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}
