//! Kanban boards: columns, tasks, subtasks, comments, labels, and moves that converge.

use crate::{CoreError, Engine, Result, workspace::parse};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use weft_domain::{
    Attachment, Board, Column, Comment, DomainError, FileMeta, Id, Label, Priority, Subtask, Task,
    TaskActivity, Timestamp, order, validate,
};
use weft_store::TaskFilter;
use weft_sync::DocId;

/// Most files on one task.
pub const MAX_TASK_ATTACHMENTS: usize = 50;

/// Fields of a new task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct NewTask {
    pub title: String,
    pub description: String,
    /// Defaults to the board's first column.
    pub column: Option<Id>,
    pub assignee: Option<Id>,
    pub priority: Option<Priority>,
    pub due: Option<Timestamp>,
    pub labels: Vec<Id>,
}

/// Changes to a task; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub assignee: Option<Option<Id>>,
    pub priority: Option<Option<Priority>>,
    pub due: Option<Option<Timestamp>>,
    pub add_labels: Vec<Id>,
    pub remove_labels: Vec<Id>,
}

/// A column with its tasks, as the board view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ColumnView {
    pub column: Column,
    pub tasks: Vec<Task>,
}

/// A task as shown (its files' keys left out, [`Task::shown`]).
/// Adds to a task's activity who did what, when.
fn log_activity(
    e: &mut crate::engine::Edit<'_>,
    key: &str,
    at: Timestamp,
    by: Id,
    what: String,
) -> Result<()> {
    e.push(
        "tasks",
        key,
        "activity",
        &TaskActivity {
            at,
            by: Some(by),
            what,
        },
    )
}

fn task_of(id: &str, json: &str) -> Result<Task> {
    let mut t: Task = parse(json)?;
    t.id = id.parse().ok();
    Ok(t.shown())
}

impl Engine {
    fn board_ws(&self, board: Id) -> Result<(Id, Board)> {
        for ws in self.workspace_ids()? {
            if let Some(j) = self
                .store
                .entity("boards", &ws.to_string(), &board.to_string())?
            {
                let mut b: Board = parse(&j)?;
                b.id = Some(board);
                return Ok((ws, b));
            }
        }
        Err(CoreError::NotFound(format!("board {board}")))
    }

    /// Creates a board with the columns To do, In progress and Done.
    pub fn create_board(&mut self, ws: Id, name: &str, description: &str) -> Result<Board> {
        let role = self.my_role(ws)?;
        if role == weft_domain::Role::Guest {
            return Err(CoreError::Forbidden("guests cannot create boards".into()));
        }
        let name = validate::name("board name", name)?;
        let description = validate::text("description", description, validate::MAX_TEXT)?;
        let me = self.me()?.user;
        let now = self.now();
        let id = self.new_id();
        let b = Board {
            id: None,
            name,
            description,
            archived: false,
            created_by: Some(me),
            created_at: now,
        };
        self.edit(&DocId::workspace(ws), |e| {
            e.create("boards", &id.to_string(), &b)
        })?;
        let keys = order::spread(3);
        let cols: Vec<(String, Column)> =
            [("To do", false), ("In progress", false), ("Done", true)]
                .iter()
                .zip(keys)
                .map(|((n, done), pos)| {
                    (
                        self.new_id().to_string(),
                        Column {
                            name: (*n).into(),
                            pos,
                            done: *done,
                            created_at: now,
                            ..Column::default()
                        },
                    )
                })
                .collect();
        self.edit(&DocId::board(ws, id), |e| {
            for (k, c) in &cols {
                e.create("columns", k, c)?;
            }
            Ok(())
        })?;
        Ok(Board { id: Some(id), ..b })
    }

    /// Boards of a workspace.
    pub fn boards(&self, ws: Id) -> Result<Vec<Board>> {
        self.my_role(ws)?;
        self.store
            .entities("boards", &ws.to_string())?
            .into_iter()
            .map(|(k, j)| {
                let mut b: Board = parse(&j)?;
                b.id = k.parse().ok();
                Ok(b)
            })
            .collect()
    }

    /// Finds a board by id or name.
    pub fn find_board(&self, ws: Id, name_or_id: &str) -> Result<Id> {
        if let Ok(id) = name_or_id.parse::<Id>() {
            return Ok(id);
        }
        self.boards(ws)?
            .into_iter()
            .find(|b| b.name.eq_ignore_ascii_case(name_or_id))
            .and_then(|b| b.id)
            .ok_or_else(|| CoreError::NotFound(format!("board {name_or_id:?}")))
    }

