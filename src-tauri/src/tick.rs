//! The app's timer and its change feed: every two seconds the engine fires what is due
//! (reminders, scheduled messages, focus ends) and does its upkeep; what it notifies becomes a
//! native notification; every change to the replica becomes a `Changed` event for the UI.

use crate::Changed;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;
use tauri_specta::Event;
use weft_core::{ChangeEvent, Engine};

/// How often the timer ticks.
pub const TICK_EVERY: Duration = Duration::from_secs(2);

/// How often this device tells its workspaces it is here (the others forget it after
/// `weft_core`'s presence window, 90 s).
pub const PRESENCE_EVERY: Duration = Duration::from_secs(30);

/// Starts the timer thread and the change-forwarding thread.
pub fn start(app: AppHandle, engine: Arc<Mutex<Engine>>, changes: mpsc::Receiver<ChangeEvent>) {
    let feed = app.clone();
    // The unread badge is recounted after a change (or a tick that notified), not every tick.
    let changed = Arc::new(AtomicBool::new(true));
    let dirty = changed.clone();
    let _ = std::thread::Builder::new()
        .name("weft-changes".into())
        .spawn(move || {
            for c in changes {
                dirty.store(true, Ordering::Relaxed);
                let event = Changed {
                    doc: c.doc,
                    entities: c.entities,
                    remote: c.remote,
                };
                if event.emit(&feed).is_err() {
                    break;
                }
            }
        });
    let _ = std::thread::Builder::new()
        .name("weft-tick".into())
        .spawn(move || {
            let mut unread = None;
            let mut announced: Option<std::time::Instant> = None;
            loop {
                let report = match engine.lock() {
                    Ok(mut e) => {
                        if announced.is_none_or(|t| t.elapsed() >= PRESENCE_EVERY) {
                            announced = Some(std::time::Instant::now());
                            announce(&mut e, here(&app));
                        }
                        e.tick().map(|r| {
                            let rows = if r.notified.is_empty() {
                                Vec::new()
                            } else {
                                e.inbox(true, 20).unwrap_or_default()
                            };
                            let recount =
                                changed.swap(false, Ordering::Relaxed) || !r.notified.is_empty();
                            let badge = if recount { e.unread_badge().ok() } else { None };
                            (r, rows, badge)
                        })
                    }
                    Err(_) => return,
                };
                match report {
                    Ok((r, rows, badge)) => {
                        if let Some(badge) = badge
                            && unread != Some(badge)
                        {
                            unread = Some(badge);
                            crate::tray::set_unread(&app, badge);
                        }
                        for key in &r.notified {
                            if let Some(row) = rows.iter().find(|row| &row.key == key) {
                                // No notification daemon (a bare Linux session) is not an error.
                                let _ = app
                                    .notification()
                                    .builder()
                                    .title(&row.title)
                                    .body(&row.body)
                                    .show();
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "timer tick failed"),
                }
                std::thread::sleep(TICK_EVERY);
            }
        });
}

/// Whether the window is in front of the person (shown, not minimised).
fn here(app: &AppHandle) -> bool {
    app.get_webview_window("main")
        .is_some_and(|w| w.is_visible().unwrap_or(true) && !w.is_minimized().unwrap_or(false))
}

/// Tells every workspace where this person is: `focus` during a focus session (the team sees
/// it), `active` with the window shown, `away` with it hidden in the tray or minimised.
fn announce(e: &mut Engine, here: bool) {
    let Ok(ids) = e.workspace_ids() else { return };
    let focused = e.focus_current().ok().flatten().is_some();
    let status = match (focused, here) {
        (true, _) => "focus",
        (false, true) => "active",
        (false, false) => "away",
    };
    for ws in ids {
        if let Err(err) = e.announce_presence(ws, status) {
            tracing::debug!(error = %err, "presence not announced");
        }
    }
}
