//! File commands: attaching (content picked in the window, or files dropped on it), the state
//! of a file's content on this device, fetching it, and saving it to the downloads folder.
//!
//! The window never holds a file's key or chunk addresses: records reach it as shown
//! ([`weft_domain::FileMeta::shown`]), and content goes through these commands.

use crate::{Answer, App, AppError, lock};
use base64::Engine as _;
use serde::Serialize;
use specta::Type;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tauri::{Manager, State};
use weft_core::FileState;
use weft_domain::{Attachment, FileMeta, Id};

/// Largest file the window may hand over in one command (it travels base64-encoded). A file
/// dropped on the window is read from disk instead and may be as large as any file.
pub const MAX_PICKED_BYTES: usize = 64 << 20;
/// Paths dropped on the window kept for attaching; the oldest is forgotten past this.
pub const MAX_DROPPED: usize = 64;
/// Most files listed at once.
pub const MAX_LISTED: usize = 500;

/// Paths the person dropped on the window: the only paths [`stage_dropped`] reads, so the
/// window cannot name any other file on the disk.
#[derive(Default)]
pub struct Dropped(Mutex<Vec<PathBuf>>);

impl Dropped {
    /// Remembers paths from a drop.
    pub fn add(&self, paths: &[PathBuf]) {
        let mut d = lock(&self.0);
        for p in paths {
            d.retain(|q| q != p);
            d.push(p.clone());
        }
        let over = d.len().saturating_sub(MAX_DROPPED);
        d.drain(..over);
    }

    fn take(&self, path: &Path) -> Option<PathBuf> {
        let mut d = lock(&self.0);
        let at = d.iter().position(|p| p == path)?;
        Some(d.remove(at))
    }
}

/// A file with how much of its content this device holds.
#[derive(Debug, Clone, Serialize, Type)]
pub struct FileView {
    pub file: FileMeta,
    pub state: FileState,
}

/// Seals content the person picked or pasted into the chunk cache, ready to send with a
/// message (`send_message`'s `attachments`) or to share with the workspace.
#[tauri::command]
#[specta::specta]
pub async fn stage_file(
    app: State<'_, App>,
    workspace: Id,
    name: String,
    mime: String,
    data: String,
) -> Answer<Attachment> {
    // Refused before decoding: base64 is 4 characters per 3 bytes.
    if data.len() > MAX_PICKED_BYTES.div_ceil(3) * 4 {
        return Err(too_large(&name));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .map_err(|e| AppError::new("invalid", format!("{name}: the content is not base64: {e}")))?;
    if bytes.len() > MAX_PICKED_BYTES {
        return Err(too_large(&name));
    }
    app.with(|e| e.stage_file(workspace, &name, &mime, bytes.len() as u64, &mut &bytes[..]))
}

fn too_large(name: &str) -> AppError {
    AppError::new(
        "too_large",
        format!(
            "{name} is over {} MiB: drag it onto the window instead, which attaches files of any size up to 1 GiB",
            MAX_PICKED_BYTES >> 20
        ),
    )
}

/// Seals a file the person dropped on the window (read from disk, any size the engine takes).
#[tauri::command]
#[specta::specta]
pub async fn stage_dropped(
    app: State<'_, App>,
    dropped: State<'_, Dropped>,
    workspace: Id,
    path: String,
) -> Answer<Attachment> {
    let path = dropped.take(Path::new(&path)).ok_or_else(|| {
        AppError::new(
            "forbidden",
            "only a file dropped on the window can be attached by its path",
        )
    })?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| AppError::new("invalid", "the file's name is not UTF-8"))?
        .to_owned();
    let io = |e: std::io::Error| AppError::new("io", format!("{}: {e}", path.display()));
    let meta = std::fs::metadata(&path).map_err(io)?;
    if !meta.is_file() {
        return Err(AppError::new(
            "invalid",
            format!("{name} is a folder: drop files one by one"),
        ));
    }
    let mut f = std::fs::File::open(&path).map_err(io)?;
    let mime = weft_core::mime_of(&name);
    app.with(|e| e.stage_file(workspace, &name, mime, meta.len(), &mut f))
}

/// Takes back a staged file (its chip removed before sending).
#[tauri::command]
#[specta::specta]
pub async fn discard_file(app: State<'_, App>, staged: Id) -> Answer<()> {
    app.with(|e| e.discard_staged(staged))
}

/// Shares a staged file with the whole workspace (the Files view's upload).
#[tauri::command]
#[specta::specta]
pub async fn share_file(app: State<'_, App>, workspace: Id, staged: Id) -> Answer<FileMeta> {
    app.with(|e| e.share_file(workspace, staged))
}

/// The files of a workspace I can see, newest first, optionally whose name contains `name`.
#[tauri::command]
#[specta::specta]
pub async fn files(
    app: State<'_, App>,
    workspace: Id,
    name: Option<String>,
) -> Answer<Vec<FileView>> {
    app.with(|e| {
        let mut list = e.files(workspace, name.as_deref().filter(|n| !n.trim().is_empty()))?;
        list.truncate(MAX_LISTED);
        list.into_iter()
            .map(|file| {
                let state = match file.id {
                    Some(id) => e.file_state(id)?,
                    None => FileState::Ready,
                };
                Ok(FileView { file, state })
            })
            .collect()
    })
}

