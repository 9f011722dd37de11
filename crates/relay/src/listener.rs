//! The TCP listener in front of the HTTP server: caps connections per address before any
//! HTTP is read, and closes a connection whose HTTP request headers have not arrived within
//! the handshake time (a half-open or slow-loris peer holds nothing for long).

use crate::Limits;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// Longest HTTP request head accepted.
pub const MAX_HEAD: usize = 16 * 1024;

type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// Accepts TCP connections under the relay's limits.
pub struct GuardedListener {
    inner: TcpListener,
    limits: Limits,
    counts: Counts,
}

impl GuardedListener {
    pub fn new(inner: TcpListener, limits: Limits) -> GuardedListener {
        GuardedListener {
            inner,
            limits,
            counts: Counts::default(),
        }
    }

    /// TCP connections allowed per address: room for the WebSocket limit (whose excess gets
    /// a `TooManyConnections` frame) and for connections still in their handshake.
    fn tcp_cap(&self) -> usize {
        self.limits
            .conns_per_addr
            .saturating_mul(2)
            .saturating_add(16)
    }
}

/// The peer's address, as handlers see it.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, GuardedListener>> for PeerAddr {
    fn connect_info(s: IncomingStream<'_, GuardedListener>) -> PeerAddr {
        PeerAddr(*s.remote_addr())
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = Guarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Guarded, SocketAddr) {
        loop {
            let (mut tcp, addr) = match self.inner.accept().await {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let ip = addr.ip();
            let over = {
                let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
                let n = c.entry(ip).or_insert(0);
                if *n >= self.tcp_cap() {
                    true
                } else {
                    *n += 1;
                    false
                }
            };
            if over {
                let cap = self.tcp_cap();
                tokio::spawn(async move {
                    let body = format!("too many connections from {ip}: the limit is {cap}\n");
                    let _ = tcp
                        .write_all(
                            format!(
                                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                            .as_bytes(),
                        )
                        .await;
                    let _ = tcp.shutdown().await;
                });
                continue;
            }
            let deadline = Box::pin(tokio::time::sleep(self.limits.handshake()));
            return (
                Guarded {
                    tcp,
                    deadline,
                    head_done: false,
                    head_len: 0,
                    tail: 0,
                    _slot: Slot {
                        counts: self.counts.clone(),
                        ip,
                    },
                },
                addr,
            );
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

struct Slot {
    counts: Counts,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = c.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.remove(&self.ip);
            }
        }
    }
}

/// A TCP stream that must deliver its HTTP request head in time.
pub struct Guarded {
    tcp: TcpStream,
    deadline: Pin<Box<Sleep>>,
    head_done: bool,
    head_len: usize,
    /// The last bytes seen, to find `\r\n\r\n` across reads (as a 32-bit window).
    tail: u32,
    /// Held for the connection's life: dropping it frees the address's place.
    _slot: Slot,
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.head_done && this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "HTTP request head not received in time",
            )));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if !this.head_done && matches!(r, Poll::Ready(Ok(()))) {
            for &b in &buf.filled()[before..] {
                this.tail = (this.tail << 8) | u32::from(b);
                this.head_len += 1;
                if this.tail == u32::from_be_bytes(*b"\r\n\r\n") {
                    this.head_done = true;
                    break;
                }
            }
            if !this.head_done && this.head_len > MAX_HEAD {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "HTTP request head too large",
                )));
            }
        }
        r
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}
