//! The Weft desktop shell: thin Tauri commands over `weft-core`, change events to the UI, the
//! timer tick, relay sync, and the window's place on the desktop (single instance, deep links,
//! window state, tray, notifications).
//!
//! Every command locks the one [`Engine`] for the length of one engine call and never across an
//! await; commands are `async` so they run off the window's main thread.

use serde::{Deserialize, Serialize};
use specta::Type;
use std::sync::{Arc, Mutex};
use tauri::{Emitter, Manager, State};
use tauri_specta::{Event, collect_commands, collect_events};
use weft_core::{
    ChannelView, Engine, MessageView, NewTask, SearchResults, SendOptions, SyncMode, SyncStatus,
};
use weft_domain::{
    Board, Channel, ChannelKind, FocusKind, FocusSession, Id, Profile, Task, Timestamp, Workspace,
};

/// A std mutex's guard, through poisoning (what it guards stays usable after a panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

mod calls;
mod chat;
mod devices;
mod error;
mod files;
mod people;
mod tick;
mod tray;
mod work;

pub use error::AppError;

/// What every command answers with.
pub type Answer<T> = Result<T, AppError>;

/// The app's state: the engine, shared with the sync tasks and the timer.
pub struct App {
    engine: Arc<Mutex<Engine>>,
    /// Relay accounts with a sync task running.
    syncing: Mutex<std::collections::HashSet<i64>>,
    started: std::time::Instant,
    ready: std::sync::atomic::AtomicBool,
}

impl App {
    fn with<T>(&self, f: impl FnOnce(&mut Engine) -> weft_core::Result<T>) -> Answer<T> {
        let mut e = self
            .engine
            .lock()
            .map_err(|_| AppError::internal("engine lock poisoned"))?;
        f(&mut e).map_err(AppError::from)
    }
}

/// Who this device is, and what it holds: enough for the UI to choose its first screen.
#[derive(Debug, Clone, Serialize, Type)]
pub struct Overview {
    /// `None` on first run.
    pub profile: Option<Profile>,
    pub me: Option<Id>,
    pub workspaces: Vec<Workspace>,
    pub data_dir: String,
}

/// A change to the replica (local or from a relay); the UI refreshes what shows it.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct Changed {
    pub doc: String,
    pub entities: Vec<(String, String)>,
    pub remote: bool,
}

/// The relay sync status changed.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct SyncChanged {
    pub state: String,
    pub pending: Option<u32>,
    pub error: Option<String>,
}

impl From<&SyncStatus> for SyncChanged {
    fn from(s: &SyncStatus) -> SyncChanged {
        let (state, pending, error) = match s {
            SyncStatus::Offline { error } => ("offline", None, error.clone()),
            SyncStatus::Connecting => ("connecting", None, None),
            SyncStatus::Syncing { pending } => (
                "syncing",
                Some((*pending).min(u32::MAX as u64) as u32),
                None,
            ),
            SyncStatus::UpToDate => ("up_to_date", None, None),
        };
        SyncChanged {
            state: state.into(),
            pending,
            error,
        }
    }
}

#[tauri::command]
#[specta::specta]
async fn overview(app: State<'_, App>) -> Answer<Overview> {
    app.with(|e| {
        let profile = e.profile().ok();
        let workspaces = if profile.is_some() {
            e.workspaces()?
        } else {
            Vec::new()
        };
        Ok(Overview {
            profile,
            me: e.identity().map(|i| i.user),
            workspaces,
            data_dir: e.dir().display().to_string(),
        })
    })
}

#[tauri::command]
#[specta::specta]
async fn create_profile(
    app: State<'_, App>,
    display_name: String,
    username: String,
) -> Answer<Profile> {
    app.with(|e| {
        e.init_profile(Profile {
            display_name,
            username,
            ..Profile::default()
        })
    })
}

#[tauri::command]
#[specta::specta]
async fn create_workspace(app: State<'_, App>, name: String) -> Answer<Workspace> {
    app.with(|e| e.create_workspace(&name, ""))
}

#[tauri::command]
#[specta::specta]
async fn join_workspace(app: State<'_, App>, handle: tauri::AppHandle, link: String) -> Answer<Id> {
    let ws = app.with(|e| {
        let ws = e.join(&link)?;
        // #general arrives with the workspace's documents, after sync: joined then.
        e.set_local_pref(&format!("autojoin.{ws}"), "general")?;
        Ok(ws)
    })?;
    start_sync(&handle, &app);
    Ok(ws)
}

