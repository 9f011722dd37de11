//! Counters exposed at `/metrics` in Prometheus' text format.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use weft_proto::ErrorCode;

const CODES: [(ErrorCode, &str); 15] = [
    (ErrorCode::Version, "version"),
    (ErrorCode::Auth, "auth"),
    (ErrorCode::NotMember, "not_member"),
    (ErrorCode::FrameTooLarge, "frame_too_large"),
    (ErrorCode::Malformed, "malformed"),
    (ErrorCode::RateLimited, "rate_limited"),
    (ErrorCode::QueueFull, "queue_full"),
    (ErrorCode::HandshakeTimeout, "handshake_timeout"),
    (ErrorCode::TooManyConnections, "too_many_connections"),
    (ErrorCode::Invite, "invite"),
    (ErrorCode::Access, "access"),
    (ErrorCode::Protocol, "protocol"),
    (ErrorCode::Storage, "storage"),
    (ErrorCode::ShuttingDown, "shutting_down"),
    (ErrorCode::Quota, "quota"),
];

#[derive(Default)]
pub struct Metrics {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub authenticated_total: AtomicU64,
    pub pushes_total: AtomicU64,
    pub pushes_duplicate_total: AtomicU64,
    pub deliveries_total: AtomicU64,
    pub ephemeral_total: AtomicU64,
    pub bytes_in_total: AtomicU64,
    pub bytes_out_total: AtomicU64,
    pub commits_total: AtomicU64,
    pub chunks_stored_total: AtomicU64,
    pub chunk_bytes_stored_total: AtomicU64,
    pub chunks_served_total: AtomicU64,
    errors: [AtomicU64; 15],
}

impl Metrics {
    pub fn error(&self, code: ErrorCode) {
        if let Some(i) = CODES.iter().position(|(c, _)| *c == code) {
            self.errors[i].fetch_add(1, Relaxed);
        }
    }

    pub fn errors(&self, code: ErrorCode) -> u64 {
        CODES
            .iter()
            .position(|(c, _)| *c == code)
            .map(|i| self.errors[i].load(Relaxed))
            .unwrap_or(0)
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut one = |name: &str, kind: &str, help: &str, v: &AtomicU64| {
            s.push_str(&format!(
                "# HELP weft_relay_{name} {help}\n# TYPE weft_relay_{name} {kind}\nweft_relay_{name} {}\n",
                v.load(Relaxed)
            ));
        };
        one(
            "connections_open",
            "gauge",
            "Open WebSocket connections.",
            &self.connections_open,
        );
        one(
            "connections_total",
            "counter",
            "Connections accepted.",
            &self.connections_total,
        );
        one(
            "authenticated_total",
            "counter",
            "Handshakes completed.",
            &self.authenticated_total,
        );
        one(
            "pushes_total",
            "counter",
            "Blobs stored.",
            &self.pushes_total,
        );
        one(
            "pushes_duplicate_total",
            "counter",
            "Pushes of a blob already stored.",
            &self.pushes_duplicate_total,
        );
        one(
            "deliveries_total",
            "counter",
            "Log entries sent to subscribers.",
            &self.deliveries_total,
        );
        one(
            "ephemeral_total",
            "counter",
            "Ephemeral messages forwarded.",
            &self.ephemeral_total,
        );
        one(
            "bytes_in_total",
            "counter",
            "Frame bytes received.",
            &self.bytes_in_total,
        );
        one(
            "bytes_out_total",
            "counter",
            "Frame bytes sent.",
            &self.bytes_out_total,
        );
        one(
            "commits_total",
            "counter",
            "Durable storage transactions.",
            &self.commits_total,
        );
        one(
            "chunks_stored_total",
            "counter",
            "File chunks stored.",
            &self.chunks_stored_total,
        );
        one(
            "chunk_bytes_stored_total",
            "counter",
            "Bytes of file chunks stored.",
            &self.chunk_bytes_stored_total,
        );
        one(
            "chunks_served_total",
            "counter",
            "File chunks sent to members.",
            &self.chunks_served_total,
        );
        s.push_str("# HELP weft_relay_errors_total Errors sent to clients, by code.\n# TYPE weft_relay_errors_total counter\n");
        for (i, (_, name)) in CODES.iter().enumerate() {
            s.push_str(&format!(
                "weft_relay_errors_total{{code=\"{name}\"}} {}\n",
                self.errors[i].load(Relaxed)
            ));
        }
        s
    }
}