    /// Renames or archives a board.
    pub fn update_board(
        &mut self,
        board: Id,
        name: Option<&str>,
        archived: Option<bool>,
    ) -> Result<()> {
        let (ws, _) = self.board_ws(board)?;
        self.my_role(ws)?;
        let name = name.map(|n| validate::name("board name", n)).transpose()?;
        let key = board.to_string();
        self.edit(&DocId::workspace(ws), |e| {
            if let Some(n) = &name {
                e.set("boards", &key, &["name"], n)?;
            }
            if let Some(a) = archived {
                e.set("boards", &key, &["archived"], &a)?;
            }
            Ok(())
        })
    }

    /// Columns of a board, in order.
    pub fn columns(&self, board: Id) -> Result<Vec<Column>> {
        self.store
            .columns(&board.to_string())?
            .into_iter()
            .map(|(k, j)| {
                let mut c: Column = parse(&j)?;
                c.id = k.parse().ok();
                Ok(c)
            })
            .collect()
    }

    /// Finds a column of a board by id or name.
    pub fn find_column(&self, board: Id, name_or_id: &str) -> Result<Id> {
        let cols = self.columns(board)?;
        if let Ok(id) = name_or_id.parse::<Id>() {
            if cols.iter().any(|c| c.id == Some(id)) {
                return Ok(id);
            }
            return Err(DomainError::ColumnOfAnotherBoard {
                column: id.to_string(),
            }
            .into());
        }
        cols.into_iter()
            .find(|c| c.name.eq_ignore_ascii_case(name_or_id))
            .and_then(|c| c.id)
            .ok_or_else(|| CoreError::NotFound(format!("column {name_or_id:?}")))
    }

    /// The board: columns in order, each with its tasks in order.
    pub fn board_view(&self, board: Id) -> Result<Vec<ColumnView>> {
        let (ws, _) = self.board_ws(board)?;
        self.my_role(ws)?;
        let tasks = self.store.tasks(&TaskFilter {
            board: Some(board.to_string()),
            include_done: true,
            ..TaskFilter::default()
        })?;
        let mut out: Vec<ColumnView> = self
            .columns(board)?
            .into_iter()
            .map(|column| ColumnView {
                column,
                tasks: Vec::new(),
            })
            .collect();
        for row in tasks {
            if let Some(cv) = out
                .iter_mut()
                .find(|c| c.column.id.map(|i| i.to_string()).as_deref() == Some(&row.column))
            {
                cv.tasks.push(task_of(&row.id, &row.json)?);
            }
        }
        for cv in &mut out {
            cv.tasks.sort_by(|a, b| {
                let ka = a
                    .column_and_pos()
                    .map(|(_, p)| p.to_owned())
                    .unwrap_or_default();
                let kb = b
                    .column_and_pos()
                    .map(|(_, p)| p.to_owned())
                    .unwrap_or_default();
                (ka, a.id).cmp(&(kb, b.id))
            });
        }
        Ok(out)
    }

    /// Adds a column at `index` (default: last).
    pub fn add_column(
        &mut self,
        board: Id,
        name: &str,
        index: Option<usize>,
        done: bool,
    ) -> Result<Column> {
        let (ws, _) = self.board_ws(board)?;
        self.my_role(ws)?;
        let name = validate::name("column name", name)?;
        let cols = self.columns(board)?;
        if cols.len() >= 50 {
            return Err(DomainError::Invalid("a board holds at most 50 columns".into()).into());
        }
        let keys: Vec<&str> = cols.iter().map(|c| c.pos.as_str()).collect();
        let pos = slot(&keys, index.unwrap_or(keys.len()))?;
        let id = self.new_id();
        let c = Column {
            id: None,
            name,
            pos,
            done,
            deleted_at: None,
            created_at: self.now(),
        };
        self.edit(&DocId::board(ws, board), |e| {
            e.create("columns", &id.to_string(), &c)
        })?;
        Ok(Column { id: Some(id), ..c })
    }

    /// Renames a column or marks it as the "done" column.
    pub fn update_column(
        &mut self,
        board: Id,
        column: Id,
        name: Option<&str>,
        done: Option<bool>,
    ) -> Result<()> {
        let (ws, _) = self.board_ws(board)?;
        self.my_role(ws)?;
        self.find_column(board, &column.to_string())?;
        let name = name.map(|n| validate::name("column name", n)).transpose()?;
        let key = column.to_string();
        self.edit(&DocId::board(ws, board), |e| {
            if let Some(n) = &name {
                e.set("columns", &key, &["name"], n)?;
            }
            if let Some(d) = done {
                e.set("columns", &key, &["done"], &d)?;
            }
            Ok(())
        })
    }

