//! Calls on loopback: real `webrtc` connections over UDP on 127.0.0.1, real Opus and H.264,
//! numbered test patterns read back at every receiver.

use std::time::Duration;

use weft_call::VideoSettings;
use weft_call::loopback::{Mesh, MeshConfig};

async fn run(participants: usize, loss: f64, seconds: u64) -> Mesh {
    let mesh = Mesh::start(MeshConfig {
        participants,
        video: VideoSettings::SMALL,
        loss,
        psnr_every: 0,
        ..MeshConfig::default()
    })
    .await
    .expect("calls start");
    assert!(
        mesh.wait_all_flowing(Duration::from_secs(30)).await,
        "every participant shows every other within 30 s"
    );
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    mesh
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_participants_see_and_hear_each_other() {
    let mesh = run(2, 0.0, 6).await;
    mesh.assert_every_pair(0.99, 6, 15).await;
    let parts = mesh.calls[0].participants().await;
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].peer, "p1");
    assert_eq!(parts[0].state, "connected");
    assert!(parts[0].frames_decoded > 0);
    // The tone is loud: whoever it is, someone is the active speaker.
    assert_eq!(mesh.calls[0].active_speaker().await.as_deref(), Some("p1"));
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_participants_in_a_mesh_each_get_all_three_others() {
    let mesh = run(4, 0.0, 6).await;
    mesh.assert_every_pair(0.99, 6, 15).await;
    for c in &mesh.calls {
        assert_eq!(c.participants().await.len(), 3);
    }
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_percent_loss_still_delivers_most_pictures_and_conceals_audio() {
    let mesh = run(2, 0.02, 8).await;
    mesh.assert_every_pair(0.95, 8, 15).await;
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_loss_is_reported_back_and_lowers_the_video_bitrate() {
    // Connected through the lossy proxies without loss, then 15 % of what they pass is lost
    // (a handshake at 15 % loss can take long on a busy machine, and it isn't what this tests).
    let mesh = Mesh::start(MeshConfig {
        loss: 0.15,
        ..MeshConfig::default()
    })
    .await
    .expect("calls start");
    mesh.set_loss(0.0);
    assert!(mesh.wait_all_flowing(Duration::from_secs(30)).await);
    mesh.set_loss(0.15);
    // Each receiver report covers about a second (some 30 video packets here), so one can
    // show less than the path loses; over six of them, the list shows the loss.
    let mut worst = [0f32; 2];
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for (i, c) in mesh.calls.iter().enumerate() {
            let p = &c.participants().await[0];
            worst[i] = worst[i].max(p.loss_pct);
            if p.loss_pct > 2.0 {
                assert_ne!(p.quality, "good", "at {:.1} % loss", p.loss_pct);
            }
        }
    }
    for (i, c) in mesh.calls.iter().enumerate() {
        // The other side's receiver reports and NACKs reached this sender: the participant
        // list showed the loss, and the encoder was asked for less.
        assert!(
            worst[i] >= 5.0,
            "{} saw at most {:.1} % loss",
            c.me(),
            worst[i]
        );
        assert!(
            c.video_bitrate() < VideoSettings::SMALL.bitrate_bps,
            "{} still aims at {} bit/s",
            c.me(),
            c.video_bitrate()
        );
    }
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muting_and_turning_the_camera_off_stop_what_the_other_side_gets() {
    let mesh = run(2, 0.0, 1).await;
    let p0 = &mesh.calls[0];
    p0.set_muted(true);
    p0.camera_off();
    assert!(!p0.camera_on());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (seen, (_, heard)) = (
        mesh.received.shown("p1", "p0").len(),
        mesh.received.heard("p1", "p0"),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mesh.received.shown("p1", "p0").len(),
        seen,
        "no pictures with the camera off"
    );
    let (_, heard_after) = mesh.received.heard("p1", "p0");
    assert!(
        heard_after - heard <= 5,
        "muted, yet {} more audible frames",
        heard_after - heard
    );
    // p1 still gets through to p0.
    let before = mesh.received.shown("p0", "p1").len();
    // Camera back on (a device switch is the same call): pictures flow again.
    let v = VideoSettings::SMALL;
    p0.set_video_source(move || weft_media::synthetic::TestPattern::new(v.width, v.height, v.fps))
        .unwrap();
    p0.set_muted(false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(mesh.received.shown("p1", "p0").len() > seen + 10);
    assert!(mesh.received.heard("p1", "p0").1 > heard_after + 50);
    assert!(mesh.received.shown("p0", "p1").len() > before + 20);
    mesh.stop().await;
}

/// Whether p1 shows more than `n` of p0's pictures within 10 s.
async fn resumed(mesh: &Mesh, n: usize) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if mesh.received.shown("p1", "p0").len() > n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ice_restart_asked_for_by_either_side_keeps_the_call_going() {
    let mesh = run(2, 0.0, 1).await;
    assert_eq!(
        mesh.sent("p0", "offer"),
        1,
        "p0 sorts first: it made the offer"
    );
    // The answering side asks; the offering side restarts with new ICE credentials.
    for (who, other, offers) in [(1, "p0", 2), (0, "p1", 3)] {
        mesh.calls[who].restart_ice(other).await.unwrap();
        let t = std::time::Instant::now();
        while mesh.sent("p1", "answer") < offers && t.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(mesh.sent("p0", "offer"), offers);
        assert_eq!(mesh.sent("p1", "answer"), offers);
        let before = mesh.received.shown("p1", "p0").len();
        assert!(
            resumed(&mesh, before + 15).await,
            "pictures kept coming after restart {}",
            offers - 1
        );
    }
    // Both at once: the second waits for the first's answer instead of crossing it.
    mesh.calls[1].restart_ice("p0").await.unwrap();
    mesh.calls[0].restart_ice("p1").await.unwrap();
    let before = mesh.received.shown("p1", "p0").len();
    assert!(
        resumed(&mesh, before + 15).await,
        "pictures kept coming after two restarts at once"
    );
    assert_eq!(mesh.sent("p0", "offer"), mesh.sent("p1", "answer"));
    assert_eq!(mesh.sent("p1", "restart"), 2);
    assert_eq!(mesh.calls[1].participants().await[0].state, "connected");
    // Not in the call: a clear error.
    let e = mesh.calls[0].restart_ice("p9").await.unwrap_err();
    assert!(e.to_string().contains("not in the call"), "{e}");
    mesh.stop().await;
}
