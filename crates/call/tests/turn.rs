//! Calls through a TURN server: coturn's `turnserver` on loopback, every participant made to
//! send only through it (the workspace setting "calls only through a relay").

use std::time::Duration;

use weft_call::loopback::{Coturn, Mesh, MeshConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_call_goes_through_the_turn_server_and_delivers_every_picture() {
    let turn = Coturn::start("weft", "s3cret").expect("coturn starts");
    let mesh = Mesh::start(MeshConfig {
        ice_servers: vec![turn.turn()],
        relay_only: true,
        ..MeshConfig::default()
    })
    .await
    .expect("calls start");
    assert!(
        mesh.wait_all_flowing(Duration::from_secs(30)).await,
        "both show each other through the relay within 30 s; turnserver said: {:?}",
        turn.log()
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    mesh.assert_every_pair(0.99, 4, 15).await;
    for c in &mesh.calls {
        let parts = c.participants().await;
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].route, "relay", "{} reaches the other by", c.me());
        assert_eq!(c.problem(), None);
    }
    // The server saw both of them allocate a relay with the credential.
    let allocations = turn
        .log()
        .iter()
        .filter(|l| l.contains("ALLOCATE processed, success"))
        .count();
    assert!(allocations >= 2, "turnserver said: {:?}", turn.log());
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_turn_credential_is_told_and_nothing_goes_around_the_relay() {
    let turn = Coturn::start("weft", "s3cret").expect("coturn starts");
    let mut wrong = turn.turn();
    wrong.credential = "not-it".into();
    let mesh = Mesh::start(MeshConfig {
        ice_servers: vec![wrong],
        relay_only: true,
        ..MeshConfig::default()
    })
    .await
    .expect("calls start");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while mesh.calls.iter().any(|c| c.problem().is_none()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no problem told within 30 s; turnserver said: {:?}",
            turn.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let problem = mesh.calls[0].problem().unwrap();
    assert!(
        problem.contains("only through a TURN server")
            && problem.contains(&format!("turn:127.0.0.1:{}", turn.port)),
        "{problem}"
    );
    // Relay-only means relay only: no direct path is tried in its place.
    for c in &mesh.calls {
        for p in c.participants().await {
            assert_ne!(p.state, "connected");
            assert_eq!(p.frames_decoded, 0);
            assert_eq!(p.route, "");
        }
    }
    mesh.stop().await;
}