/// An invite link to a workspace (admins), valid for a week and ten devices.
#[tauri::command]
#[specta::specta]
async fn create_invite(app: State<'_, App>, workspace: Id) -> Answer<String> {
    app.with(|e| {
        e.create_invite(workspace, weft_domain::Role::Member, 7 * 86_400_000, 10)
            .map(|l| l.to_link())
    })
}

#[tauri::command]
#[specta::specta]
async fn channels(app: State<'_, App>, workspace: Id) -> Answer<Vec<ChannelView>> {
    app.with(|e| {
        let key = format!("autojoin.{workspace}");
        if let Some(name) = e.local_pref(&key)?.filter(|n| !n.is_empty())
            && let Ok(channel) = e.find_channel(workspace, &name)
            && e.join_channel(channel, None).is_ok()
        {
            e.set_local_pref(&key, "")?;
        }
        e.channels(workspace)
    })
}

#[tauri::command]
#[specta::specta]
async fn create_channel(
    app: State<'_, App>,
    workspace: Id,
    name: String,
    is_private: bool,
) -> Answer<Channel> {
    let kind = if is_private {
        ChannelKind::Private
    } else {
        ChannelKind::Public
    };
    app.with(|e| e.create_channel(workspace, &name, kind, ""))
}

#[tauri::command]
#[specta::specta]
async fn messages(
    app: State<'_, App>,
    channel: Id,
    before: Option<f64>,
    limit: u32,
) -> Answer<Vec<MessageView>> {
    let limit = (limit as usize).clamp(1, 200);
    app.with(|e| e.messages(channel, before.map(|b| b as i64), limit))
}

#[tauri::command]
#[specta::specta]
async fn thread(app: State<'_, App>, root: Id) -> Answer<Vec<MessageView>> {
    app.with(|e| e.thread(root))
}

#[tauri::command]
#[specta::specta]
async fn send_message(
    app: State<'_, App>,
    channel: Id,
    text: String,
    parent: Option<Id>,
    attachments: Vec<Id>,
) -> Answer<weft_domain::Message> {
    app.with(|e| {
        e.send(
            channel,
            &text,
            SendOptions {
                parent,
                // Staged files (`stage_file`), or files already shared, by id: the engine
                // fills in the rest from their records.
                attachments: attachments
                    .into_iter()
                    .map(|id| weft_domain::Attachment {
                        file: Some(id),
                        ..Default::default()
                    })
                    .collect(),
                ..SendOptions::default()
            },
        )
    })
}

#[tauri::command]
#[specta::specta]
async fn edit_message(app: State<'_, App>, id: Id, text: String) -> Answer<weft_domain::Message> {
    app.with(|e| e.edit_message(id, &text))
}

#[tauri::command]
#[specta::specta]
async fn delete_message(app: State<'_, App>, id: Id) -> Answer<()> {
    app.with(|e| e.delete_message(id))
}

#[tauri::command]
#[specta::specta]
async fn react(app: State<'_, App>, id: Id, emoji: String) -> Answer<bool> {
    app.with(|e| e.react(id, &emoji))
}

#[tauri::command]
#[specta::specta]
async fn mark_read(app: State<'_, App>, channel: Id) -> Answer<()> {
    app.with(|e| e.mark_read(channel, None))
}

#[tauri::command]
#[specta::specta]
async fn search(app: State<'_, App>, workspace: Id, query: String) -> Answer<SearchResults> {
    app.with(|e| e.search(workspace, &query, false, 50))
}

#[tauri::command]
#[specta::specta]
async fn boards(app: State<'_, App>, workspace: Id) -> Answer<Vec<Board>> {
    app.with(|e| e.boards(workspace))
}

#[tauri::command]
#[specta::specta]
async fn create_board(app: State<'_, App>, workspace: Id, name: String) -> Answer<Board> {
    app.with(|e| e.create_board(workspace, &name, ""))
}

#[tauri::command]
#[specta::specta]
async fn board_view(app: State<'_, App>, board: Id) -> Answer<Vec<weft_core::ColumnView>> {
    app.with(|e| e.board_view(board))
}

#[tauri::command]
#[specta::specta]
async fn create_task(
    app: State<'_, App>,
    board: Id,
    title: String,
    column: Option<Id>,
) -> Answer<Task> {
    app.with(|e| {
        e.create_task(
            board,
            NewTask {
                title,
                column,
                ..NewTask::default()
            },
        )
    })
}

#[tauri::command]
#[specta::specta]
async fn move_task(app: State<'_, App>, task: Id, column: Id, index: Option<u32>) -> Answer<Task> {
    app.with(|e| e.move_task(task, column, index.map(|i| i as usize)))
}

#[tauri::command]
#[specta::specta]
async fn focus_current(app: State<'_, App>) -> Answer<Option<FocusSession>> {
    app.with(|e| e.focus_current())
}

