//! Criterion benches for the hot paths: a local edit (send), opening a channel, searching.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use weft_core::{Engine, SendOptions};
use weft_domain::{Profile, Timestamp};

fn setup(n: usize) -> (tempfile::TempDir, Engine, weft_domain::Id, weft_domain::Id) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut e = Engine::open(dir.path()).expect("engine");
    e.init_profile(Profile {
        display_name: "Bench".into(),
        ..Profile::default()
    })
    .expect("profile");
    let ws = e
        .create_workspace("Bench", "")
        .expect("workspace")
        .id
        .expect("id");
    let ch = e.find_channel(ws, "general").expect("general");
    let texts: Vec<(Timestamp, String)> = (0..n)
        .map(|i| {
            (
                Timestamp(1_700_000_000_000 + i as i64 * 1000),
                format!("message {i} about the quarterly roadmap and release"),
            )
        })
        .collect();
    e.send_batch(ch, &texts).expect("import");
    (dir, e, ws, ch)
}

fn hot_paths(c: &mut Criterion) {
    let (_dir, mut e, ws, ch) = setup(20_000);
    c.bench_function("send_message", |b| {
        b.iter(|| {
            e.send(
                ch,
                black_box("a new message in the channel"),
                SendOptions::default(),
            )
            .expect("send")
        })
    });
    c.bench_function("open_channel_newest_50", |b| {
        b.iter(|| e.messages(ch, None, 50).expect("page"))
    });
    c.bench_function("search_newest", |b| {
        b.iter(|| {
            e.search(ws, black_box("roadmap"), false, 50)
                .expect("search")
        })
    });
    c.bench_function("search_partial_word", |b| {
        b.iter(|| e.search(ws, black_box("quart"), false, 50).expect("search"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = hot_paths
}
criterion_main!(benches);