    /// Moves a column to `index`.
    pub fn move_column(&mut self, board: Id, column: Id, index: usize) -> Result<()> {
        let (ws, _) = self.board_ws(board)?;
        self.my_role(ws)?;
        let cols: Vec<Column> = self
            .columns(board)?
            .into_iter()
            .filter(|c| c.id != Some(column))
            .collect();
        if cols.len() == self.columns(board)?.len() {
            return Err(DomainError::ColumnOfAnotherBoard {
                column: column.to_string(),
            }
            .into());
        }
        let keys: Vec<&str> = cols.iter().map(|c| c.pos.as_str()).collect();
        let pos = slot(&keys, index.min(keys.len()))?;
        self.edit(&DocId::board(ws, board), |e| {
            e.set("columns", &column.to_string(), &["pos"], &pos)
        })
    }

    /// Deletes an empty column.
    pub fn delete_column(&mut self, board: Id, column: Id) -> Result<()> {
        let (ws, _) = self.board_ws(board)?;
        self.my_role(ws)?;
        self.find_column(board, &column.to_string())?;
        let left = self.store.tasks(&TaskFilter {
            column: Some(column.to_string()),
            include_done: true,
            ..TaskFilter::default()
        })?;
        if !left.is_empty() {
            return Err(DomainError::Invalid(format!(
                "the column still holds {} tasks: move them first",
                left.len()
            ))
            .into());
        }
        let now = self.now();
        self.edit(&DocId::board(ws, board), |e| {
            e.set("columns", &column.to_string(), &["deleted_at"], &now)
        })
    }

    fn tasks_in(&self, column: Id, except: Option<Id>) -> Result<Vec<(Id, String)>> {
        let mut v: Vec<(Id, String)> = self
            .store
            .tasks(&TaskFilter {
                column: Some(column.to_string()),
                include_done: true,
                ..TaskFilter::default()
            })?
            .into_iter()
            .filter_map(|r| r.id.parse().ok().map(|id| (id, r.pos)))
            .filter(|(id, _)| Some(*id) != except)
            .collect();
        v.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
        Ok(v)
    }

    /// Creates a task (at the bottom of its column).
    pub fn create_task(&mut self, board: Id, t: NewTask) -> Result<Task> {
        let (ws, b) = self.board_ws(board)?;
        self.my_role(ws)?;
        if b.archived {
            return Err(CoreError::Archived(format!("board {}", b.name)));
        }
        let title = validate::name("task title", &t.title)?;
        let description = validate::text("description", &t.description, validate::MAX_TEXT)?;
        let cols = self.columns(board)?;
        let column = match t.column {
            Some(c) if cols.iter().any(|x| x.id == Some(c)) => c,
            Some(c) => {
                return Err(DomainError::ColumnOfAnotherBoard {
                    column: c.to_string(),
                }
                .into());
            }
            None => cols
                .first()
                .and_then(|c| c.id)
                .ok_or_else(|| CoreError::NotFound("a column on this board".into()))?,
        };
        let done = cols.iter().any(|c| c.id == Some(column) && c.done);
        let siblings = self.tasks_in(column, None)?;
        let pos = order::between(siblings.last().map(|(_, p)| p.as_str()), None)
            .or_else(|_| self.rebalance_tail(ws, board, column))?;
        let me = self.me()?.user;
        let now = self.now();
        let id = self.new_id();
        let task = Task {
            title,
            description,
            assignee: t.assignee,
            priority: t.priority,
            due: t.due,
            place: Task::place_of(column, &pos),
            labels: t.labels.iter().map(|l| (l.to_string(), true)).collect(),
            created_by: Some(me),
            created_at: now,
            updated_at: now,
            completed_at: done.then_some(now),
            activity: vec![TaskActivity {
                at: now,
                by: Some(me),
                what: "created".into(),
            }],
            ..Task::default()
        };
        self.edit(&DocId::board(ws, board), |e| {
            e.create("tasks", &id.to_string(), &task)
        })?;
        Ok(Task {
            id: Some(id),
            ..task
        })
    }