#[tauri::command]
#[specta::specta]
async fn focus_start(
    app: State<'_, App>,
    kind: FocusKind,
    minutes: Option<u32>,
) -> Answer<FocusSession> {
    app.with(|e| e.focus_start(kind, minutes, None))
}

#[tauri::command]
#[specta::specta]
async fn focus_stop(app: State<'_, App>, completed: bool) -> Answer<weft_core::FocusEnd> {
    app.with(|e| e.focus_stop(completed))
}

#[tauri::command]
#[specta::specta]
async fn inbox(app: State<'_, App>) -> Answer<Vec<weft_store::InboxRow>> {
    app.with(|e| e.inbox(false, 100))
}

/// Adds a relay account for every workspace here and starts syncing with it.
#[tauri::command]
#[specta::specta]
async fn add_relay(app: State<'_, App>, handle: tauri::AppHandle, url: String) -> Answer<()> {
    app.with(|e| {
        let ids = e.workspace_ids()?;
        e.add_account(&url, &ids).map(|_| ())
    })?;
    start_sync(&handle, &app);
    Ok(())
}

#[tauri::command]
#[specta::specta]
async fn agenda(
    app: State<'_, App>,
    workspace: Id,
    from: f64,
    to: f64,
) -> Answer<weft_core::Agenda> {
    app.with(|e| e.agenda(workspace, Timestamp(from as i64), Timestamp(to as i64)))
}

/// The UI has drawn its first screen with data: printed once on stdout with the time since the
/// process started, which `weft-bench app` reads as "interactive".
#[tauri::command]
#[specta::specta]
#[allow(clippy::print_stdout)] // The benchmark's signal, by design on stdout.
async fn ui_ready(app: State<'_, App>) -> Answer<()> {
    if !app.ready.swap(true, std::sync::atomic::Ordering::SeqCst) {
        println!(
            "weft-desktop: interactive after {} ms",
            app.started.elapsed().as_millis()
        );
    }
    Ok(())
}

/// The commands and events the UI sees; also what the TypeScript bindings are made from.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            overview,
            create_profile,
            create_workspace,
            join_workspace,
            channels,
            create_channel,
            messages,
            thread,
            send_message,
            edit_message,
            delete_message,
            react,
            mark_read,
            search,
            boards,
            create_board,
            board_view,
            create_task,
            move_task,
            focus_current,
            focus_start,
            focus_stop,
            inbox,
            add_relay,
            create_invite,
            agenda,
            ui_ready,
            chat::join_channel,
            chat::leave_channel,
            chat::open_dm,
            chat::update_channel,
            chat::set_channel_level,
            chat::messages_after,
            chat::pin,
            chat::pinned,
            chat::save_message,
            chat::saved,
            chat::message,
            chat::schedule_message,
            chat::cancel_scheduled,
            chat::scheduled,
            chat::typing,
            chat::live,
            work::add_column,
            work::update_column,
            work::move_column,
            work::delete_column,
            work::task,
            work::edit_task,
            work::delete_task,
            work::comment_task,
            work::add_subtask,
            work::set_subtask_done,
            work::tasks,
            work::my_tasks,
            work::task_from_message,
            work::attach_to_task,
            work::labels,
            work::create_label,
            work::create_event,
            work::event,
            work::update_event,
            work::delete_event,
            work::rsvp,
            work::import_ics,
            work::export_ics,
            people::profile,
            people::update_profile,
            people::settings,
            people::update_settings,
            people::members,
            people::set_role,
            people::remove_member,
            people::rename_workspace,
            people::update_workspace_settings,
            people::devices,
            people::prefs,
            people::update_prefs,
            people::mark_inbox_read,
            people::focus_pause,
            people::focus_resume,
            people::focus_interrupt,
            people::focus_notes,
            people::focus_summary,
            people::set_daily_goal,
            people::unlock,
            people::vault_is_new,
            calls::start_call,
            calls::join_call,
            calls::leave_call,
            calls::call_view,
            calls::set_call_muted,
            calls::set_call_camera,
            calls::call_devices,
            calls::choose_call_devices,
            calls::ongoing_call,
            calls::start_preview,
            calls::preview_level,
            calls::stop_preview,
            files::stage_file,
            files::stage_dropped,
            files::share_file,
            files::discard_file,
            files::files,
            files::file_state,
            files::fetch_file,
            files::save_file,
            files::image_data,
        ])
        .events(collect_events![Changed, SyncChanged])
        .dangerously_cast_bigints_to_number()
        .disable_serde_phases()
}

