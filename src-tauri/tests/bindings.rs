//! The TypeScript bindings the UI is written against are generated from the Rust commands and
//! committed; this fails when they no longer match (a command or type changed without them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn committed_bindings_match_the_commands() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/lib/bindings.ts");
    let committed = std::fs::read_to_string(path).expect("ui/src/lib/bindings.ts");
    let fresh = weft_desktop::bindings().expect("bindings");
    assert!(
        committed == fresh,
        "ui/src/lib/bindings.ts is stale: run \
         `cargo run -p weft-desktop -- --bindings > ui/src/lib/bindings.ts`"
    );
    // Every command the UI calls is in them.
    for name in [
        "sendMessage",
        "moveTask",
        "focusStart",
        "search",
        "overview",
    ] {
        assert!(fresh.contains(&format!("\t{name}: (")), "{name} missing");
    }
}

#[test]
fn engine_errors_reach_the_ui_with_their_kind() {
    let e = weft_desktop::AppError::from(weft_core::CoreError::NotFound("channel #x".into()));
    assert_eq!(e.kind, "not_found");
    assert!(e.message.contains("channel #x"));
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["kind"], "not_found");
}