    /// Spreads a column's order keys evenly and returns a key after the last one.
    fn rebalance_tail(&mut self, ws: Id, board: Id, column: Id) -> Result<String> {
        let tasks = self.tasks_in(column, None)?;
        let keys = order::spread(tasks.len() + 1);
        self.edit(&DocId::board(ws, board), |e| {
            for ((id, _), k) in tasks.iter().zip(&keys) {
                e.set(
                    "tasks",
                    &id.to_string(),
                    &["place"],
                    &Task::place_of(column, k),
                )?;
            }
            Ok(())
        })?;
        keys.last()
            .cloned()
            .ok_or_else(|| CoreError::NotFound("order key".into()))
    }

    fn task_ctx(&self, task: Id) -> Result<(Id, Id, Task)> {
        let row = self
            .store
            .task(&task.to_string())?
            .ok_or_else(|| CoreError::NotFound(format!("task {task}")))?;
        let board: Id = row.board.parse()?;
        let (ws, _) = self.board_ws(board)?;
        self.my_role(ws)?;
        let t = task_of(&row.id, &row.json)?;
        if t.deleted_at.is_some() {
            return Err(DomainError::Deleted(format!("task {task}")).into());
        }
        Ok((ws, board, t))
    }

    /// One task.
    pub fn task(&self, task: Id) -> Result<Task> {
        let row = self
            .store
            .task(&task.to_string())?
            .ok_or_else(|| CoreError::NotFound(format!("task {task}")))?;
        task_of(&row.id, &row.json)
    }

    /// Edits a task's fields; each field is its own register, so concurrent edits of different
    /// fields both survive.
    pub fn edit_task(&mut self, task: Id, p: TaskPatch) -> Result<Task> {
        let (ws, board, t) = self.task_ctx(task)?;
        let title = p
            .title
            .as_deref()
            .map(|x| validate::name("task title", x))
            .transpose()?;
        let description = p
            .description
            .as_deref()
            .map(|x| validate::text("description", x, validate::MAX_TEXT))
            .transpose()?;
        let me = self.me()?.user;
        let now = self.now();
        let key = task.to_string();
        let mut what = Vec::new();
        self.edit(&DocId::board(ws, board), |e| {
            if let Some(x) = &title {
                e.set("tasks", &key, &["title"], x)?;
                what.push("edited title".to_owned());
            }
            if let Some(x) = &description {
                e.set("tasks", &key, &["description"], x)?;
                what.push("edited description".to_owned());
            }
            if let Some(x) = &p.assignee {
                e.set("tasks", &key, &["assignee"], x)?;
                what.push(match x {
                    Some(u) => format!("assigned {u}"),
                    None => "unassigned".into(),
                });
            }
            if let Some(x) = &p.priority {
                e.set("tasks", &key, &["priority"], x)?;
                what.push(format!(
                    "priority {}",
                    x.map(|p| p.as_str()).unwrap_or("none")
                ));
            }
            if let Some(x) = &p.due {
                e.set("tasks", &key, &["due"], x)?;
                what.push(match x {
                    Some(d) => format!("due {d}"),
                    None => "no due date".into(),
                });
            }
            for l in &p.add_labels {
                e.set("tasks", &key, &["labels", &l.to_string()], &true)?;
                what.push(format!("label +{l}"));
            }
            for l in &p.remove_labels {
                e.set("tasks", &key, &["labels", &l.to_string()], &false)?;
                what.push(format!("label -{l}"));
            }
            if what.is_empty() {
                return Ok(());
            }
            e.set("tasks", &key, &["updated_at"], &now)?;
            log_activity(e, &key, now, me, what.join(", "))
        })?;
        let _ = t;
        self.task(task)
    }

