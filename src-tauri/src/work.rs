//! Board and calendar commands: columns, card detail, filters, my tasks, tasks from messages,
//! labels; events edited and deleted, RSVP, ICS import and export.

use crate::{Answer, App, AppError};
use serde::Deserialize;
use specta::Type;
use tauri::{Manager, State};
use weft_core::{NewEvent, TaskFilter, TaskPatch};
use weft_domain::{Attendee, Column, Event, Id, Label, Priority, Reminder, Rsvp, Task, Timestamp};

#[tauri::command]
#[specta::specta]
pub async fn add_column(
    app: State<'_, App>,
    board: Id,
    name: String,
    done: bool,
) -> Answer<Column> {
    app.with(|e| e.add_column(board, &name, None, done))
}

/// Renames a column or marks it as where finished cards go, each only when given.
#[tauri::command]
#[specta::specta]
pub async fn update_column(
    app: State<'_, App>,
    board: Id,
    column: Id,
    name: Option<String>,
    done: Option<bool>,
) -> Answer<()> {
    app.with(|e| e.update_column(board, column, name.as_deref(), done))
}

#[tauri::command]
#[specta::specta]
pub async fn move_column(app: State<'_, App>, board: Id, column: Id, index: u32) -> Answer<()> {
    app.with(|e| e.move_column(board, column, index as usize))
}

#[tauri::command]
#[specta::specta]
pub async fn delete_column(app: State<'_, App>, board: Id, column: Id) -> Answer<()> {
    app.with(|e| e.delete_column(board, column))
}

#[tauri::command]
#[specta::specta]
pub async fn task(app: State<'_, App>, id: Id) -> Answer<Task> {
    app.with(|e| e.task(id))
}

/// A card's edit from its detail panel: a field given is set, a `clear_` flag empties it,
/// a field absent stays as it is (JSON has no way to say "set to nothing" with `null` alone).
#[derive(Debug, Clone, Default, Deserialize, Type)]
#[serde(default)]
pub struct CardEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub assignee: Option<Id>,
    pub clear_assignee: bool,
    pub priority: Option<Priority>,
    pub clear_priority: bool,
    /// Due time, ms since the epoch.
    pub due: Option<f64>,
    pub clear_due: bool,
    pub add_labels: Vec<Id>,
    pub remove_labels: Vec<Id>,
}

impl From<CardEdit> for TaskPatch {
    fn from(c: CardEdit) -> TaskPatch {
        fn field<T>(value: Option<T>, clear: bool) -> Option<Option<T>> {
            if clear { Some(None) } else { value.map(Some) }
        }
        TaskPatch {
            title: c.title,
            description: c.description,
            assignee: field(c.assignee, c.clear_assignee),
            priority: field(c.priority, c.clear_priority),
            due: field(c.due.map(|d| Timestamp(d as i64)), c.clear_due),
            add_labels: c.add_labels,
            remove_labels: c.remove_labels,
        }
    }
}

#[tauri::command]
#[specta::specta]
pub async fn edit_task(app: State<'_, App>, id: Id, edit: CardEdit) -> Answer<Task> {
    app.with(|e| e.edit_task(id, edit.into()))
}

#[tauri::command]
#[specta::specta]
pub async fn delete_task(app: State<'_, App>, id: Id) -> Answer<()> {
    app.with(|e| e.delete_task(id))
}

#[tauri::command]
#[specta::specta]
pub async fn comment_task(app: State<'_, App>, id: Id, text: String) -> Answer<Id> {
    app.with(|e| e.comment_task(id, &text))
}

#[tauri::command]
#[specta::specta]
pub async fn add_subtask(app: State<'_, App>, id: Id, title: String) -> Answer<Id> {
    app.with(|e| e.add_subtask(id, &title))
}

#[tauri::command]
#[specta::specta]
pub async fn set_subtask_done(app: State<'_, App>, id: Id, subtask: Id, done: bool) -> Answer<()> {
    app.with(|e| e.set_subtask_done(id, subtask, done))
}

/// Which cards a filtered board or "my tasks" shows; every field narrows, none widens.
#[derive(Debug, Clone, Default, Deserialize, Type)]
#[serde(default)]
pub struct TaskQuery {
    pub workspace: Option<Id>,
    pub board: Option<Id>,
    pub assignee: Option<Id>,
    /// `low`, `medium`, `high` or `urgent`.
    pub priority: Option<String>,
    pub label: Option<Id>,
    /// Due before this time (ms since the epoch).
    pub due_before: Option<f64>,
    pub include_done: bool,
    /// Words in the title or description.
    pub text: Option<String>,
}

#[tauri::command]
#[specta::specta]
pub async fn tasks(app: State<'_, App>, query: TaskQuery) -> Answer<Vec<Task>> {
    let text = query.text.filter(|t| !t.trim().is_empty());
    let filter = TaskFilter {
        workspace: query.workspace.map(|w| w.to_string()),
        board: query.board.map(|b| b.to_string()),
        column: None,
        assignee: query.assignee.map(|a| a.to_string()),
        priority: query.priority,
        label: query.label.map(|l| l.to_string()),
        due_before: query.due_before.map(|d| d as i64),
        include_done: query.include_done,
        text,
    };
    app.with(|e| e.tasks(&filter))
}