/// How much of a file's content is here.
#[tauri::command]
#[specta::specta]
pub async fn file_state(app: State<'_, App>, id: Id) -> Answer<FileState> {
    app.with(|e| e.file_state(id))
}

/// Asks the relay for the chunks of a file missing here; a `files` change follows when the
/// last one is in.
#[tauri::command]
#[specta::specta]
pub async fn fetch_file(app: State<'_, App>, id: Id) -> Answer<FileState> {
    app.with(|e| e.fetch_file(id))
}

/// Largest image shown whole in the window.
pub const MAX_SHOWN_IMAGE: u64 = 20 << 20;

/// A PNG or JPEG file's content as a `data:` URL, to show the image whole. Fails with
/// `not_here_yet` while chunks are missing (they are asked for).
#[tauri::command]
#[specta::specta]
pub async fn image_data(app: State<'_, App>, id: Id) -> Answer<String> {
    app.with(|e| {
        let f = e.file(id)?;
        let mime = match f.mime.as_str() {
            m @ ("image/png" | "image/jpeg") => m,
            other => {
                return Err(weft_domain::DomainError::Invalid(format!(
                    "{} is {other}: only PNG and JPEG images are shown here; download it instead",
                    f.name
                ))
                .into());
            }
        };
        if f.size > MAX_SHOWN_IMAGE {
            return Err(weft_domain::DomainError::Invalid(format!(
                "{} is over {} MiB: download it to see it whole",
                f.name,
                MAX_SHOWN_IMAGE >> 20
            ))
            .into());
        }
        let bytes = e.read_file(id)?;
        Ok(format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ))
    })
}

/// Where a saved file went.
#[derive(Debug, Clone, Serialize, Type)]
pub struct Saved {
    pub path: String,
    pub bytes: f64,
}

/// Saves a file's content in the downloads folder (`WEFT_DOWNLOAD_DIR`, else the platform's),
/// beside any file of the same name rather than over it. Fails with `not_here_yet` while
/// chunks are missing (they are asked for: save again on the `files` change).
#[tauri::command]
#[specta::specta]
pub async fn save_file(app: State<'_, App>, handle: tauri::AppHandle, id: Id) -> Answer<Saved> {
    let dir = match std::env::var_os("WEFT_DOWNLOAD_DIR") {
        Some(d) => PathBuf::from(d),
        None => handle
            .path()
            .download_dir()
            .or_else(|_| handle.path().home_dir().map(|h| h.join("Downloads")))
            .map_err(|e| AppError::new("io", format!("no downloads folder: {e}")))?,
    };
    app.with(|e| {
        let f = e.file(id)?;
        let path = free_name(&dir, &f.name);
        let bytes = e.save_file(id, &path)?;
        Ok(Saved {
            path: path.display().to_string(),
            bytes: bytes as f64,
        })
    })
}

/// `dir/name`, or `dir/name (2).ext` and so on when that is taken.
pub fn free_name(dir: &Path, name: &str) -> PathBuf {
    // Only the last component, whatever a record says (the engine refuses such records too).
    let name = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("download");
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    (2..)
        .map(|n| dir.join(format!("{stem} ({n}){ext}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_file_never_replaces_one_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(free_name(dir.path(), "a.pdf"), dir.path().join("a.pdf"));
        std::fs::write(dir.path().join("a.pdf"), b"1").unwrap();
        assert_eq!(free_name(dir.path(), "a.pdf"), dir.path().join("a (2).pdf"));
        std::fs::write(dir.path().join("a (2).pdf"), b"2").unwrap();
        assert_eq!(free_name(dir.path(), "a.pdf"), dir.path().join("a (3).pdf"));
        std::fs::write(dir.path().join(".env"), b"3").unwrap();
        assert_eq!(free_name(dir.path(), ".env"), dir.path().join(".env (2)"));
        // A name that is a path lands in the folder, never beside or above it.
        for evil in ["../../.bashrc", "/etc/cron.d/x", "..", "a/../../b"] {
            assert_eq!(
                free_name(dir.path(), evil).parent(),
                Some(dir.path()),
                "{evil}"
            );
        }
    }

    #[test]
    fn only_dropped_paths_are_taken_and_each_once() {
        let d = Dropped::default();
        let paths: Vec<PathBuf> = (0..MAX_DROPPED + 3)
            .map(|i| PathBuf::from(format!("/tmp/f{i}")))
            .collect();
        d.add(&paths);
        assert_eq!(d.take(Path::new("/etc/passwd")), None);
        assert_eq!(d.take(&paths[0]), None, "the oldest were forgotten");
        let last = paths.last().unwrap();
        assert_eq!(d.take(last).as_ref(), Some(last));
        assert_eq!(d.take(last), None, "a dropped path attaches once");
    }
}