    /// Moves a task to `index` in `column` (default: the bottom). The column and the position are
    /// one value, so concurrent moves leave the card in exactly one place.
    pub fn move_task(&mut self, task: Id, column: Id, index: Option<usize>) -> Result<Task> {
        let (ws, board, t) = self.task_ctx(task)?;
        let cols = self.columns(board)?;
        let Some(target) = cols.iter().find(|c| c.id == Some(column)) else {
            return Err(DomainError::ColumnOfAnotherBoard {
                column: column.to_string(),
            }
            .into());
        };
        let siblings = self.tasks_in(column, Some(task))?;
        let i = index.unwrap_or(siblings.len()).min(siblings.len());
        let keys: Vec<&str> = siblings.iter().map(|(_, p)| p.as_str()).collect();
        let pos = match slot(&keys, i) {
            Ok(p) => p,
            Err(_) => {
                self.rebalance_tail(ws, board, column)?;
                let siblings = self.tasks_in(column, Some(task))?;
                let keys: Vec<&str> = siblings.iter().map(|(_, p)| p.as_str()).collect();
                slot(&keys, i)?
            }
        };
        let me = self.me()?.user;
        let now = self.now();
        let key = task.to_string();
        let was_done = t.completed_at.is_some();
        self.edit(&DocId::board(ws, board), |e| {
            e.set("tasks", &key, &["place"], &Task::place_of(column, &pos))?;
            if target.done && !was_done {
                e.set("tasks", &key, &["completed_at"], &now)?;
            } else if !target.done && was_done {
                e.set("tasks", &key, &["completed_at"], &None::<i64>)?;
            }
            e.set("tasks", &key, &["updated_at"], &now)?;
            log_activity(e, &key, now, me, format!("moved to {}", target.name))
        })?;
        self.task(task)
    }

    /// Deletes a task (a tombstone: a concurrent edit does not bring it back).
    pub fn delete_task(&mut self, task: Id) -> Result<()> {
        let (ws, board, _) = self.task_ctx(task)?;
        let now = self.now();
        let me = self.me()?.user;
        let key = task.to_string();
        self.edit(&DocId::board(ws, board), |e| {
            e.set("tasks", &key, &["deleted_at"], &now)?;
            log_activity(e, &key, now, me, "deleted".to_owned())
        })
    }

    /// Comments on a task.
    pub fn comment_task(&mut self, task: Id, text: &str) -> Result<Id> {
        let (ws, board, _) = self.task_ctx(task)?;
        let text = validate::message_body(text)?;
        let me = self.me()?.user;
        let now = self.now();
        let id = self.new_id();
        let key = task.to_string();
        let c = Comment {
            author: Some(me),
            text,
            created_at: now,
            edited_at: None,
            deleted_at: None,
        };
        self.edit(&DocId::board(ws, board), |e| {
            e.set("tasks", &key, &["comments", &id.to_string()], &c)?;
            log_activity(e, &key, now, me, "commented".to_owned())
        })?;
        Ok(id)
    }

    /// Adds a subtask at the end of the checklist.
    pub fn add_subtask(&mut self, task: Id, title: &str) -> Result<Id> {
        let (ws, board, t) = self.task_ctx(task)?;
        let title = validate::name("subtask title", title)?;
        if t.subtasks.len() >= 200 {
            return Err(DomainError::Invalid("a task holds at most 200 subtasks".into()).into());
        }
        let last = t.subtasks.values().map(|s| s.pos.as_str()).max();
        let pos = order::between(last, None)?;
        let id = self.new_id();
        let key = task.to_string();
        let s = Subtask {
            title,
            done: false,
            pos,
            deleted: false,
        };
        self.edit(&DocId::board(ws, board), |e| {
            e.set("tasks", &key, &["subtasks", &id.to_string()], &s)
        })?;
        Ok(id)
    }

    /// Ticks or unticks a subtask.
    pub fn set_subtask_done(&mut self, task: Id, subtask: Id, done: bool) -> Result<()> {
        let (ws, board, t) = self.task_ctx(task)?;
        if !t.subtasks.contains_key(&subtask.to_string()) {
            return Err(CoreError::NotFound(format!("subtask {subtask}")));
        }
        let key = task.to_string();
        self.edit(&DocId::board(ws, board), |e| {
            e.set(
                "tasks",
                &key,
                &["subtasks", &subtask.to_string(), "done"],
                &done,
            )
        })
    }

    /// Tasks matching a filter.
    pub fn tasks(&self, f: &TaskFilter) -> Result<Vec<Task>> {
        self.store
            .tasks(f)?
            .into_iter()
            .map(|r| task_of(&r.id, &r.json))
            .collect()
    }

    /// Open tasks assigned to me, across every board.
    pub fn my_tasks(&self) -> Result<Vec<Task>> {
        let me = self.me()?.user;
        let mut v = self.tasks(&TaskFilter {
            assignee: Some(me.to_string()),
            ..TaskFilter::default()
        })?;
        v.sort_by_key(|t| (t.due.is_none(), t.due, t.id));
        Ok(v)
    }

