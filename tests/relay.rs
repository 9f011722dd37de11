//! `weft relay` runs the relay from the client binary: it listens, answers `/healthz`, and
//! stops cleanly on SIGTERM with its data directory intact.

use crate::util::{RelayProcess, weft_bin};
use std::io::{Read, Write};
use std::process::Command;

#[test]
fn weft_relay_serves_until_terminated() {
    let dir = tempfile::tempdir().unwrap();
    let relay_dir = dir.path().join("relay");
    let mut relay = RelayProcess::start(&relay_dir, "127.0.0.1:0");
    let addr = relay.addr.clone();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("ok\n"), "{reply}");
    Command::new("kill")
        .args(["-TERM", &relay.child.id().to_string()])
        .status()
        .unwrap();
    let status = relay.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(relay_dir.join("relay.db").exists());
    // A bad setting is refused with the variable named, before anything listens.
    let out = Command::new(weft_bin())
        .args(["relay", "--relay-dir"])
        .arg(&relay_dir)
        .env("WEFT_RELAY_QUEUE", "lots")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WEFT_RELAY_QUEUE"), "{err}");
}
