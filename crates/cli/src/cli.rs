//! Commands: one `<noun> <verb>` each, thin over `weft_core::Engine`.

use crate::output::{emit, when};
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use weft_core::{Engine, NewEvent, NewTask, SendOptions, TaskFilter, TaskPatch};
use weft_domain::{
    ChannelKind, EventType, FocusKind, Id, NotificationLevel, Priority, Profile, Role, Rsvp,
    Timestamp, UserStatus,
};

/// Weft from the command line: chat, boards, calendar and focus on a local replica.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about, propagate_version = true)]
pub struct Cli {
    /// Data directory (default: $WEFT_DATA_DIR or ~/.local/share/weft).
    #[arg(long, global = true, env = "WEFT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print results as JSON (errors too, on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Workspace to act in (name or id; default: the current one).
    #[arg(long, short = 'w', global = true)]
    pub workspace: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Adds a relay (`ws://host:port/`) and puts workspaces on it (default: the current one).
    Add {
        url: String,
        /// Workspaces to sync through it (name or id); repeatable.
        #[arg(long = "sync-workspace")]
        workspaces: Vec<String>,
    },
    /// Lists the accounts.
    List,
}

#[derive(Debug, Subcommand)]
pub enum InviteCmd {
    /// Creates an invite link; its secret is in the part after '#', which the relay never sees.
    Create {
        #[arg(long, default_value = "member")]
        role: Role,
        /// Days the link stays valid.
        #[arg(long, default_value_t = 7.0)]
        days: f64,
        /// Devices that may join with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Your profile.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Workspaces and their members.
    #[command(subcommand)]
    Workspace(WorkspaceCmd),
    /// Add, remove or change members (admins).
    #[command(subcommand)]
    Member(MemberCmd),
    /// Channels and direct messages.
    #[command(subcommand)]
    Channel(ChannelCmd),
    /// Messages.
    #[command(subcommand)]
    Message(MessageCmd),
    /// Kanban boards.
    #[command(subcommand)]
    Board(BoardCmd),
    /// Board columns.
    #[command(subcommand)]
    Column(ColumnCmd),
    /// Tasks (cards).
    #[command(subcommand)]
    Task(TaskCmd),
    /// Labels.
    #[command(subcommand)]
    Label(LabelCmd),
    /// Shared files (metadata; contents sync with the relay's blob store).
    #[command(subcommand)]
    File(FileCmd),
    /// Integrations (webhooks, feeds, bots) and the log of their runs.
    #[command(subcommand)]
    Integration(IntegrationCmd),
    /// Calendar events.
    #[command(subcommand)]
    Event(EventCmd),
    /// Calls and meetings (records; media comes with the call engine).
    #[command(subcommand)]
    Meeting(MeetingCmd),
    /// Focus sessions.
    #[command(subcommand)]
    Focus(FocusCmd),
    /// Search messages, tasks, events, files, people and channels.
    Search {
        /// Words and filters: in:#channel from:@user has:file has:link before:DATE after:DATE
        query: Vec<String>,
        /// Best matches first instead of newest first.
        #[arg(long)]
        ranked: bool,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Your notifications.
    #[command(subcommand)]
    Inbox(InboxCmd),
    /// Notification rules: keywords, do-not-disturb.
    #[command(subcommand)]
    Notify(NotifyCmd),
    /// Personal settings.
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Daily figures per member and for the team.
    Analytics {
        #[arg(long, default_value_t = 7)]
        days: i64,
    },
    /// Exchange changes with another replica through files.
    #[command(subcommand)]
    Changes(ChangesCmd),
    /// Fire due timers once (scheduled messages, reminders).
    Tick,
    /// Keep firing timers until interrupted.
    Daemon {
        /// Seconds between ticks.
        #[arg(long, default_value_t = 1)]
        every: u64,
    },
    /// Test hook: sends and edits messages in a loop, printing each once it is committed.
    #[command(hide = true)]
    WriteLoop {
        channel: String,
        #[arg(long, default_value_t = 1000)]
        count: u64,
    },
    /// Run a relay (what `weft-relay` runs) until interrupted.
    Relay {
        /// TOML configuration file; `WEFT_RELAY_*` environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// The relay's data directory (not a profile's).
        #[arg(long = "relay-dir")]
        relay_dir: Option<PathBuf>,
    },
    /// Relay accounts: where this device syncs.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Invite links to the current workspace.
    #[command(subcommand)]
    Invite(InviteCmd),
    /// Join a workspace by an invite link (`weft://join/...`), then sync it.
    Join { link: String },
    /// Sync every account once (until up to date), or keep syncing with `--watch`.
    Sync {
        #[arg(long)]
        watch: bool,
    },
    /// Accounts, logs, what is waiting to go out.
    Status,
    /// Check the data directory; optionally rebuild the read model from the documents.
    Doctor {
        #[arg(long)]
        rebuild: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Create the profile of this data directory.
    Init {
        #[arg(long)]
        name: String,
        #[arg(long)]
        username: Option<String>,
        #[arg(long, default_value = "")]
        email: String,
        #[arg(long, default_value = "UTC")]
        timezone: String,
    },
    /// Show the profile and ids.
    Show,
    /// Change profile fields.
    Set(ProfileSet),
}

#[derive(Debug, Args)]
pub struct ProfileSet {
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    title: Option<String>,
    #[arg(long)]
    pronouns: Option<String>,
    #[arg(long)]
    bio: Option<String>,
    #[arg(long)]
    status: Option<UserStatus>,
    #[arg(long)]
    custom_status: Option<String>,
    #[arg(long)]
    timezone: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCmd {
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    List,
    /// Make a workspace the current one.
    Use {
        workspace: String,
    },
    Rename {
        name: String,
    },
    Describe {
        description: String,
    },
    Archive {
        #[arg(long)]
        undo: bool,
    },
    Members,
    Audit,
    Leave,
}

#[derive(Debug, Subcommand)]
pub enum MemberCmd {
    /// Add a person by user id.
    Add {
        user: Id,
        #[arg(long, default_value = "member")]
        role: Role,
    },
    Remove {
        user: String,
    },
    Role {
        user: String,
        role: Role,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChannelCmd {
    Create {
        name: String,
        #[arg(long)]
        private: bool,
        #[arg(long, default_value = "")]
        purpose: String,
    },
    List,
    Topic {
        channel: String,
        topic: String,
    },
    Rename {
        channel: String,
        name: String,
    },
    Archive {
        channel: String,
        #[arg(long)]
        undo: bool,
    },
    Join {
        channel: String,
        user: Option<String>,
    },
    Leave {
        channel: String,
    },
    /// Notification level: all, mentions or none.
    Notify {
        channel: String,
        level: NotificationLevel,
    },
    Mute {
        channel: String,
        #[arg(long)]
        off: bool,
    },
    /// Mark a channel read.
    Read {
        channel: String,
    },
    /// Open a direct message with people (@username or id).
    Dm {
        people: Vec<String>,
    },
    Pinned {
        channel: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MessageCmd {
    Send {
        channel: String,
        text: String,
        /// Client message id: resending with the same id sends once.
        #[arg(long)]
        id: Option<Id>,
        #[arg(long)]
        reply_to: Option<Id>,
        #[arg(long)]
        broadcast: bool,
    },
    Reply {
        message: Id,
        text: String,
    },
    Edit {
        message: Id,
        text: String,
    },
    Delete {
        message: Id,
    },
    /// Toggle a reaction.
    React {
        message: Id,
        emoji: String,
    },
    Pin {
        message: Id,
        #[arg(long)]
        off: bool,
    },
    List {
        channel: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        before: Option<i64>,
    },
    Thread {
        message: Id,
    },
    Show {
        message: Id,
    },
    Save {
        message: Id,
        #[arg(long)]
        off: bool,
    },
    Saved,
    Schedule {
        channel: String,
        text: String,
        #[arg(long)]
        at: String,
    },
    Remind {
        message: Id,
        #[arg(long)]
        at: String,
    },
    Scheduled,
    Cancel {
        id: Id,
    },
}

#[derive(Debug, Subcommand)]
pub enum BoardCmd {
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    List,
    Show {
        board: String,
    },
    Rename {
        board: String,
        name: String,
    },
    Archive {
        board: String,
        #[arg(long)]
        undo: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ColumnCmd {
    Add {
        board: String,
        name: String,
        #[arg(long)]
        at: Option<usize>,
        #[arg(long)]
        done: bool,
    },
    Rename {
        board: String,
        column: String,
        name: String,
    },
    Move {
        board: String,
        column: String,
        index: usize,
    },
    Delete {
        board: String,
        column: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskCmd {
    Create {
        title: String,
        #[arg(long)]
        board: String,
        #[arg(long)]
        column: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        priority: Option<Priority>,
        #[arg(long)]
        due: Option<String>,
        #[arg(long)]
        label: Vec<String>,
    },
    Edit {
        task: Id,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        unassign: bool,
        #[arg(long)]
        priority: Option<Priority>,
        #[arg(long)]
        due: Option<String>,
        #[arg(long)]
        no_due: bool,
        #[arg(long)]
        label: Vec<String>,
        #[arg(long)]
        unlabel: Vec<String>,
    },
    /// Move a task to a column (and a position, 0 = top).
    Move {
        task: Id,
        #[arg(long)]
        column: String,
        #[arg(long)]
        index: Option<usize>,
    },
    List {
        #[arg(long)]
        board: Option<String>,
        #[arg(long)]
        mine: bool,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        priority: Option<Priority>,
        #[arg(long)]
        all: bool,
    },
    Show {
        task: Id,
    },
    Delete {
        task: Id,
    },
    Comment {
        task: Id,
        text: String,
    },
    Subtask {
        task: Id,
        title: String,
    },
    Check {
        task: Id,
        subtask: Id,
        #[arg(long)]
        off: bool,
    },
    /// Make a task from a message.
    FromMessage {
        message: Id,
        #[arg(long)]
        board: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LabelCmd {
    Create {
        name: String,
        #[arg(long, default_value = "gray")]
        color: String,
    },
    List,
}

#[derive(Debug, Subcommand)]
pub enum FileCmd {
    /// Attach a file from disk: to a new message in `--channel` (with `--text`), to a task
    /// (`--task`), or shared with the whole workspace. Its content is sealed into the chunk
    /// cache and goes to the relay with the next `weft sync`.
    Add {
        path: PathBuf,
        #[arg(long, conflicts_with = "task")]
        channel: Option<String>,
        /// Attach it to this task instead.
        #[arg(long)]
        task: Option<Id>,
        /// The message's text (with `--channel`).
        #[arg(long, default_value = "")]
        text: String,
    },
    /// Write a file's content to `--out`. Chunks not here yet are asked of the relay: run
    /// `weft sync`, then this again.
    Get {
        id: Id,
        #[arg(long)]
        out: PathBuf,
    },
    /// Files, newest first; `--name` matches part of the name.
    List {
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCmd {
    Add {
        name: String,
        #[arg(long)]
        kind: weft_domain::IntegrationKind,
        #[arg(long)]
        channel: Option<String>,
        /// Non-secret configuration as a JSON object.
        #[arg(long, default_value = "{}")]
        config: String,
    },
    List,
    /// Record a run: status, records handled, error.
    Log {
        integration: Id,
        #[arg(long)]
        status: weft_domain::RunStatus,
        #[arg(long, default_value_t = 0)]
        records: u64,
        #[arg(long, default_value = "")]
        error: String,
        #[arg(long, default_value = "sync")]
        kind: String,
    },
    Runs,
}

#[derive(Debug, Args)]
pub struct EventArgs {
    title: String,
    /// Start: 2026-11-22T14:30 (in --tz), RFC 3339, or a date.
    #[arg(long)]
    start: String,
    #[arg(long)]
    end: String,
    #[arg(long, default_value = "UTC")]
    tz: String,
    #[arg(long)]
    all_day: bool,
    #[arg(long, default_value = "")]
    location: String,
    #[arg(long, default_value = "")]
    description: String,
    #[arg(long = "type", default_value = "other")]
    kind: EventType,
    /// RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10
    #[arg(long)]
    rrule: Option<String>,
    #[arg(long)]
    attendee: Vec<String>,
    /// Minutes before (repeatable).
    #[arg(long)]
    reminder: Vec<u32>,
}

#[derive(Debug, Subcommand)]
pub enum EventCmd {
    Create(EventArgs),
    /// Occurrences and tasks due in a range.
    List {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    Show {
        event: Id,
    },
    Delete {
        event: Id,
        /// Delete only the occurrence starting then.
        #[arg(long)]
        occurrence: Option<String>,
    },
    Rsvp {
        event: Id,
        answer: Rsvp,
    },
    Import {
        file: PathBuf,
    },
    Export {
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MeetingCmd {
    /// Start a call now in a channel.
    Start {
        channel: String,
    },
    /// Schedule a meeting on the calendar.
    Schedule(EventArgs),
    Join {
        meeting: String,
    },
    Leave {
        meeting: String,
    },
    Cancel {
        meeting: String,
    },
    List,
}

#[derive(Debug, Subcommand)]
pub enum FocusCmd {
    Start {
        #[arg(long, default_value = "pomodoro")]
        kind: FocusKind,
        #[arg(long)]
        minutes: Option<u32>,
    },
    Pause,
    Resume,
    Stop {
        /// Abandon instead of completing.
        #[arg(long)]
        abandon: bool,
    },
    Interrupt {
        note: Option<String>,
    },
    Notes {
        notes: String,
    },
    Status,
    Stats {
        #[arg(long, default_value_t = 7)]
        days: i64,
    },
    /// Set the daily goal in minutes.
    Goal {
        minutes: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum InboxCmd {
    List {
        #[arg(long)]
        unread: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    Read {
        keys: Vec<String>,
        #[arg(long)]
        all: bool,
    },
    /// What focus or do-not-disturb is holding back.
    Held,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCmd {
    Show,
    Keywords {
        words: Vec<String>,
    },
    /// Do-not-disturb every day between two times (HH:MM).
    Dnd {
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "UTC")]
        tz: String,
        #[arg(long)]
        off: bool,
    },
    Default {
        level: NotificationLevel,
    },
}

#[derive(Debug, Subcommand)]
pub enum SettingsCmd {
    Show,
    Set {
        #[arg(long)]
        theme: Option<weft_domain::Theme>,
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        language: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChangesCmd {
    Export { file: PathBuf },
    Import { file: PathBuf },
}

fn data_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = arg {
        return Ok(d);
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .context("no data directory: pass --data-dir")?;
    Ok(base.join("weft"))
}

struct Ctx {
    e: Engine,
    json: bool,
    ws_arg: Option<String>,
}

impl Ctx {
    fn ws(&self) -> Result<Id> {
        if let Some(w) = &self.ws_arg {
            return Ok(self.e.find_workspace(w)?);
        }
        if let Some(w) = self.e.local_pref("workspace")?
            && let Ok(id) = w.parse::<Id>()
            && self.e.workspace(id).is_ok()
        {
            return Ok(id);
        }
        match self.e.workspace_ids()?.as_slice() {
            [one] => Ok(*one),
            [] => bail!(weft_core::CoreError::NotFound(
                "a workspace: create one with `weft workspace create NAME`".into()
            )),
            _ => bail!(weft_core::CoreError::Invalid(
                weft_domain::DomainError::Invalid(
                    "several workspaces: pick one with `weft workspace use NAME` or -w".into()
                )
            )),
        }
    }
    fn tz(&self) -> chrono_tz::Tz {
        self.e
            .settings()
            .ok()
            .and_then(|s| weft_domain::time::parse_tz(&s.timezone).ok())
            .unwrap_or(chrono_tz::UTC)
    }
    fn time(&self, s: &str) -> Result<Timestamp> {
        Ok(Timestamp::parse(s, self.tz())?)
    }
    fn channel(&self, s: &str) -> Result<Id> {
        Ok(self.e.find_channel(self.ws()?, s)?)
    }
    fn user(&self, s: &str) -> Result<Id> {
        Ok(self.e.find_user(self.ws()?, s)?)
    }
    fn board(&self, s: &str) -> Result<Id> {
        Ok(self.e.find_board(self.ws()?, s)?)
    }
    fn ok<T: serde::Serialize>(&self, v: &T, text: impl FnOnce() -> String) -> Result<()> {
        emit(self.json, v, text)
    }
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<()> {
    if let Cmd::Relay {
        config,
        listen,
        relay_dir,
    } = &cli.cmd
    {
        return relay(config.as_deref(), *listen, relay_dir.clone(), cli.json);
    }
    let dir = data_dir(cli.data_dir)?;
    let e = Engine::open(&dir)?;
    let mut c = Ctx {
        e,
        json: cli.json,
        ws_arg: cli.workspace,
    };
    let needs_profile = !matches!(
        cli.cmd,
        Cmd::Profile(ProfileCmd::Init { .. }) | Cmd::Doctor { .. }
    );
    if needs_profile && c.e.identity().is_none() {
        bail!(weft_core::CoreError::NoProfile);
    }
    // Timers that came due while nothing ran fire now, once.
    if c.e.identity().is_some()
        && let Err(err) = c.e.tick()
    {
        tracing::warn!(error = %err, "timers");
    }
    match cli.cmd {
        Cmd::Profile(p) => profile(&mut c, p),
        Cmd::Workspace(w) => workspace(&mut c, w),
        Cmd::Member(m) => member(&mut c, m),
        Cmd::Channel(ch) => channel(&mut c, ch),
        Cmd::Message(m) => message(&mut c, m),
        Cmd::Board(b) => board(&mut c, b),
        Cmd::Column(col) => column(&mut c, col),
        Cmd::Task(t) => task(&mut c, t),
        Cmd::Label(l) => label(&mut c, l),
        Cmd::File(f) => file(&mut c, f),
        Cmd::Integration(i) => integration(&mut c, i),
        Cmd::Event(ev) => event(&mut c, ev),
        Cmd::Meeting(m) => meeting(&mut c, m),
        Cmd::Focus(f) => focus(&mut c, f),
        Cmd::Search {
            query,
            ranked,
            limit,
        } => {
            let ws = c.ws()?;
            let r = c.e.search(ws, &query.join(" "), ranked, limit)?;
            c.ok(&r, || {
                let mut s: Vec<String> = r
                    .messages
                    .iter()
                    .map(|m| {
                        format!(
                            "{}  {}  {}",
                            when(m.message.created_at.0),
                            m.message.id.map(|i| i.to_string()).unwrap_or_default(),
                            m.message.text
                        )
                    })
                    .collect();
                s.extend(
                    r.others
                        .iter()
                        .map(|h| format!("[{}] {}  {}", h.kind, h.id, h.title)),
                );
                if s.is_empty() {
                    "no results".into()
                } else {
                    s.join("\n")
                }
            })
        }
        Cmd::Inbox(i) => inbox(&mut c, i),
        Cmd::Notify(n) => notify(&mut c, n),
        Cmd::Settings(s) => settings(&mut c, s),
        Cmd::Analytics { days } => {
            let ws = c.ws()?;
            let today = c.e.now().day();
            let (users, team) = c.e.analytics(ws, today - days.clamp(1, 366) + 1, today)?;
            let v = serde_json::json!({ "users": users, "team": team });
            c.ok(&v, || {
                team.iter()
                    .map(|t| {
                        format!(
                            "{}  active {}  messages {}  tasks done {}  focus {} min  meetings {}",
                            t.date,
                            t.active_members,
                            t.messages_sent,
                            t.tasks_completed,
                            t.focus_minutes,
                            t.meetings
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Cmd::Changes(ChangesCmd::Export { file }) => {
            let bytes = c.e.export_changes()?;
            write_atomic(&file, &bytes)?;
            let v = serde_json::json!({ "file": file, "bytes": bytes.len() });
            c.ok(&v, || {
                format!("wrote {} bytes to {}", bytes.len(), file.display())
            })
        }
        Cmd::Changes(ChangesCmd::Import { file }) => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let r = c.e.import_changes(&bytes)?;
            c.ok(&r, || {
                format!(
                    "merged {} new changes into {} documents ({} entities updated)",
                    r.changes_new, r.documents, r.entities_updated
                )
            })
        }
        Cmd::Tick => {
            let r = c.e.tick()?;
            c.ok(&r, || {
                format!(
                    "sent {} scheduled, {} notifications",
                    r.messages_sent.len(),
                    r.notified.len()
                )
            })
        }
        Cmd::Daemon { every } => loop {
            let r = c.e.tick()?;
            if !r.messages_sent.is_empty() || !r.notified.is_empty() {
                c.ok(&r, || {
                    format!(
                        "sent {} scheduled, {} notifications",
                        r.messages_sent.len(),
                        r.notified.len()
                    )
                })?;
            }
            std::thread::sleep(std::time::Duration::from_secs(every.max(1)));
        },
        Cmd::WriteLoop { channel, count } => {
            use std::io::Write;
            let ch = c.channel(&channel)?;
            let mut sent: Vec<Id> = Vec::new();
            let mut out = std::io::stdout().lock();
            for k in 0..count {
                if k % 4 == 3 && !sent.is_empty() {
                    let id = sent[(k as usize * 7) % sent.len()];
                    let text = format!("edit-{k}");
                    c.e.edit_message(id, &text)?;
                    writeln!(out, "edit {id} {text}")?;
                } else {
                    let text = format!("m-{k}");
                    let m = c.e.send(ch, &text, SendOptions::default())?;
                    let id = m.id.context("id")?;
                    sent.push(id);
                    writeln!(out, "sent {id} {text}")?;
                }
                out.flush()?;
            }
            Ok(())
        }
        Cmd::Relay { .. } => bail!("`weft relay` runs without a profile"),
        Cmd::Account(AccountCmd::Add { url, workspaces }) => {
            let ids = if workspaces.is_empty() {
                c.ws().ok().into_iter().collect::<Vec<_>>()
            } else {
                workspaces
                    .iter()
                    .map(|w| c.e.find_workspace(w))
                    .collect::<weft_core::Result<Vec<_>>>()?
            };
            let a = c.e.add_account(&url, &ids)?;
            c.ok(&a, || {
                format!(
                    "account {} on {} ({} workspace(s)); run `weft sync`",
                    a.id,
                    a.url,
                    ids.len()
                )
            })
        }
        Cmd::Account(AccountCmd::List) => {
            let v = c.e.accounts()?;
            c.ok(&v, || {
                v.iter()
                    .map(|a| format!("{}  {}", a.id, a.url))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Cmd::Invite(InviteCmd::Create { role, days, uses }) => {
            let ws = c.ws()?;
            let ms = (days * 86_400_000.0) as i64;
            let link = c.e.create_invite(ws, role, ms, uses)?.to_link();
            let v = serde_json::json!({ "link": link });
            c.ok(&v, || link.clone())
        }
        Cmd::Join { link } => {
            let json = c.json;
            let ws = c.e.join(&link)?;
            let report = sync_all(c.e, false)?;
            let v = serde_json::json!({ "workspace": ws.to_string(), "sync": report });
            emit(json, &v, || format!("joined workspace {ws}"))
        }
        Cmd::Sync { watch } => {
            let json = c.json;
            let report = sync_all(c.e, watch)?;
            emit(json, &report, || {
                format!(
                    "up to date: {} entries received, {} changes pushed",
                    report.entries_received, report.pushes_acked
                )
            })
        }
        Cmd::Status => {
            let v = c.e.sync_overview()?;
            c.ok(&v, || {
                if v.is_empty() {
                    return "offline: no relay account (weft account add URL)".into();
                }
                let mut out = Vec::new();
                for a in &v {
                    out.push(format!("account {} {}", a.id, a.url));
                    for l in &a.logs {
                        out.push(format!(
                            "  {} {} cursor {} pending {}{}{}",
                            l.kind,
                            l.name.as_deref().unwrap_or(&l.log),
                            l.cursor,
                            l.pending,
                            if l.unreadable > 0 {
                                format!(" unreadable {}", l.unreadable)
                            } else {
                                String::new()
                            },
                            if l.joining { " (joining)" } else { "" }
                        ));
                    }
                }
                out.join("\n")
            })
        }
        Cmd::Doctor { rebuild } => {
            c.e.store().integrity_check()?;
            let n = if rebuild {
                c.e.rebuild_read_model()?
            } else {
                0
            };
            let v = serde_json::json!({ "integrity": "ok", "rebuilt_entities": n });
            c.ok(&v, || {
                if rebuild {
                    format!("integrity ok; rebuilt {n} entities")
                } else {
                    "integrity ok".into()
                }
            })
        }
    }
}

/// Writes a file through a temporary name, so a crash never leaves half a file.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("weft-tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

fn profile(c: &mut Ctx, cmd: ProfileCmd) -> Result<()> {
    match cmd {
        ProfileCmd::Init {
            name,
            username,
            email,
            timezone,
        } => {
            let p = c.e.init_profile(Profile {
                display_name: name,
                username: username.unwrap_or_default(),
                email,
                timezone: timezone.clone(),
                ..Profile::default()
            })?;
            c.e.update_settings(|s| s.timezone = timezone)?;
            let id =
                c.e.identity()
                    .map(|i| (i.user.to_string(), i.device.to_string()));
            let v = serde_json::json!({ "profile": p, "user": id.as_ref().map(|i| &i.0), "device": id.as_ref().map(|i| &i.1) });
            c.ok(&v, || {
                format!(
                    "profile @{} created; user id {}",
                    p.username,
                    id.map(|i| i.0).unwrap_or_default()
                )
            })
        }
        ProfileCmd::Show => {
            let p = c.e.profile()?;
            let id =
                c.e.identity()
                    .map(|i| i.user.to_string())
                    .unwrap_or_default();
            c.ok(&p, || {
                format!(
                    "{} (@{})  user id {id}\n{}",
                    p.display_name, p.username, p.title
                )
            })
        }
        ProfileCmd::Set(s) => {
            let p = c.e.update_profile(|p| {
                if let Some(x) = s.name {
                    p.display_name = x;
                }
                if let Some(x) = s.title {
                    p.title = x;
                }
                if let Some(x) = s.pronouns {
                    p.pronouns = x;
                }
                if let Some(x) = s.bio {
                    p.bio = x;
                }
                if let Some(x) = s.status {
                    p.status = x;
                }
                if let Some(x) = s.custom_status {
                    p.custom_status = x;
                }
                if let Some(x) = s.timezone {
                    p.timezone = x;
                }
            })?;
            c.ok(&p, || "profile updated".into())
        }
    }
}

fn workspace(c: &mut Ctx, cmd: WorkspaceCmd) -> Result<()> {
    match cmd {
        WorkspaceCmd::Create { name, description } => {
            let w = c.e.create_workspace(&name, &description)?;
            let id = w.id.map(|i| i.to_string()).unwrap_or_default();
            c.e.set_local_pref("workspace", &id)?;
            c.ok(&w, || {
                format!(
                    "workspace {} created ({id}); it is now the current workspace",
                    w.name
                )
            })
        }
        WorkspaceCmd::List => {
            let ws = c.e.workspaces()?;
            c.ok(&ws, || {
                ws.iter()
                    .map(|w| {
                        format!(
                            "{}  {}{}",
                            w.id.map(|i| i.to_string()).unwrap_or_default(),
                            w.name,
                            if w.archived { " (archived)" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        WorkspaceCmd::Use { workspace } => {
            let id = c.e.find_workspace(&workspace)?;
            c.e.set_local_pref("workspace", &id.to_string())?;
            c.ok(&id, || format!("current workspace: {id}"))
        }
        WorkspaceCmd::Rename { name } => {
            let ws = c.ws()?;
            let w = c.e.update_workspace(ws, Some(&name), None)?;
            c.ok(&w, || format!("renamed to {}", w.name))
        }
        WorkspaceCmd::Describe { description } => {
            let ws = c.ws()?;
            let w = c.e.update_workspace(ws, None, Some(&description))?;
            c.ok(&w, || "description updated".into())
        }
        WorkspaceCmd::Archive { undo } => {
            let ws = c.ws()?;
            c.e.archive_workspace(ws, !undo)?;
            c.ok(&ws, || {
                if undo {
                    "unarchived".into()
                } else {
                    "archived".into()
                }
            })
        }
        WorkspaceCmd::Members => {
            let ws = c.ws()?;
            let m = c.e.members(ws)?;
            c.ok(&m, || {
                m.iter()
                    .map(|m| {
                        format!(
                            "{}  {}  @{}  {}{}",
                            m.user,
                            m.member.role,
                            m.profile
                                .as_ref()
                                .map(|p| p.username.as_str())
                                .unwrap_or("?"),
                            m.profile
                                .as_ref()
                                .map(|p| p.display_name.as_str())
                                .unwrap_or(""),
                            if m.member.removed_at.is_some() {
                                " (removed)"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        WorkspaceCmd::Audit => {
            let ws = c.ws()?;
            let a = c.e.audit_log(ws)?;
            c.ok(&a, || {
                a.iter()
                    .map(|x| format!("{}  {}  {}  {}", x.at, x.action, x.target, x.detail))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        WorkspaceCmd::Leave => {
            let ws = c.ws()?;
            c.e.leave_workspace(ws)?;
            c.ok(&ws, || "left the workspace".into())
        }
    }
}

fn member(c: &mut Ctx, cmd: MemberCmd) -> Result<()> {
    let ws = c.ws()?;
    match cmd {
        MemberCmd::Add { user, role } => {
            c.e.add_member(ws, user, role)?;
            c.ok(&user, || format!("added {user} as {role}"))
        }
        MemberCmd::Remove { user } => {
            let u = c.user(&user)?;
            c.e.remove_member(ws, u)?;
            c.ok(&u, || format!("removed {u}"))
        }
        MemberCmd::Role { user, role } => {
            let u = c.user(&user)?;
            c.e.set_role(ws, u, role)?;
            c.ok(&u, || format!("{u} is now {role}"))
        }
    }
}

fn channel(c: &mut Ctx, cmd: ChannelCmd) -> Result<()> {
    match cmd {
        ChannelCmd::Create {
            name,
            private,
            purpose,
        } => {
            let ws = c.ws()?;
            let ch = c.e.create_channel(
                ws,
                &name,
                if private {
                    ChannelKind::Private
                } else {
                    ChannelKind::Public
                },
                &purpose,
            )?;
            c.ok(&ch, || {
                format!(
                    "#{} created ({})",
                    ch.name,
                    ch.id.map(|i| i.to_string()).unwrap_or_default()
                )
            })
        }
        ChannelCmd::List => {
            let ws = c.ws()?;
            let v = c.e.channels(ws)?;
            c.ok(&v, || {
                v.iter()
                    .map(|x| {
                        format!(
                            "{}  #{}  {}{}{}",
                            x.channel.id.map(|i| i.to_string()).unwrap_or_default(),
                            x.channel.name,
                            x.channel.kind,
                            if x.unread > 0 {
                                format!("  {} unread", x.unread)
                            } else {
                                String::new()
                            },
                            if x.mentions > 0 {
                                format!("  {} mentions", x.mentions)
                            } else {
                                String::new()
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        ChannelCmd::Topic { channel, topic } => {
            let id = c.channel(&channel)?;
            c.e.set_topic(id, &topic)?;
            c.ok(&id, || "topic set".into())
        }
        ChannelCmd::Rename { channel, name } => {
            let id = c.channel(&channel)?;
            c.e.rename_channel(id, &name)?;
            c.ok(&id, || "renamed".into())
        }
        ChannelCmd::Archive { channel, undo } => {
            let id = c.channel(&channel)?;
            c.e.archive_channel(id, !undo)?;
            c.ok(&id, || {
                if undo {
                    "unarchived".into()
                } else {
                    "archived".into()
                }
            })
        }
        ChannelCmd::Join { channel, user } => {
            let id = c.channel(&channel)?;
            let u = user.map(|u| c.user(&u)).transpose()?;
            c.e.join_channel(id, u)?;
            c.ok(&id, || "joined".into())
        }
        ChannelCmd::Leave { channel } => {
            let id = c.channel(&channel)?;
            c.e.leave_channel(id)?;
            c.ok(&id, || "left".into())
        }
        ChannelCmd::Notify { channel, level } => {
            let id = c.channel(&channel)?;
            c.e.set_channel_level(id, level)?;
            c.ok(&id, || format!("notifications: {level}"))
        }
        ChannelCmd::Mute { channel, off } => {
            let id = c.channel(&channel)?;
            c.e.mute_channel(id, !off)?;
            c.ok(&id, || {
                if off {
                    "unmuted".into()
                } else {
                    "muted".into()
                }
            })
        }
        ChannelCmd::Read { channel } => {
            let id = c.channel(&channel)?;
            c.e.mark_read(id, None)?;
            c.ok(&id, || "marked read".into())
        }
        ChannelCmd::Dm { people } => {
            let ws = c.ws()?;
            let ids = people
                .iter()
                .map(|p| c.user(p))
                .collect::<Result<Vec<_>>>()?;
            let ch = c.e.open_dm(ws, &ids)?;
            c.ok(&ch, || {
                format!("DM {}", ch.id.map(|i| i.to_string()).unwrap_or_default())
            })
        }
        ChannelCmd::Pinned { channel } => {
            let id = c.channel(&channel)?;
            let v = c.e.pinned(id)?;
            c.ok(&v, || lines(&v))
        }
    }
}

fn lines(v: &[weft_core::MessageView]) -> String {
    v.iter()
        .map(|m| {
            let x = &m.message;
            let mut s = format!(
                "{}  {}  {}",
                when(x.created_at.0),
                x.id.map(|i| i.to_string()).unwrap_or_default(),
                if x.is_deleted() { "(deleted)" } else { &x.text }
            );
            if x.edited_at.is_some() && !x.is_deleted() {
                s.push_str("  (edited)");
            }
            let r: Vec<String> = x
                .reaction_counts()
                .iter()
                .map(|(e, n, _)| format!("{e} {n}"))
                .collect();
            if !r.is_empty() {
                s.push_str(&format!("  [{}]", r.join(" ")));
            }
            if m.reply_count > 0 {
                s.push_str(&format!("  ({} replies)", m.reply_count));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn message(c: &mut Ctx, cmd: MessageCmd) -> Result<()> {
    match cmd {
        MessageCmd::Send {
            channel,
            text,
            id,
            reply_to,
            broadcast,
        } => {
            let ch = c.channel(&channel)?;
            let m = c.e.send(
                ch,
                &text,
                SendOptions {
                    id,
                    parent: reply_to,
                    broadcast,
                    attachments: Vec::new(),
                },
            )?;
            c.ok(&m, || m.id.map(|i| i.to_string()).unwrap_or_default())
        }
        MessageCmd::Reply { message, text } => {
            let root = c.e.message(message)?;
            let ch = root.channel.context("message without channel")?;
            let m = c.e.send(
                ch,
                &text,
                SendOptions {
                    parent: Some(message),
                    ..SendOptions::default()
                },
            )?;
            c.ok(&m, || m.id.map(|i| i.to_string()).unwrap_or_default())
        }
        MessageCmd::Edit { message, text } => {
            let m = c.e.edit_message(message, &text)?;
            c.ok(&m, || "edited".into())
        }
        MessageCmd::Delete { message } => {
            c.e.delete_message(message)?;
            c.ok(&message, || "deleted".into())
        }
        MessageCmd::React { message, emoji } => {
            let on = c.e.react(message, &emoji)?;
            c.ok(&on, || {
                if on {
                    format!("reacted {emoji}")
                } else {
                    format!("removed {emoji}")
                }
            })
        }
        MessageCmd::Pin { message, off } => {
            c.e.pin(message, !off)?;
            c.ok(&message, || {
                if off {
                    "unpinned".into()
                } else {
                    "pinned".into()
                }
            })
        }
        MessageCmd::List {
            channel,
            limit,
            before,
        } => {
            let ch = c.channel(&channel)?;
            let mut v = c.e.messages(ch, before, limit)?;
            v.reverse();
            c.ok(&v, || lines(&v))
        }
        MessageCmd::Thread { message } => {
            let v = c.e.thread(message)?;
            c.ok(&v, || lines(&v))
        }
        MessageCmd::Show { message } => {
            let m = c.e.message(message)?;
            c.ok(&m, || {
                let mut s = m.text.clone();
                for e in &m.edits {
                    s.push_str(&format!("\n  was: {} (until {})", e.text, e.replaced_at));
                }
                s
            })
        }
        MessageCmd::Save { message, off } => {
            c.e.save_message(message, !off)?;
            c.ok(&message, || {
                if off {
                    "unsaved".into()
                } else {
                    "saved".into()
                }
            })
        }
        MessageCmd::Saved => {
            let v = c.e.saved()?;
            c.ok(&v, || {
                v.iter()
                    .map(|m| {
                        format!(
                            "{}  {}",
                            m.id.map(|i| i.to_string()).unwrap_or_default(),
                            m.text
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        MessageCmd::Schedule { channel, text, at } => {
            let ch = c.channel(&channel)?;
            let t = c.time(&at)?;
            let id = c.e.schedule_message(ch, &text, t, None)?;
            c.ok(&id, || format!("scheduled {id} for {t}"))
        }
        MessageCmd::Remind { message, at } => {
            let t = c.time(&at)?;
            let id = c.e.remind_message(message, t)?;
            c.ok(&id, || format!("reminder {id} at {t}"))
        }
        MessageCmd::Scheduled => {
            let v = c.e.scheduled()?;
            c.ok(&v, || {
                v.iter()
                    .map(|(id, k, s)| format!("{id}  {k}  {}  {}", when(s.at), s.text))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        MessageCmd::Cancel { id } => {
            c.e.cancel_scheduled(id)?;
            c.ok(&id, || "cancelled".into())
        }
    }
}

fn board(c: &mut Ctx, cmd: BoardCmd) -> Result<()> {
    match cmd {
        BoardCmd::Create { name, description } => {
            let ws = c.ws()?;
            let b = c.e.create_board(ws, &name, &description)?;
            c.ok(&b, || {
                format!(
                    "board {} created ({})",
                    b.name,
                    b.id.map(|i| i.to_string()).unwrap_or_default()
                )
            })
        }
        BoardCmd::List => {
            let ws = c.ws()?;
            let v = c.e.boards(ws)?;
            c.ok(&v, || {
                v.iter()
                    .map(|b| {
                        format!(
                            "{}  {}",
                            b.id.map(|i| i.to_string()).unwrap_or_default(),
                            b.name
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        BoardCmd::Show { board } => {
            let b = c.board(&board)?;
            let v = c.e.board_view(b)?;
            c.ok(&v, || {
                v.iter()
                    .map(|col| {
                        let mut s = format!("== {} ({})", col.column.name, col.tasks.len());
                        for t in &col.tasks {
                            s.push_str(&format!(
                                "\n  {}  {}{}",
                                t.id.map(|i| i.to_string()).unwrap_or_default(),
                                t.title,
                                t.priority.map(|p| format!("  [{p}]")).unwrap_or_default()
                            ));
                        }
                        s
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        BoardCmd::Rename { board, name } => {
            let b = c.board(&board)?;
            c.e.update_board(b, Some(&name), None)?;
            c.ok(&b, || "renamed".into())
        }
        BoardCmd::Archive { board, undo } => {
            let b = c.board(&board)?;
            c.e.update_board(b, None, Some(!undo))?;
            c.ok(&b, || {
                if undo {
                    "unarchived".into()
                } else {
                    "archived".into()
                }
            })
        }
    }
}

fn column(c: &mut Ctx, cmd: ColumnCmd) -> Result<()> {
    match cmd {
        ColumnCmd::Add {
            board,
            name,
            at,
            done,
        } => {
            let b = c.board(&board)?;
            let col = c.e.add_column(b, &name, at, done)?;
            c.ok(&col, || format!("column {} added", col.name))
        }
        ColumnCmd::Rename {
            board,
            column,
            name,
        } => {
            let b = c.board(&board)?;
            let col = c.e.find_column(b, &column)?;
            c.e.update_column(b, col, Some(&name), None)?;
            c.ok(&col, || "renamed".into())
        }
        ColumnCmd::Move {
            board,
            column,
            index,
        } => {
            let b = c.board(&board)?;
            let col = c.e.find_column(b, &column)?;
            c.e.move_column(b, col, index)?;
            c.ok(&col, || "moved".into())
        }
        ColumnCmd::Delete { board, column } => {
            let b = c.board(&board)?;
            let col = c.e.find_column(b, &column)?;
            c.e.delete_column(b, col)?;
            c.ok(&col, || "deleted".into())
        }
    }
}

fn task_line(t: &weft_domain::Task) -> String {
    format!(
        "{}  {}{}{}",
        t.id.map(|i| i.to_string()).unwrap_or_default(),
        t.title,
        t.priority.map(|p| format!("  [{p}]")).unwrap_or_default(),
        t.due
            .map(|d| format!("  due {}", when(d.0)))
            .unwrap_or_default()
    )
}

fn label_ids(c: &Ctx, names: &[String]) -> Result<Vec<Id>> {
    let ws = c.ws()?;
    let labels = c.e.labels(ws)?;
    names
        .iter()
        .map(|n| {
            n.parse::<Id>()
                .ok()
                .or_else(|| {
                    labels
                        .iter()
                        .find(|l| l.name.eq_ignore_ascii_case(n))
                        .and_then(|l| l.id)
                })
                .ok_or_else(|| {
                    anyhow::Error::new(weft_core::CoreError::NotFound(format!("label {n:?}")))
                })
        })
        .collect()
}

fn task(c: &mut Ctx, cmd: TaskCmd) -> Result<()> {
    match cmd {
        TaskCmd::Create {
            title,
            board,
            column,
            description,
            assignee,
            priority,
            due,
            label,
        } => {
            let b = c.board(&board)?;
            let column = column.map(|col| c.e.find_column(b, &col)).transpose()?;
            let assignee = assignee.map(|a| c.user(&a)).transpose()?;
            let due = due.map(|d| c.time(&d)).transpose()?;
            let labels = label_ids(c, &label)?;
            let t = c.e.create_task(
                b,
                NewTask {
                    title,
                    description,
                    column,
                    assignee,
                    priority,
                    due,
                    labels,
                },
            )?;
            c.ok(&t, || t.id.map(|i| i.to_string()).unwrap_or_default())
        }
        TaskCmd::Edit {
            task,
            title,
            description,
            assignee,
            unassign,
            priority,
            due,
            no_due,
            label,
            unlabel,
        } => {
            let assignee = if unassign {
                Some(None)
            } else {
                assignee.map(|a| c.user(&a)).transpose()?.map(Some)
            };
            let due = if no_due {
                Some(None)
            } else {
                due.map(|d| c.time(&d)).transpose()?.map(Some)
            };
            let p = TaskPatch {
                title,
                description,
                assignee,
                priority: priority.map(Some),
                due,
                add_labels: label_ids(c, &label)?,
                remove_labels: label_ids(c, &unlabel)?,
            };
            let t = c.e.edit_task(task, p)?;
            c.ok(&t, || task_line(&t))
        }
        TaskCmd::Move {
            task,
            column,
            index,
        } => {
            let row =
                c.e.store()
                    .task(&task.to_string())?
                    .ok_or_else(|| weft_core::CoreError::NotFound(format!("task {task}")))?;
            let b: Id = row.board.parse()?;
            let col = c.e.find_column(b, &column)?;
            let t = c.e.move_task(task, col, index)?;
            c.ok(&t, || format!("moved to {column}"))
        }
        TaskCmd::List {
            board,
            mine,
            assignee,
            priority,
            all,
        } => {
            let ws = c.ws()?;
            let v = if mine {
                c.e.my_tasks()?
            } else {
                let f = TaskFilter {
                    workspace: Some(ws.to_string()),
                    board: board
                        .map(|b| c.board(&b))
                        .transpose()?
                        .map(|b| b.to_string()),
                    assignee: assignee
                        .map(|a| c.user(&a))
                        .transpose()?
                        .map(|a| a.to_string()),
                    priority: priority.map(|p| p.to_string()),
                    include_done: all,
                    ..TaskFilter::default()
                };
                c.e.tasks(&f)?
            };
            c.ok(&v, || {
                v.iter().map(task_line).collect::<Vec<_>>().join("\n")
            })
        }
        TaskCmd::Show { task } => {
            let t = c.e.task(task)?;
            c.ok(&t, || {
                let mut s = format!("{}\n{}", task_line(&t), t.description);
                for st in t.subtasks.values().filter(|s| !s.deleted) {
                    s.push_str(&format!(
                        "\n  [{}] {}",
                        if st.done { "x" } else { " " },
                        st.title
                    ));
                }
                for cm in t.comments.values() {
                    s.push_str(&format!("\n  > {}", cm.text));
                }
                for a in &t.activity {
                    s.push_str(&format!("\n  {}  {}", a.at, a.what));
                }
                s
            })
        }
        TaskCmd::Delete { task } => {
            c.e.delete_task(task)?;
            c.ok(&task, || "deleted".into())
        }
        TaskCmd::Comment { task, text } => {
            let id = c.e.comment_task(task, &text)?;
            c.ok(&id, || id.to_string())
        }
        TaskCmd::Subtask { task, title } => {
            let id = c.e.add_subtask(task, &title)?;
            c.ok(&id, || id.to_string())
        }
        TaskCmd::Check { task, subtask, off } => {
            c.e.set_subtask_done(task, subtask, !off)?;
            c.ok(&subtask, || {
                if off {
                    "unchecked".into()
                } else {
                    "checked".into()
                }
            })
        }
        TaskCmd::FromMessage { message, board } => {
            let b = c.board(&board)?;
            let t = c.e.task_from_message(message, b, None)?;
            c.ok(&t, || t.id.map(|i| i.to_string()).unwrap_or_default())
        }
    }
}

fn label(c: &mut Ctx, cmd: LabelCmd) -> Result<()> {
    let ws = c.ws()?;
    match cmd {
        LabelCmd::Create { name, color } => {
            let l = c.e.create_label(ws, &name, &color)?;
            c.ok(&l, || format!("label {} created", l.name))
        }
        LabelCmd::List => {
            let v = c.e.labels(ws)?;
            c.ok(&v, || {
                v.iter()
                    .map(|l| {
                        format!(
                            "{}  {}  {}",
                            l.id.map(|i| i.to_string()).unwrap_or_default(),
                            l.name,
                            l.color
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

fn new_event(c: &Ctx, a: EventArgs) -> Result<NewEvent> {
    let tz = weft_domain::time::parse_tz(&a.tz)?;
    let recurrence = a
        .rrule
        .as_deref()
        .map(|r| weft_domain::recurrence::parse_rrule(r, tz))
        .transpose()?;
    Ok(NewEvent {
        title: a.title,
        description: a.description,
        start: Timestamp::parse(&a.start, tz)?,
        end: Timestamp::parse(&a.end, tz)?,
        timezone: a.tz,
        all_day: a.all_day,
        location: a.location,
        kind: a.kind,
        recurrence,
        attendees: a
            .attendee
            .iter()
            .map(|u| c.user(u))
            .collect::<Result<_>>()?,
        reminders: a.reminder,
    })
}

fn event(c: &mut Ctx, cmd: EventCmd) -> Result<()> {
    match cmd {
        EventCmd::Create(a) => {
            let ws = c.ws()?;
            let n = new_event(c, a)?;
            let ev = c.e.create_event(ws, n)?;
            c.ok(&ev, || ev.id.map(|i| i.to_string()).unwrap_or_default())
        }
        EventCmd::List { from, to } => {
            let ws = c.ws()?;
            let a = c.e.agenda(ws, c.time(&from)?, c.time(&to)?)?;
            c.ok(&a, || {
                let mut s: Vec<String> = a
                    .occurrences
                    .iter()
                    .map(|o| {
                        format!(
                            "{} – {}  {}  {}",
                            when(o.start.0),
                            when(o.end.0),
                            o.event.title,
                            o.event.id.map(|i| i.to_string()).unwrap_or_default()
                        )
                    })
                    .collect();
                s.extend(a.tasks_due.iter().map(|t| {
                    format!(
                        "{}  due: {}",
                        t.due.map(|d| when(d.0)).unwrap_or_default(),
                        t.title
                    )
                }));
                s.join("\n")
            })
        }
        EventCmd::Show { event } => {
            let ev = c.e.event(event)?;
            c.ok(&ev, || {
                format!(
                    "{}\n{} – {} ({})\n{}",
                    ev.title, ev.start, ev.end, ev.timezone, ev.description
                )
            })
        }
        EventCmd::Delete { event, occurrence } => {
            let occ = occurrence.map(|o| c.time(&o)).transpose()?;
            c.e.delete_event(event, occ)?;
            c.ok(&event, || "deleted".into())
        }
        EventCmd::Rsvp { event, answer } => {
            c.e.rsvp(event, answer)?;
            c.ok(&event, || format!("answered {answer}"))
        }
        EventCmd::Import { file } => {
            let ws = c.ws()?;
            let text =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let text = String::from_utf8(text).map_err(|_| {
                weft_core::CoreError::Invalid(weft_domain::DomainError::BadIcs(
                    "the file is not UTF-8 text".into(),
                ))
            })?;
            let n = c.e.import_ics(ws, &text)?;
            c.ok(&n, || format!("imported {n} events"))
        }
        EventCmd::Export { file } => {
            let ws = c.ws()?;
            let text = c.e.export_ics(ws)?;
            match file {
                Some(f) => {
                    write_atomic(&f, text.as_bytes())?;
                    c.ok(&f, || format!("wrote {}", f.display()))
                }
                None => {
                    print!("{text}");
                    Ok(())
                }
            }
        }
    }
}

fn meeting(c: &mut Ctx, cmd: MeetingCmd) -> Result<()> {
    let find = |c: &Ctx, m: &str| -> Result<Id> { c.e.meeting(m)?.id.context("meeting id") };
    match cmd {
        MeetingCmd::Start { channel } => {
            let ch = c.channel(&channel)?;
            let m = c.e.start_call(ch)?;
            c.ok(&m, || m.link.clone())
        }
        MeetingCmd::Schedule(a) => {
            let ws = c.ws()?;
            let n = new_event(c, a)?;
            let (ev, m) = c.e.schedule_meeting(ws, n, None)?;
            let v = serde_json::json!({ "event": ev, "meeting": m });
            c.ok(&v, || m.link.clone())
        }
        MeetingCmd::Join { meeting } => {
            let id = find(c, &meeting)?;
            let m = c.e.join_meeting(id)?;
            c.ok(&m, || format!("joined {}", m.title))
        }
        MeetingCmd::Leave { meeting } => {
            let id = find(c, &meeting)?;
            let m = c.e.leave_meeting(id)?;
            c.ok(&m, || format!("left {}", m.title))
        }
        MeetingCmd::Cancel { meeting } => {
            let id = find(c, &meeting)?;
            c.e.cancel_meeting(id)?;
            c.ok(&id, || "cancelled".into())
        }
        MeetingCmd::List => {
            let ws = c.ws()?;
            let v = c.e.meetings(ws)?;
            c.ok(&v, || {
                v.iter()
                    .map(|m| {
                        format!(
                            "{}  {}  {}  {}",
                            m.id.map(|i| i.to_string()).unwrap_or_default(),
                            m.status,
                            m.title,
                            m.link
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

fn focus(c: &mut Ctx, cmd: FocusCmd) -> Result<()> {
    let now = c.e.now();
    let show = |f: &weft_domain::FocusSession| {
        format!(
            "{} {}: {} of {} min, {} interruptions, until {}",
            f.kind,
            f.state,
            f.elapsed_ms(now) / 60_000,
            f.planned_minutes,
            f.interruptions,
            when(f.ends_at(now).0)
        )
    };
    match cmd {
        FocusCmd::Start { kind, minutes } => {
            let ws = c.ws().ok();
            let f = c.e.focus_start(kind, minutes, ws)?;
            c.ok(&f, || show(&f))
        }
        FocusCmd::Pause => {
            let f = c.e.focus_pause()?;
            c.ok(&f, || show(&f))
        }
        FocusCmd::Resume => {
            let f = c.e.focus_resume()?;
            c.ok(&f, || show(&f))
        }
        FocusCmd::Interrupt { note } => {
            let f = c.e.focus_interrupt(note.as_deref())?;
            c.ok(&f, || show(&f))
        }
        FocusCmd::Notes { notes } => {
            let f = c.e.focus_notes(&notes)?;
            c.ok(&f, || show(&f))
        }
        FocusCmd::Stop { abandon } => {
            let r = c.e.focus_stop(!abandon)?;
            c.ok(&r, || {
                let mut s = show(&r.session);
                if !r.held.is_empty() {
                    s.push_str("\nwhile you focused: ");
                    s.push_str(
                        &r.held
                            .iter()
                            .map(|(k, n)| format!("{n} {k}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    );
                }
                s
            })
        }
        FocusCmd::Status => {
            let f = c.e.focus_current()?;
            let (goal, done) = c.e.daily_goal()?;
            let v =
                serde_json::json!({ "session": f, "goal_minutes": goal, "today_minutes": done });
            c.ok(&v, || {
                format!(
                    "{}\ntoday: {done} of {goal} min",
                    f.as_ref()
                        .map(show)
                        .unwrap_or_else(|| "not focusing".into())
                )
            })
        }
        FocusCmd::Stats { days } => {
            let today = now.day();
            let s = c.e.focus_stats(today - days.clamp(1, 366) + 1, today)?;
            c.ok(&s, || {
                let mut out = format!(
                    "{} min in {} sessions (avg {:.1} min), {} interruptions",
                    s.minutes, s.sessions, s.average_minutes, s.interruptions
                );
                for (d, m, n) in &s.days {
                    out.push_str(&format!("\n{d}  {m:>4} min  {n} sessions"));
                }
                out
            })
        }
        FocusCmd::Goal { minutes } => {
            let g = c.e.set_daily_goal(minutes)?;
            c.ok(&g, || format!("daily goal: {minutes} min"))
        }
    }
}

fn inbox(c: &mut Ctx, cmd: InboxCmd) -> Result<()> {
    match cmd {
        InboxCmd::List { unread, limit } => {
            let v = c.e.inbox(unread, limit)?;
            c.ok(&v, || {
                v.iter()
                    .map(|i| {
                        format!(
                            "{}  {}{}  {}: {}  [{}]",
                            when(i.at),
                            if i.read { " " } else { "*" },
                            i.kind,
                            i.title,
                            i.body,
                            i.key
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        InboxCmd::Read { keys, all } => {
            let keys = if all {
                c.e.inbox(true, 10_000)?
                    .into_iter()
                    .map(|i| i.key)
                    .collect()
            } else {
                keys
            };
            c.e.mark_inbox_read(&keys)?;
            c.ok(&keys.len(), || format!("{} marked read", keys.len()))
        }
        InboxCmd::Held => {
            let v = c.e.held_summary()?;
            c.ok(&v, || {
                v.iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

fn hhmm(s: &str) -> Result<u16> {
    let (h, m) = s.split_once(':').context("time of day as HH:MM")?;
    let (h, m): (u16, u16) = (h.parse()?, m.parse()?);
    if h > 23 || m > 59 {
        bail!(weft_core::CoreError::Invalid(
            weft_domain::DomainError::BadDateTime(s.into())
        ));
    }
    Ok(h * 60 + m)
}

fn notify(c: &mut Ctx, cmd: NotifyCmd) -> Result<()> {
    let p = match cmd {
        NotifyCmd::Show => c.e.prefs(),
        NotifyCmd::Keywords { words } => c.e.update_prefs(|p| p.keywords = words)?,
        NotifyCmd::Default { level } => c.e.update_prefs(|p| p.default_level = level)?,
        NotifyCmd::Dnd { from, to, tz, off } => {
            let window = if off {
                None
            } else {
                Some((
                    hhmm(from.as_deref().context("--from HH:MM")?)?,
                    hhmm(to.as_deref().context("--to HH:MM")?)?,
                ))
            };
            c.e.update_prefs(|p| match window {
                None => p.dnd.enabled = false,
                Some((a, b)) => {
                    p.dnd = weft_domain::DndSchedule {
                        enabled: true,
                        start_minute: a,
                        end_minute: b,
                        timezone: tz,
                    }
                }
            })?
        }
    };
    c.ok(&p, || {
        format!(
            "default {}; keywords: {}; do-not-disturb: {}",
            p.default_level,
            p.keywords.join(", "),
            if p.dnd.enabled {
                format!(
                    "{:02}:{:02}–{:02}:{:02} {}",
                    p.dnd.start_minute / 60,
                    p.dnd.start_minute % 60,
                    p.dnd.end_minute / 60,
                    p.dnd.end_minute % 60,
                    p.dnd.timezone
                )
            } else {
                "off".into()
            }
        )
    })
}

fn settings(c: &mut Ctx, cmd: SettingsCmd) -> Result<()> {
    let s = match cmd {
        SettingsCmd::Show => c.e.settings()?,
        SettingsCmd::Set {
            theme,
            timezone,
            language,
        } => c.e.update_settings(|s| {
            if let Some(t) = theme {
                s.theme = t;
            }
            if let Some(t) = timezone {
                s.timezone = t;
            }
            if let Some(l) = language {
                s.language = l;
            }
        })?,
    };
    c.ok(&s, || {
        format!(
            "theme {}; language {}; time zone {}; focus goal {} min",
            s.theme, s.language, s.timezone, s.daily_focus_goal_minutes
        )
    })
}

fn file(c: &mut Ctx, cmd: FileCmd) -> Result<()> {
    let ws = c.ws()?;
    match cmd {
        FileCmd::Add {
            path,
            channel,
            task,
            text,
        } => {
            let meta =
                std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            if !meta.is_file() {
                bail!("{} is not a file", path.display());
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .context("file name is not UTF-8")?
                .to_owned();
            let mut f = std::fs::File::open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            let staged =
                c.e.stage_file(ws, &name, weft_core::mime_of(&name), meta.len(), &mut f)?;
            let id = staged.file.context("staged file without id")?;
            let fm = match (channel, task) {
                (_, Some(t)) => {
                    c.e.attach_to_task(t, &[id])?;
                    c.e.file(id)?
                }
                (Some(ch), None) => {
                    let ch = c.channel(&ch)?;
                    c.e.send(
                        ch,
                        &text,
                        SendOptions {
                            attachments: vec![staged],
                            ..SendOptions::default()
                        },
                    )?;
                    c.e.file(id)?
                }
                (None, None) => c.e.share_file(ws, id)?,
            };
            c.ok(&fm, || format!("{id}  {}  {} bytes", fm.name, fm.size))
        }
        FileCmd::Get { id, out } => {
            let n = c.e.save_file(id, &out)?;
            c.ok(
                &serde_json::json!({ "file": id, "out": out, "bytes": n }),
                || format!("{} bytes to {}", n, out.display()),
            )
        }
        FileCmd::List { name } => {
            let v = c.e.files(ws, name.as_deref())?;
            c.ok(&v, || {
                v.iter()
                    .map(|f| {
                        format!(
                            "{}  {}  {}  {} bytes  {}",
                            f.id.map(|i| i.to_string()).unwrap_or_default(),
                            when(f.created_at.0),
                            f.name,
                            f.size,
                            f.mime
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

fn integration(c: &mut Ctx, cmd: IntegrationCmd) -> Result<()> {
    let ws = c.ws()?;
    match cmd {
        IntegrationCmd::Add {
            name,
            kind,
            channel,
            config,
        } => {
            let channel = channel.map(|ch| c.channel(&ch)).transpose()?;
            let i = c.e.add_integration(ws, &name, kind, channel, &config)?;
            c.ok(&i, || i.id.map(|x| x.to_string()).unwrap_or_default())
        }
        IntegrationCmd::List => {
            let v = c.e.integrations(ws)?;
            c.ok(&v, || {
                v.iter()
                    .map(|i| {
                        format!(
                            "{}  {}  {}",
                            i.id.map(|x| x.to_string()).unwrap_or_default(),
                            i.kind,
                            i.name
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        IntegrationCmd::Log {
            integration,
            status,
            records,
            error,
            kind,
        } => {
            let r =
                c.e.log_integration_run(ws, integration, &kind, status, records, &error)?;
            c.ok(&r, || format!("logged {status}"))
        }
        IntegrationCmd::Runs => {
            let v = c.e.integration_runs(ws)?;
            c.ok(&v, || {
                v.iter()
                    .map(|r| {
                        format!(
                            "{}  {}  {} records  {}",
                            when(r.started_at.0),
                            r.status,
                            r.records,
                            r.error
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

/// `weft relay`: the relay in this process.
fn relay(
    config: Option<&std::path::Path>,
    listen: Option<std::net::SocketAddr>,
    relay_dir: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let mut c = weft_relay::Config::load(config, |k| std::env::var(k).ok())?;
    if let Some(l) = listen {
        c.listen = l;
    }
    if let Some(d) = relay_dir {
        c.data_dir = d;
    }
    weft_relay::run_until_signal(&c, |addr| {
        if json {
            println!("{}", serde_json::json!({ "listening": addr.to_string() }));
        } else {
            println!("{}", weft_relay::announcement(addr));
        }
    })
}

/// Syncs every account, each on its own task of one runtime; with `watch`, until Ctrl-C.
fn sync_all(e: Engine, watch: bool) -> Result<weft_core::SyncReport> {
    let accounts = e.accounts()?;
    if accounts.is_empty() {
        bail!(weft_core::CoreError::NotFound(
            "a relay account: run `weft account add URL` first".into()
        ));
    }
    let engine = std::sync::Arc::new(std::sync::Mutex::new(e));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let mode = if watch {
            weft_core::SyncMode::Watch
        } else {
            weft_core::SyncMode::Once
        };
        let mut tasks = Vec::new();
        for a in accounts {
            let (status, mut seen) = tokio::sync::watch::channel(weft_core::SyncStatus::Connecting);
            let engine = engine.clone();
            let stop = stop.clone();
            if watch {
                let url = a.url.clone();
                tokio::spawn(async move {
                    while seen.changed().await.is_ok() {
                        let s = seen.borrow().clone();
                        eprintln!("{url}: {}", serde_json::to_string(&s).unwrap_or_default());
                    }
                });
            }
            tasks.push(tokio::spawn(weft_core::sync_account(
                engine, a.id, mode, status, stop,
            )));
        }
        if watch {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop_tx.send(true);
        }
        let mut total = weft_core::SyncReport::default();
        let mut first_err = None;
        for t in tasks {
            match t.await {
                Ok(Ok(r)) => {
                    total.entries_received += r.entries_received;
                    total.bytes_received += r.bytes_received;
                    total.changes_new += r.changes_new;
                    total.pushes_acked += r.pushes_acked;
                    total.connections += r.connections;
                }
                Ok(Err(e)) => {
                    first_err.get_or_insert(anyhow::Error::from(e));
                }
                Err(e) => {
                    first_err.get_or_insert(anyhow::anyhow!("sync task failed: {e}"));
                }
            }
        }
        drop(stop_tx);
        match first_err {
            Some(e) => Err(e),
            None => Ok(total),
        }
    })
}
