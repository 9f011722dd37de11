//! The tray icon with the unread count, where the desktop has a tray. On Linux it needs an
//! AppIndicator library at run time: without one the app runs without a tray.

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

const TRAY: &str = "main";

/// Creates the tray icon; a desktop without a tray (or without the library) is logged, never
/// fatal.
pub fn create(app: &tauri::App) {
    let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(app)));
    match made {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::info!(error = %e, "no tray icon"),
        Err(_) => tracing::info!("no tray icon: the desktop's tray library is missing"),
    }
}

fn build(app: &tauri::App) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Weft", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut tray = TrayIconBuilder::with_id(TRAY)
        .tooltip("Weft")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

fn show(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// Shows the unread count on the tray (as its label and tooltip) and in the window title.
pub fn set_unread(app: &AppHandle, unread: usize) {
    let label = match unread {
        0 => None,
        n if n > 99 => Some("99+".to_owned()),
        n => Some(n.to_string()),
    };
    if let Some(tray) = app.tray_by_id(TRAY) {
        let _ = tray.set_title(label.as_deref());
        let tip = match &label {
            Some(n) => format!("Weft: {n} unread"),
            None => "Weft".to_owned(),
        };
        let _ = tray.set_tooltip(Some(tip));
    }
    if let Some(w) = app.get_webview_window("main") {
        let title = match &label {
            Some(n) => format!("Weft ({n})"),
            None => "Weft".to_owned(),
        };
        let _ = w.set_title(&title);
    }
}
