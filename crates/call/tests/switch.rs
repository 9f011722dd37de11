//! Switching devices mid-call, in a test binary of its own (its bigger pictures would crowd
//! the other meshes' CPU).

use std::time::Duration;

use weft_call::VideoSettings;
use weft_call::loopback::{Mesh, MeshConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_camera_and_microphone_mid_call_keeps_the_other_side_seeing_and_hearing() {
    let mesh = Mesh::start(MeshConfig {
        participants: 2,
        video: VideoSettings::SMALL,
        loss: 0.0,
        psnr_every: 0,
        ..MeshConfig::default()
    })
    .await
    .expect("calls start");
    assert!(mesh.wait_all_flowing(Duration::from_secs(30)).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let p0 = &mesh.calls[0];
    let small = VideoSettings::SMALL;
    let shown = |m: &Mesh| m.received.shown("p1", "p0");
    assert!(
        shown(&mesh)
            .iter()
            .all(|s| s.size == (small.width, small.height))
    );
    // Another camera, whose nearest mode is twice the size; another microphone.
    let (w, h) = (small.width * 2, small.height * 2);
    p0.set_video_source(move || weft_media::synthetic::TestPattern::new(w, h, small.fps))
        .unwrap();
    p0.set_audio_source(weft_media::synthetic::ToneSource::new(1))
        .unwrap();
    assert!(p0.camera_on());
    let switched = shown(&mesh).len();
    let heard = mesh.received.heard("p1", "p0").1;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after: Vec<_> = shown(&mesh).into_iter().skip(switched).collect();
    let bigger = after.iter().filter(|s| s.size == (w, h)).count();
    assert!(
        bigger > 20,
        "{bigger} of {} pictures since the switch at the new camera's size",
        after.len()
    );
    // Once the new camera's pictures arrive, the old one's stop.
    let first = after.iter().position(|s| s.size == (w, h)).unwrap();
    assert!(after[first..].iter().all(|s| s.size == (w, h)));
    assert!(
        mesh.received.heard("p1", "p0").1 > heard + 50,
        "the new microphone is heard"
    );
    mesh.stop().await;
}