    /// Makes a task from a message, linking back to it.
    pub fn task_from_message(
        &mut self,
        message: Id,
        board: Id,
        column: Option<Id>,
    ) -> Result<Task> {
        let m = self.message(message)?;
        // The first line, or (for a message of files only) the first file's name.
        let first = m
            .text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .or(m.attachments.first().map(|a| a.name.as_str()))
            .unwrap_or_default();
        let title: String = first.chars().take(validate::MAX_NAME).collect();
        // The message's files that can still be attached (not deleted since, say).
        let files: Vec<Id> = m
            .attachments
            .iter()
            .filter_map(|a| a.file)
            .filter(|f| self.file(*f).is_ok())
            .collect();
        let t = self.create_task(
            board,
            NewTask {
                title,
                description: m.text.clone(),
                column,
                ..NewTask::default()
            },
        )?;
        let id = t.id.ok_or_else(|| CoreError::NotFound("task".into()))?;
        let (ws, board, _) = self.task_ctx(id)?;
        self.edit(&DocId::board(ws, board), |e| {
            e.set("tasks", &id.to_string(), &["from_message"], &message)
        })?;
        // The message's files come along, as references to the message's records.
        if !files.is_empty() {
            return self.attach_to_task(id, &files);
        }
        self.task(id)
    }

    /// Attaches files to a task: files staged here ([`Engine::stage_file`]), whose records go
    /// in the task's own change on the board, or files already shared that I can see, as
    /// references. A file already on the task is left as it is.
    pub fn attach_to_task(&mut self, task: Id, files: &[Id]) -> Result<Task> {
        let (ws, board, t) = self.task_ctx(task)?;
        let mut atts: Vec<Attachment> = files
            .iter()
            .filter(|f| !t.attachments.iter().any(|a| a.file == Some(**f)))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|f| Attachment {
                file: Some(*f),
                ..Attachment::default()
            })
            .collect();
        if atts.is_empty() {
            return Ok(t);
        }
        if t.attachments.len() + atts.len() > MAX_TASK_ATTACHMENTS {
            return Err(DomainError::Invalid(format!(
                "a task carries at most {MAX_TASK_ATTACHMENTS} files"
            ))
            .into());
        }
        let staged = self.staged_for(ws, &mut atts)?;
        for a in &mut atts {
            if let Some((_, f)) = staged.iter().find(|(id, _)| Some(*id) == a.file) {
                a.record = Some(FileMeta {
                    task: Some(task),
                    channel: None,
                    message: None,
                    ..f.clone()
                });
            }
        }
        let me = self.me()?.user;
        let now = self.now();
        let key = task.to_string();
        let names: Vec<&str> = atts.iter().map(|a| a.name.as_str()).collect();
        let what = format!("attached {}", names.join(", "));
        self.queue_uploads(ws, &staged)?;
        self.edit(&DocId::board(ws, board), |e| {
            for a in &atts {
                e.push("tasks", &key, "attachments", a)?;
            }
            e.set("tasks", &key, &["updated_at"], &now)?;
            log_activity(e, &key, now, me, what)
        })?;
        self.unstage(&staged);
        self.task(task)
    }

    /// Defines a label.
    pub fn create_label(&mut self, ws: Id, name: &str, color: &str) -> Result<Label> {
        self.my_role(ws)?;
        let name = validate::name("label name", name)?;
        let color = validate::text("color", color, 32)?;
        let id = self.new_id();
        let l = Label {
            id: None,
            name,
            color,
        };
        self.edit(&DocId::workspace(ws), |e| {
            e.create("labels", &id.to_string(), &l)
        })?;
        Ok(Label { id: Some(id), ..l })
    }

    /// Labels of a workspace.
    pub fn labels(&self, ws: Id) -> Result<Vec<Label>> {
        self.store
            .entities("labels", &ws.to_string())?
            .into_iter()
            .map(|(k, j)| {
                let mut l: Label = parse(&j)?;
                l.id = k.parse().ok();
                Ok(l)
            })
            .collect()
    }
}

/// An order key for position `index` among `keys` (sorted).
fn slot(keys: &[&str], index: usize) -> Result<String> {
    let i = index.min(keys.len());
    let before = if i == 0 {
        None
    } else {
        keys.get(i - 1).copied()
    };
    let after = keys.get(i).copied();
    // Equal neighbours (concurrent inserts picked the same key) leave no room between them:
    // place after the later one instead; ties are then broken by id.
    if let (Some(b), Some(a)) = (before, after)
        && b >= a
    {
        return Ok(order::between(Some(b), None)?);
    }
    Ok(order::between(before, after)?)
}