/// The cards assigned to me that are not done, on every board.
#[tauri::command]
#[specta::specta]
pub async fn my_tasks(app: State<'_, App>) -> Answer<Vec<Task>> {
    app.with(|e| e.my_tasks())
}

/// A card on `board` made from a message (its text, with a link back to it).
#[tauri::command]
#[specta::specta]
pub async fn task_from_message(app: State<'_, App>, message: Id, board: Id) -> Answer<Task> {
    app.with(|e| e.task_from_message(message, board, None))
}

/// Attaches files to a card: staged ones (`stage_file`) or ones already shared, by id.
#[tauri::command]
#[specta::specta]
pub async fn attach_to_task(app: State<'_, App>, task: Id, files: Vec<Id>) -> Answer<Task> {
    app.with(|e| e.attach_to_task(task, &files))
}

#[tauri::command]
#[specta::specta]
pub async fn labels(app: State<'_, App>, workspace: Id) -> Answer<Vec<Label>> {
    app.with(|e| e.labels(workspace))
}

#[tauri::command]
#[specta::specta]
pub async fn create_label(
    app: State<'_, App>,
    workspace: Id,
    name: String,
    color: String,
) -> Answer<Label> {
    app.with(|e| e.create_label(workspace, &name, &color))
}

#[tauri::command]
#[specta::specta]
pub async fn create_event(app: State<'_, App>, workspace: Id, event: NewEvent) -> Answer<Event> {
    // A meeting gets its meeting record and join link, as in any calendar with calls.
    if event.kind == weft_domain::EventType::Meeting {
        return app.with(|e| e.schedule_meeting(workspace, event, None).map(|(ev, _)| ev));
    }
    app.with(|e| e.create_event(workspace, event))
}

#[tauri::command]
#[specta::specta]
pub async fn event(app: State<'_, App>, id: Id) -> Answer<Event> {
    app.with(|e| e.event(id))
}

/// Replaces an event's fields with the editor's; attendees who stay keep their answers.
#[tauri::command]
#[specta::specta]
pub async fn update_event(app: State<'_, App>, id: Id, event: NewEvent) -> Answer<Event> {
    app.with(|e| {
        e.update_event(id, |old| {
            // Deleted occurrences are kept by their start: a series moved in time takes them
            // along, so none comes back.
            let shift = event.start.0 - old.start.0;
            old.title = event.title;
            old.description = event.description;
            old.start = event.start;
            old.end = event.end;
            old.timezone = event.timezone;
            old.all_day = event.all_day;
            old.location = event.location;
            old.kind = event.kind;
            old.recurrence = event.recurrence.map(|mut r| {
                // Exceptions are made by deleting one occurrence, never by the editor.
                if let Some(prev) = &old.recurrence {
                    r.exceptions = prev
                        .exceptions
                        .iter()
                        .map(|x| Timestamp(x.0 + shift))
                        .collect();
                }
                r
            });
            let keep = std::mem::take(&mut old.attendees);
            for who in event.attendees {
                let key = who.to_string();
                let a = keep.get(&key).cloned().unwrap_or_else(|| Attendee {
                    rsvp: Rsvp::NeedsAction,
                    ..Attendee::default()
                });
                old.attendees.insert(key, a);
            }
            old.reminders = event
                .reminders
                .into_iter()
                .map(|minutes_before| Reminder { minutes_before })
                .collect();
        })
    })
}

/// Deletes an event, or only its occurrence starting at `occurrence`.
#[tauri::command]
#[specta::specta]
pub async fn delete_event(app: State<'_, App>, id: Id, occurrence: Option<f64>) -> Answer<()> {
    app.with(|e| e.delete_event(id, occurrence.map(|o| Timestamp(o as i64))))
}

#[tauri::command]
#[specta::specta]
pub async fn rsvp(app: State<'_, App>, id: Id, answer: Rsvp) -> Answer<()> {
    app.with(|e| e.rsvp(id, answer))
}

/// Imports the events of an iCalendar file's text; answers how many.
#[tauri::command]
#[specta::specta]
pub async fn import_ics(app: State<'_, App>, workspace: Id, text: String) -> Answer<u32> {
    app.with(|e| e.import_ics(workspace, &text).map(|n| n as u32))
}

/// Writes the workspace's calendar as an `.ics` file in the Downloads folder (or the data
/// directory where there is none); answers the file's path.
#[tauri::command]
#[specta::specta]
pub async fn export_ics(
    app: State<'_, App>,
    handle: tauri::AppHandle,
    workspace: Id,
) -> Answer<String> {
    let (text, name, data) = app.with(|e| {
        let text = e.export_ics(workspace)?;
        let name = e.workspace(workspace)?.name;
        Ok((text, name, e.dir().to_path_buf()))
    })?;
    let dir = handle.path().download_dir().unwrap_or(data);
    let safe: String = name
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let path = dir.join(format!("weft-{safe}.ics"));
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|e| AppError::new("io", format!("{}: {e}", path.display())))?;
    Ok(path.display().to_string())
}