/// The TypeScript bindings, as committed in `ui/src/lib/bindings.ts`.
pub fn bindings() -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("weft-bindings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("bindings.ts");
    specta_builder()
        .export(
            specta_typescript::Typescript::default()
                .header("// Generated from src-tauri by `cargo run -p weft-desktop -- --bindings`. Do not edit.\n"),
            &path,
        )
        .map_err(|e| e.to_string())?;
    let out = std::fs::read_to_string(&path).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// Where the replica lives: `WEFT_DATA_DIR`, else the platform's app data directory.
fn data_dir(app: &tauri::App) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    if let Some(d) = std::env::var_os("WEFT_DATA_DIR") {
        return Ok(d.into());
    }
    Ok(app.path().app_data_dir()?)
}

/// Runs the app until its window closes.
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let started = std::time::Instant::now();
    let builder = specta_builder();
    let mut tauri = tauri::Builder::default();
    // One app per data directory: a second launch on the default one (or a weft:// link
    // opened elsewhere) lands in this window. A launch on a WEFT_DATA_DIR of its own is
    // another person's or another test's replica, and runs beside it.
    if std::env::var_os("WEFT_DATA_DIR").is_none() {
        tauri = tauri.plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.set_focus();
            }
            if let Some(link) = argv.iter().find(|a| a.starts_with("weft://")) {
                let _ = app.emit("weft-link", link.clone());
            }
        }));
    }
    let result = tauri
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(builder.invoke_handler())
        // The newest picture of a call participant: `weftframe://localhost/<device>`.
        .register_uri_scheme_protocol("weftframe", |ctx, request| {
            let peer = request.uri().path().trim_start_matches('/').to_owned();
            let frame = ctx
                .app_handle()
                .try_state::<calls::Calls>()
                .and_then(|c| c.frames.get(&peer));
            let builder = tauri::http::Response::builder()
                .header("Access-Control-Allow-Origin", "*")
                .header("Cache-Control", "no-store");
            match frame {
                Some(bytes) => builder
                    .header("Content-Type", "application/octet-stream")
                    .body(bytes.as_ref().clone()),
                None => builder.status(204).body(Vec::new()),
            }
            .unwrap_or_default()
        })
        // Files dropped on the window may be attached by path (and only they).
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) = event
                && let Some(d) = window.try_state::<files::Dropped>()
            {
                d.add(paths);
            }
        })
        .setup(move |app| {
            builder.mount_events(app);
            let dir = data_dir(app)?;
            let mut engine = Engine::open(&dir)?;
            let changes = engine.subscribe();
            let engine = Arc::new(Mutex::new(engine));
            app.manage(calls::Calls::default());
            app.manage(files::Dropped::default());
            app.manage(App {
                engine: engine.clone(),
                syncing: Mutex::new(Default::default()),
                started,
                ready: std::sync::atomic::AtomicBool::new(false),
            });
            tray::create(app);
            tick::start(app.handle().clone(), engine, changes);
            let state = app.state::<App>();
            start_sync(app.handle(), &state);
            Ok(())
        })
        .run(tauri::generate_context!("tauri.conf.json"));
    if let Err(e) = result {
        eprintln!("weft-desktop: {e}");
        std::process::exit(1);
    }
}

/// One watching sync task per relay account not synced yet, reporting its status to the UI.
fn start_sync(handle: &tauri::AppHandle, app: &App) {
    let accounts = match app.engine.lock() {
        Ok(e) => e.accounts().unwrap_or_default(),
        Err(_) => return,
    };
    let Ok(mut running) = app.syncing.lock() else {
        return;
    };
    for account in accounts {
        if !running.insert(account.id) {
            continue;
        }
        let (status, mut seen) = tokio::sync::watch::channel(SyncStatus::Connecting);
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let shared = app.engine.clone();
        let handle = handle.clone();
        let id = account.id;
        tauri::async_runtime::spawn(async move {
            let _keep = stop_tx;
            let reporter = handle.clone();
            let watch = tauri::async_runtime::spawn(async move {
                while seen.changed().await.is_ok() {
                    let s = SyncChanged::from(&*seen.borrow());
                    let _ = s.emit(&reporter);
                }
            });
            if let Err(e) = weft_core::sync_account(shared, id, SyncMode::Watch, status, stop).await
            {
                tracing::warn!(error = %e, "sync stopped");
                // A locked vault, say: the UI shows why, and unlocking starts it again.
                let _ = SyncChanged {
                    state: "offline".into(),
                    pending: None,
                    error: Some(e.to_string()),
                }
                .emit(&handle);
            }
            watch.abort();
            if let Some(app) = handle.try_state::<App>()
                && let Ok(mut running) = app.syncing.lock()
            {
                running.remove(&id);
            }
        });
    }
}
