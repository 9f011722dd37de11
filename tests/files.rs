//! Files through a real relay process: attached in a private channel, sealed in chunks the
//! relay cannot read, fetched on demand by a member and put back byte for byte, refused to
//! someone outside the channel; a chunk damaged on the relay or in the cache never becomes
//! content.

use crate::util::{RelayProcess, Shared, engine, once, runtime};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use weft_core::{CoreError, FileState, SendOptions};
use weft_domain::{ChannelKind, Id, Role};

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for f in rd {
            let p = f.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A 2.5 MiB document (three chunks) that starts with words the relay must not see.
fn report() -> Vec<u8> {
    let mut v = b"porcupine quarterly numbers: ".to_vec();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while v.len() < 5 << 19 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

/// A 640×400 PNG.
fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(640, 400, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn state(e: &Shared, f: Id) -> FileState {
    e.lock().unwrap().file_state(f).unwrap()
}

#[test]
fn a_file_in_a_private_channel_reaches_its_members_whole_and_no_one_else() {
    let tmp = tempfile::tempdir().unwrap();
    let relay_dir = tmp.path().join("relay");
    let relay = RelayProcess::start(&relay_dir, "127.0.0.1:0");
    let rt = runtime();

    let mut a = engine(&tmp.path().join("ada"), "Ada");
    let ws = a.create_workspace("Acme", "").unwrap().id.unwrap();
    a.add_account(&relay.url(), &[ws]).unwrap();
    let a: Shared = Arc::new(Mutex::new(a));
    once(&rt, &a);
    let invite = |a: &Shared| {
        a.lock()
            .unwrap()
            .create_invite(ws, Role::Member, 3_600_000, 1)
            .unwrap()
            .to_link()
    };
    let (bob_link, cy_link) = (invite(&a), invite(&a));
    once(&rt, &a);
    let join = |name: &str, link: &str| -> Shared {
        let mut e = engine(&tmp.path().join(name.to_lowercase()), name);
        e.join(link).unwrap();
        let e: Shared = Arc::new(Mutex::new(e));
        once(&rt, &e);
        e
    };
    let b = join("Bob", &bob_link);
    let cy = join("Cy", &cy_link);
    once(&rt, &a);
    let bob = b.lock().unwrap().identity().unwrap().user;

    // Ada attaches a report and a picture to a message in a channel only she and Bob are in.
    let (deals, report_id, png_id) = {
        let mut e = a.lock().unwrap();
        let deals = e
            .create_channel(ws, "deals", ChannelKind::Private, "")
            .unwrap()
            .id
            .unwrap();
        e.join_channel(deals, Some(bob)).unwrap();
        let body = report();
        let r = e
            .stage_file(ws, "Q3 report.bin", "", body.len() as u64, &mut &body[..])
            .unwrap();
        let pic = png();
        let p = e
            .stage_file(
                ws,
                "whiteboard.png",
                "image/png",
                pic.len() as u64,
                &mut &pic[..],
            )
            .unwrap();
        let (rid, pid) = (r.file.unwrap(), p.file.unwrap());
        let m = e
            .send(
                deals,
                "",
                SendOptions {
                    attachments: vec![r, p],
                    ..SendOptions::default()
                },
            )
            .unwrap();
        assert_eq!(m.attachments.len(), 2);
        assert_eq!(m.attachments[0].name, "Q3 report.bin");
        assert_eq!(m.attachments[0].size, body.len() as u64);
        assert_eq!(m.attachments[0].mime, "application/octet-stream");
        (deals, rid, pid)
    };
    // Ada's own copy is readable at once; the picture has a preview that fits its limit.
    assert_eq!(state(&a, report_id), FileState::Ready);
    let pic = a.lock().unwrap().file(png_id).unwrap();
    let thumb = pic.thumbnail.clone().expect("a PNG gets a preview");
    assert!(thumb.starts_with("data:image/jpeg;base64,"), "{thumb:.40}");
    assert!(thumb.len() <= weft_core::MAX_PREVIEW_BYTES);
    assert_eq!((pic.width, pic.height), (Some(640), Some(400)));
    assert_eq!(a.lock().unwrap().read_file(png_id).unwrap(), png());
    once(&rt, &a);

    // The relay holds the chunks and none of their words.
    let held: Vec<PathBuf> = files_under(&relay_dir.join("chunks"));
    assert!(
        held.len() >= 4,
        "three report chunks and the picture: {held:?}"
    );
    for p in files_under(&relay_dir) {
        let bytes = std::fs::read(&p).unwrap();
        for secret in ["porcupine", "Q3 report", "whiteboard"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} contains {secret:?}",
                p.display()
            );
        }
    }

    // Bob gets the message and the records, and the content only when he asks for it.
    once(&rt, &b);
    let listed = b.lock().unwrap().files(ws, Some("report")).unwrap();
    assert_eq!(listed.len(), 1, "Bob's files view finds the report by name");
    assert_eq!(listed[0].channel, Some(deals));
    // What is shown of a file (a list, a message) never carries its key or chunk addresses.
    let shown = b.lock().unwrap().messages(deals, None, 10).unwrap();
    let records: Vec<_> = shown
        .iter()
        .flat_map(|v| v.message.attachments.iter())
        .filter_map(|a| a.record.clone())
        .chain(listed.iter().cloned())
        .chain([b.lock().unwrap().file(report_id).unwrap()])
        .collect();
    assert_eq!(records.len(), 4, "two attached, one listed, one looked up");
    for r in &records {
        assert!(r.key.is_empty() && r.chunks.is_empty(), "{r:?}");
    }
    assert!(matches!(
        state(&b, report_id),
        FileState::Missing {
            have: 0,
            total: 3,
            asked: false
        }
    ));
    let err = b.lock().unwrap().read_file(report_id).unwrap_err();
    assert!(matches!(err, CoreError::NotHereYet(_)), "{err}");
    once(&rt, &b);
    assert_eq!(state(&b, report_id), FileState::Ready);
    assert_eq!(b.lock().unwrap().read_file(report_id).unwrap(), report());
    let out = tmp.path().join("saved").join("report.bin");
    assert_eq!(
        b.lock().unwrap().save_file(report_id, &out).unwrap(),
        report().len() as u64
    );
    assert_eq!(std::fs::read(&out).unwrap(), report());

    // Cy is in the workspace but not the channel: the file is not listed and cannot be
    // fetched or read.
    once(&rt, &cy);
    assert!(cy.lock().unwrap().files(ws, None).unwrap().is_empty());
    let fetch = cy.lock().unwrap().fetch_file(report_id).map(|_| ());
    let read = cy.lock().unwrap().read_file(png_id).map(|_| ());
    for r in [fetch, read] {
        let err = r.unwrap_err();
        assert!(matches!(err, CoreError::Forbidden(_)), "{err}");
    }

    // A chunk damaged in Bob's cache is not content: the read fails, the chunk is dropped
    // and asked for again, and the next sync mends it.
    let cache = tmp.path().join("bob").join("chunks").join(ws.to_string());
    // Bob fetched only the report: its three chunks are all the cache holds.
    let mut cached: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    cached.sort();
    assert_eq!(cached.len(), 3, "{cached:?}");
    let chunk = cached[1].clone();
    let path = cache.join(&chunk);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = b.lock().unwrap().read_file(report_id).unwrap_err();
    assert!(matches!(err, CoreError::FileDamaged(_)), "{err}");
    assert!(!path.exists(), "the damaged chunk is dropped");
    once(&rt, &b);
    assert_eq!(b.lock().unwrap().read_file(report_id).unwrap(), report());

    // A chunk damaged on the relay's disk is refused when it arrives and never kept.
    let relay_chunk = relay_dir
        .join("chunks")
        .join(hex(&ws.to_bytes()))
        .join(&chunk);
    let mut bytes = std::fs::read(&relay_chunk).unwrap();
    bytes[7] ^= 0x40;
    std::fs::write(&relay_chunk, &bytes).unwrap();
    std::fs::remove_file(&path).unwrap();
    b.lock().unwrap().fetch_file(report_id).unwrap();
    once(&rt, &b);
    assert!(
        !path.exists(),
        "a chunk that is not what its name says is not kept"
    );
    assert!(matches!(
        state(&b, report_id),
        FileState::Missing {
            have: 2,
            total: 3,
            asked: true
        }
    ));
    let err = b.lock().unwrap().read_file(report_id).unwrap_err();
    assert!(matches!(err, CoreError::NotHereYet(_)), "{err}");
}

#[test]
fn a_file_shared_with_the_workspace_reaches_every_member() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(&tmp.path().join("relay"), "127.0.0.1:0");
    let rt = runtime();
    let mut a = engine(&tmp.path().join("ada"), "Ada");
    let ws = a.create_workspace("Acme", "").unwrap().id.unwrap();
    a.add_account(&relay.url(), &[ws]).unwrap();
    let link = a
        .create_invite(ws, Role::Member, 3_600_000, 1)
        .unwrap()
        .to_link();
    let body = b"a small handbook".to_vec();
    let staged = a
        .stage_file(
            ws,
            "handbook.md",
            "text/markdown",
            body.len() as u64,
            &mut &body[..],
        )
        .unwrap();
    let f = a.share_file(ws, staged.file.unwrap()).unwrap();
    let id = f.id.unwrap();
    let a: Shared = Arc::new(Mutex::new(a));
    once(&rt, &a);
    let mut b = engine(&tmp.path().join("bob"), "Bob");
    b.join(&link).unwrap();
    let b: Shared = Arc::new(Mutex::new(b));
    once(&rt, &b);
    assert_eq!(b.lock().unwrap().files(ws, Some("HAND")).unwrap().len(), 1);
    b.lock().unwrap().fetch_file(id).unwrap();
    once(&rt, &b);
    assert_eq!(b.lock().unwrap().read_file(id).unwrap(), body);
    // Nothing but the record and sealed chunks: the key is in the workspace document only.
    assert_eq!(b.lock().unwrap().file(id).unwrap().hash, f.hash);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
