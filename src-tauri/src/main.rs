//! `weft-desktop`: the app; `weft-desktop --bindings` prints the TypeScript bindings.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[allow(clippy::print_stdout)] // The bindings are `--bindings`' output.
fn main() {
    if std::env::args().nth(1).as_deref() == Some("--bindings") {
        match weft_desktop::bindings() {
            Ok(b) => print!("{b}"),
            Err(e) => {
                eprintln!("weft-desktop: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    weft_desktop::run();
}
