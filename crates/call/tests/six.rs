//! The largest mesh, six participants, in a test binary of its own: thirty connections, six
//! encoders and thirty decoders share this process, so it runs apart from the other meshes.

use std::time::Duration;

use weft_call::loopback::{Mesh, MeshConfig};
use weft_call::{MAX_PARTICIPANTS, VideoSettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_participants_each_see_and_hear_all_five_others() {
    let mesh = Mesh::start(MeshConfig {
        participants: MAX_PARTICIPANTS,
        video: VideoSettings {
            width: 160,
            height: 120,
            fps: 15,
            bitrate_bps: 150_000,
        },
        loss: 0.0,
        psnr_every: 0,
        ..MeshConfig::default()
    })
    .await
    .expect("calls start");
    assert!(
        mesh.wait_all_flowing(Duration::from_secs(60)).await,
        "every participant shows every other within 60 s"
    );
    let seconds = 5;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    for c in &mesh.calls {
        assert_eq!(c.participants().await.len(), MAX_PARTICIPANTS - 1);
    }
    mesh.assert_every_pair(0.95, seconds, 15).await;
    mesh.stop().await;
}
