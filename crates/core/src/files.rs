//! Files: each file's content sealed in chunks under its own key, kept in the data directory's
//! chunk cache and on the relay; its record (name, size, key, chunks, an image's preview) in
//! the document of what it is attached to; and integrations with the log of their runs.
//!
//! Attaching is two steps: [`Engine::stage_file`] seals the content into the cache and returns
//! an [`Attachment`]; sending a message with it (or [`Engine::share_file`]) writes the record
//! and queues the chunks for the relay. Other replicas fetch chunks on demand
//! ([`Engine::fetch_file`]), check each against its address, and put the content back
//! together only when every chunk opens and the whole matches its SHA-256.

use crate::{CoreError, Engine, Result, keys::hex, workspace::parse};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use weft_crypto::{CHUNK, FileKey, open_chunk, seal_chunk};
use weft_domain::{
    Attachment, AuditAction, DomainError, FileMeta, Id, Integration, IntegrationKind,
    IntegrationRun, RunStatus, file::MAX_FILE_BYTES, validate,
};
use weft_sync::DocId;

/// Most runs kept listed per call.
pub const MAX_RUNS_LISTED: usize = 1000;
/// Files staged (sealed, not yet sent) kept at once; the oldest is forgotten past this.
pub const MAX_STAGED: usize = 100;
/// How old an unneeded chunk must be before the sweep at start-up removes it.
pub const SWEEP_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);
/// Longest edge of an image preview, in pixels.
pub const PREVIEW_EDGE: u32 = 320;
/// Largest preview kept in a file's record (it replicates with it); a larger one is dropped.
pub const MAX_PREVIEW_BYTES: usize = 64 * 1024;
/// Largest image a preview is made of (bytes, and pixels once its header is read).
pub const MAX_PREVIEW_SOURCE: u64 = 50 << 20;
pub const MAX_PREVIEW_PIXELS: u64 = 64_000_000;

/// How much of a file's content this replica holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FileState {
    /// Every chunk is here: the content can be read.
    Ready,
    /// Chunks are missing; `asked` when they have been asked of the relay.
    Missing { have: u32, total: u32, asked: bool },
}

/// A file's name: one path component, no separators, no control characters.
fn file_name(name: &str) -> Result<String> {
    let name = validate::name("file name", name)?;
    if let Some(ch) = name
        .chars()
        .find(|c| matches!(c, '/' | '\\') || c.is_control())
    {
        return Err(DomainError::BadChar {
            field: "file name",
            ch,
        }
        .into());
    }
    if name == "." || name == ".." {
        return Err(DomainError::Invalid(format!("{name:?} is not a file name")).into());
    }
    Ok(name)
}

/// A MIME type from a file name's extension (for files read from disk).
pub fn mime_of(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "zip" => "application/zip",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

/// A chunk id as this engine writes it: 64 lowercase hex digits (a SHA-256).
fn is_chunk_id(c: &str) -> bool {
    c.len() == 64 && c.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CoreError + '_ {
    move |source| CoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` whole or not at all: aside, synced, then renamed into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.{:x}.part",
        crate::engine::rand_u128() as u32
    ));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(io_err(path))
}

/// A JPEG preview of an image as a `data:` URL, with the image's size; `None` for anything
/// that is not a PNG or JPEG this can read within its limits.
pub fn preview(mime: &str, bytes: &[u8]) -> Option<(String, u32, u32)> {
    if !matches!(mime, "image/png" | "image/jpeg") || bytes.len() as u64 > MAX_PREVIEW_SOURCE {
        return None;
    }
    // Limits on what decoding may allocate; the header is read first to refuse the
    // oversized before anything is decoded.
    let reader = || {
        let mut r = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .ok()?;
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(MAX_PREVIEW_PIXELS * 4);
        limits.max_image_width = Some(16_384);
        limits.max_image_height = Some(16_384);
        r.limits(limits);
        Some(r)
    };
    let (w, h) = reader()?.into_dimensions().ok()?;
    if u64::from(w) * u64::from(h) > MAX_PREVIEW_PIXELS {
        return None;
    }
    let reader = reader()?;
    let img = reader.decode().ok()?;
    let small = img.thumbnail(PREVIEW_EDGE, PREVIEW_EDGE).to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 75)
        .encode_image(&small)
        .ok()?;
    let url = format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&out)
    );
    (url.len() <= MAX_PREVIEW_BYTES).then_some((url, w, h))
}

impl Engine {
    /// Where a sealed chunk of a log's file lives in the cache.
    fn chunk_path(&self, log: &str, chunk: &str) -> PathBuf {
        self.dir().join("chunks").join(log).join(chunk)
    }

    /// Seals `size` bytes read from `content` into the chunk cache, ready to send with a
    /// message ([`crate::SendOptions::attachments`]) or [`Engine::share_file`]; nothing is
    /// shared before then.
    pub fn stage_file(
        &mut self,
        ws: Id,
        name: &str,
        mime: &str,
        size: u64,
        content: &mut dyn Read,
    ) -> Result<Attachment> {
        self.my_role(ws)?;
        let name = file_name(name)?;
        if size > MAX_FILE_BYTES {
            return Err(DomainError::Invalid(format!(
                "{name} is {size} bytes; files are at most {MAX_FILE_BYTES} bytes"
            ))
            .into());
        }
        let mime = match validate::text("mime type", mime, 200)?.trim() {
            "" => "application/octet-stream".to_owned(),
            m => m.to_owned(),
        };
        let key = FileKey::generate();
        let count = size.div_ceil(CHUNK as u64).max(1);
        let count32 = u32::try_from(count)
            .map_err(|_| DomainError::Invalid(format!("{name} has too many chunks")))?;
        let log = ws.to_string();
        let mut whole = Sha256::new();
        let mut chunks = Vec::with_capacity(count as usize);
        // An image small enough for a preview is kept whole for it.
        let keep = mime.starts_with("image/") && size <= MAX_PREVIEW_SOURCE;
        let mut kept = Vec::new();
        let mut buf = vec![0u8; CHUNK];
        let mut read_total = 0u64;
        for i in 0..count32 {
            let want = (size - read_total).min(CHUNK as u64) as usize;
            content.read_exact(&mut buf[..want]).map_err(|e| {
                DomainError::Invalid(format!("{name}: read {read_total} of {size} bytes: {e}"))
            })?;
            read_total += want as u64;
            let piece = &buf[..want];
            whole.update(piece);
            if keep {
                kept.extend_from_slice(piece);
            }
            let sealed = seal_chunk(&key, i, count32, piece)?;
            let id = sha256_hex(&sealed);
            let path = self.chunk_path(&log, &id);
            if !path.exists() {
                write_atomic(&path, &sealed)?;
            }
            chunks.push(id);
        }
        let mut probe = [0u8; 1];
        if content.read(&mut probe).map_err(io_err(Path::new(&name)))? != 0 {
            return Err(DomainError::Invalid(format!(
                "{name} is longer than the {size} bytes announced"
            ))
            .into());
        }
        let (thumbnail, width, height) = match preview(&mime, &kept) {
            Some((t, w, h)) => (Some(t), Some(w), Some(h)),
            None => (None, None, None),
        };
        let id = self.new_id();
        let f = FileMeta {
            id: None,
            name: name.clone(),
            size,
            mime: mime.clone(),
            hash: hex(&whole.finalize()),
            key: hex(key.bytes()),
            chunks,
            thumbnail,
            width,
            height,
            uploaded_by: self.me.map(|m| m.user),
            created_at: self.now(),
            ..FileMeta::default()
        };
        // Staged in order (ids made in the same millisecond do not sort by it).
        if self.staged.len() >= MAX_STAGED
            && let Some(oldest) = self
                .staged
                .iter()
                .min_by_key(|(_, (n, _, _))| *n)
                .map(|(k, _)| *k)
        {
            self.staged.remove(&oldest);
        }
        let n = self
            .staged
            .values()
            .map(|(n, _, _)| n + 1)
            .max()
            .unwrap_or(0);
        self.staged.insert(id, (n, ws, f));
        Ok(Attachment {
            file: Some(id),
            name,
            size,
            mime,
            record: None,
        })
    }

    /// The records to write for a message's attachments: those staged here (taken on
    /// success by [`Engine::unstage`]); attachments of files already shared are references
    /// and need none. The attachments are rewritten from the records, not trusted.
    pub(crate) fn staged_for(
        &self,
        ws: Id,
        attachments: &mut [Attachment],
    ) -> Result<Vec<(Id, FileMeta)>> {
        let mut out = Vec::new();
        for a in attachments.iter_mut() {
            let Some(id) = a.file else {
                return Err(DomainError::Invalid(format!(
                    "attachment {} names no file: stage it first",
                    a.name
                ))
                .into());
            };
            let f = match self.staged.get(&id) {
                Some((_, w, f)) if *w == ws => {
                    // Its chunks must still be in the cache (a sweep by another process on
                    // this directory, say): a record naming chunks nowhere is never written.
                    let log = ws.to_string();
                    if let Some(c) = f.chunks.iter().find(|c| !self.chunk_path(&log, c).exists()) {
                        return Err(CoreError::NotFound(format!(
                            "{}: its sealed content is gone from this device (chunk {c}); attach it again",
                            f.name
                        )));
                    }
                    out.push((id, f.clone()));
                    f.clone()
                }
                Some((_, _, f)) => {
                    return Err(DomainError::Invalid(format!(
                        "{} was attached in another workspace",
                        f.name
                    ))
                    .into());
                }
                None => {
                    // A file already shared, as a reference: one of this workspace's that I
                    // can see.
                    let (f, log) = self.file_and_log(id)?;
                    if log != ws.to_string() {
                        return Err(CoreError::NotFound(format!("file {id} in this workspace")));
                    }
                    f
                }
            };
            a.name = f.name;
            a.size = f.size;
            a.mime = f.mime;
            a.record = None;
        }
        Ok(out)
    }

    /// Queues the chunks of records about to be written for the relay.
    pub(crate) fn queue_uploads(&mut self, ws: Id, files: &[(Id, FileMeta)]) -> Result<()> {
        // Queued before the records are written: a crash between leaves chunks uploaded that
        // no record names (harmless), never a record whose chunks are not on their way.
        let now = self.now().0;
        let log = ws.to_string();
        self.store.write(|tx| -> Result<()> {
            for (id, f) in files {
                tx.queue_chunks(&log, &id.to_string(), &f.chunks, "upload", now)?;
            }
            Ok(())
        })
    }

    /// Forgets staged files once their records are written.
    pub(crate) fn unstage(&mut self, files: &[(Id, FileMeta)]) {
        for (id, _) in files {
            self.staged.remove(id);
        }
        if !files.is_empty() {
            self.outbox_notify.notify_one();
        }
    }

    /// Forgets a staged file the person took back before sending, with its sealed chunks.
    pub fn discard_staged(&mut self, id: Id) -> Result<()> {
        let Some((_, ws, f)) = self.staged.remove(&id) else {
            return Err(CoreError::NotFound(format!("staged file {id}")));
        };
        let log = ws.to_string();
        for c in &f.chunks {
            let _ = std::fs::remove_file(self.chunk_path(&log, c));
        }
        Ok(())
    }

    /// Shares a staged file with the whole workspace (in no channel): its record goes in the
    /// workspace's document.
    pub fn share_file(&mut self, ws: Id, staged: Id) -> Result<FileMeta> {
        self.my_role(ws)?;
        let mut att = [Attachment {
            file: Some(staged),
            ..Attachment::default()
        }];
        let files = self.staged_for(ws, &mut att)?;
        let Some((id, f)) = files.first().cloned() else {
            return Err(DomainError::Invalid(format!("file {staged} is already shared")).into());
        };
        self.queue_uploads(ws, &files)?;
        self.edit(&DocId::workspace(ws), |e| {
            e.create("files", &id.to_string(), &f)
        })?;
        self.unstage(&files);
        Ok(FileMeta { id: Some(id), ..f }.shown())
    }

    /// A file's record (staged or shared) that I can see, as shown ([`FileMeta::shown`]).
    pub fn file(&self, id: Id) -> Result<FileMeta> {
        Ok(self.file_and_log(id)?.0.shown())
    }

    /// A file attached in a channel is for those who may read the channel.
    fn may_see_file(&self, ws: Id, f: &FileMeta) -> Result<()> {
        if let Some(ch) = f.channel {
            let (_, c) = self.channel(ch)?;
            self.require_channel_access(ws, &c)?;
        }
        Ok(())
    }

    /// A file's record and the log (workspace) it belongs to.
    fn file_and_log(&self, id: Id) -> Result<(FileMeta, String)> {
        if let Some((_, ws, f)) = self.staged.get(&id) {
            return Ok((
                FileMeta {
                    id: Some(id),
                    ..f.clone()
                },
                ws.to_string(),
            ));
        }
        let (log, j, deleted) = self
            .store
            .file(&id.to_string())?
            .ok_or_else(|| CoreError::NotFound(format!("file {id}")))?;
        let ws: Id = log.parse()?;
        self.my_role(ws)?;
        let f: FileMeta = parse(&j)?;
        self.may_see_file(ws, &f)?;
        // A record comes from another replica: its name becomes a path when saved and its
        // chunk ids paths in the cache, so both must be what this device would write.
        if file_name(&f.name).is_err() || !f.chunks.iter().all(|c| is_chunk_id(c)) {
            return Err(CoreError::FileDamaged(format!(
                "file {id}: its record has a name or chunk id that is not well formed"
            )));
        }
        // Gone with the message or task it was attached to (its chunks are swept).
        if deleted {
            return Err(CoreError::NotFound(format!(
                "{}: deleted with the message or task it was attached to",
                f.name
            )));
        }
        Ok((FileMeta { id: Some(id), ..f }, log))
    }

    /// How much of a file's content is here.
    pub fn file_state(&self, id: Id) -> Result<FileState> {
        let (f, log) = self.file_and_log(id)?;
        self.state_of(id, &f, &log)
    }

    fn state_of(&self, id: Id, f: &FileMeta, log: &str) -> Result<FileState> {
        let total = f.chunks.len() as u32;
        let have = f
            .chunks
            .iter()
            .filter(|c| self.chunk_path(log, c).exists())
            .count() as u32;
        if have == total {
            return Ok(FileState::Ready);
        }
        let asked = self.store.file_chunks_queued(&id.to_string(), "fetch")? > 0;
        Ok(FileState::Missing { have, total, asked })
    }

    /// Asks the relay for whatever chunks of a file are missing here (they arrive with the
    /// next sync; a `files` change is sent when the last one is in).
    pub fn fetch_file(&mut self, id: Id) -> Result<FileState> {
        let (f, log) = self.file_and_log(id)?;
        self.ask_missing(id, &f, &log)
    }

    /// Queues a looked-up file's missing chunks for fetching; answers its state.
    fn ask_missing(&mut self, id: Id, f: &FileMeta, log: &str) -> Result<FileState> {
        let missing: Vec<String> = f
            .chunks
            .iter()
            .filter(|c| !self.chunk_path(log, c).exists())
            .cloned()
            .collect();
        if !missing.is_empty() {
            let now = self.now().0;
            self.store
                .write(|tx| tx.queue_chunks(log, &id.to_string(), &missing, "fetch", now))?;
            self.outbox_notify.notify_one();
        }
        self.state_of(id, f, log)
    }

    /// A file's content, put back together from the cache: every chunk opened under the
    /// file's key and the whole checked against its SHA-256. A damaged chunk is dropped from
    /// the cache (and asked for again) and the read fails.
    pub fn read_file(&mut self, id: Id) -> Result<Vec<u8>> {
        let (f, log) = self.file_and_log(id)?;
        if let FileState::Missing { have, total, .. } = self.ask_missing(id, &f, &log)? {
            return Err(CoreError::NotHereYet(format!(
                "{}: {have} of {total} chunks are here; the rest are being fetched",
                f.name
            )));
        }
        let key = crate::keys::unhex::<32>(&f.key)
            .map(FileKey::from_bytes)
            .ok_or_else(|| {
                CoreError::FileDamaged(format!("{}: its key is not 32 bytes of hex", f.name))
            })?;
        let count = f.chunks.len() as u32;
        let mut out = Vec::with_capacity(f.size.min(MAX_FILE_BYTES) as usize);
        for (i, c) in f.chunks.iter().enumerate() {
            let path = self.chunk_path(&log, c);
            let sealed = std::fs::read(&path).map_err(io_err(&path))?;
            let plain = if sha256_hex(&sealed) == *c {
                open_chunk(&key, i as u32, count, &sealed).ok()
            } else {
                None
            };
            let Some(plain) = plain else {
                let _ = std::fs::remove_file(&path);
                self.ask_missing(id, &f, &log)?;
                return Err(CoreError::FileDamaged(format!(
                    "{}: chunk {} of {count} is damaged; it was dropped and is asked for again",
                    f.name,
                    i + 1
                )));
            };
            out.extend_from_slice(&plain);
        }
        if out.len() as u64 != f.size || sha256_hex(&out) != f.hash {
            return Err(CoreError::FileDamaged(format!(
                "{}: the content put together does not match its record",
                f.name
            )));
        }
        Ok(out)
    }

    /// Writes a file's content to `dest` (whole or not at all).
    pub fn save_file(&mut self, id: Id, dest: &Path) -> Result<u64> {
        let bytes = self.read_file(id)?;
        write_atomic(dest, &bytes)?;
        Ok(bytes.len() as u64)
    }

    /// Chunks of a log to upload now, with their bytes: at most `max`, none in `skip`.
    pub fn sync_chunk_uploads(
        &mut self,
        log: [u8; 16],
        max: usize,
        skip: &BTreeSet<[u8; 32]>,
    ) -> Result<Vec<([u8; 32], Vec<u8>)>> {
        let log = Id::from_bytes(log).to_string();
        let mut out = Vec::new();
        for c in self.store.queued_chunks(&log, "upload", max + skip.len())? {
            let Some(id) = crate::keys::unhex::<32>(&c) else {
                self.chunk_done(&log, &c, "upload")?;
                continue;
            };
            if skip.contains(&id) {
                continue;
            }
            let path = self.chunk_path(&log, &c);
            match std::fs::read(&path) {
                // The relay refuses a chunk that is not what its name says: not sent.
                Ok(b) if sha256_hex(&b) != c => {
                    tracing::warn!(chunk = %c, "a chunk to upload is damaged in the cache");
                    self.chunk_done(&log, &c, "upload")?;
                }
                Ok(b) => out.push((id, b)),
                Err(e) => {
                    tracing::warn!(chunk = %c, error = %e, "a chunk to upload is gone from the cache");
                    self.chunk_done(&log, &c, "upload")?;
                }
            }
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    /// The relay holds a chunk.
    pub fn sync_chunk_stored(&mut self, log: [u8; 16], chunk: [u8; 32]) -> Result<()> {
        self.chunk_done(&Id::from_bytes(log).to_string(), &hex(&chunk), "upload")?;
        Ok(())
    }

    /// Chunks of a log to ask for now: at most `max`, none in `skip`.
    pub fn sync_chunk_fetches(
        &mut self,
        log: [u8; 16],
        max: usize,
        skip: &BTreeSet<[u8; 32]>,
    ) -> Result<Vec<[u8; 32]>> {
        let log = Id::from_bytes(log).to_string();
        Ok(self
            .store
            .queued_chunks(&log, "fetch", max + skip.len())?
            .iter()
            .filter_map(|c| crate::keys::unhex::<32>(c))
            .filter(|c| !skip.contains(c))
            .take(max)
            .collect())
    }

    /// A chunk from the relay: kept only if its bytes are what its address says. When it is
    /// a file's last missing chunk, a `files` change tells the UI the file is here.
    pub fn sync_chunk(&mut self, log: [u8; 16], chunk: [u8; 32], data: &[u8]) -> Result<()> {
        let name = hex(&chunk);
        if sha256_hex(data) != name {
            return Err(CoreError::FileDamaged(format!(
                "the relay sent chunk {name} with other bytes; not kept"
            )));
        }
        let ws = Id::from_bytes(log);
        let log = ws.to_string();
        write_atomic(&self.chunk_path(&log, &name), data)?;
        for file in self.chunk_done(&log, &name, "fetch")? {
            if self.store.file_chunks_queued(&file, "fetch")? == 0 {
                self.emit(crate::ChangeEvent {
                    doc: format!("files:{ws}"),
                    entities: vec![("files".into(), file)],
                    remote: true,
                });
            }
        }
        Ok(())
    }

    fn chunk_done(&mut self, log: &str, chunk: &str, state: &str) -> Result<Vec<String>> {
        Ok(self.store.write(|tx| tx.chunk_done(log, chunk, state))?)
    }

    /// Chunks of an account's logs still to upload.
    pub(crate) fn chunks_to_upload(&self, log: &str) -> Result<u64> {
        Ok(self.store.queued_chunk_count(log, "upload")?)
    }

    /// Removes from the chunk cache what no file here needs any more: chunks of files deleted
    /// with their message or task, of files staged and never sent (staging does not outlive
    /// the engine), and pieces of writes cut short; only those written more than
    /// `older_than` ago (another process on this data directory may be staging). Run as the
    /// engine opens with [`SWEEP_AFTER`]; answers the chunks removed and their bytes.
    pub fn sweep_chunks(&self, older_than: std::time::Duration) -> Result<(u64, u64)> {
        let root = self.dir().join("chunks");
        let Ok(logs) = std::fs::read_dir(&root) else {
            return Ok((0, 0));
        };
        let kept = self.store.kept_chunks()?;
        let staged: BTreeSet<(String, &str)> = self
            .staged
            .values()
            .flat_map(|(_, ws, f)| f.chunks.iter().map(move |c| (ws.to_string(), c.as_str())))
            .collect();
        let (mut n, mut bytes) = (0u64, 0u64);
        for log in logs.flatten() {
            let name = log.file_name().to_string_lossy().into_owned();
            let Ok(chunks) = std::fs::read_dir(log.path()) else {
                continue;
            };
            for c in chunks.flatten() {
                let chunk = c.file_name().to_string_lossy().into_owned();
                if kept.contains(&(name.clone(), chunk.clone()))
                    || staged.contains(&(name.clone(), chunk.as_str()))
                {
                    continue;
                }
                let Ok(meta) = c.metadata() else { continue };
                let age = meta.modified().ok().and_then(|m| m.elapsed().ok());
                if age.is_none_or(|a| a < older_than) {
                    continue;
                }
                let size = meta.len();
                if std::fs::remove_file(c.path()).is_ok() {
                    n += 1;
                    bytes += size;
                }
            }
        }
        if n > 0 {
            tracing::info!(chunks = n, bytes, "swept chunks no file needs");
        }
        Ok((n, bytes))
    }

    /// Files of a workspace, newest first, optionally whose name contains `name`.
    pub fn files(&self, ws: Id, name: Option<&str>) -> Result<Vec<FileMeta>> {
        self.my_role(ws)?;
        let needle = name.map(str::to_lowercase);
        let mut out = Vec::new();
        for (k, j) in self.store.entities("files", &ws.to_string())? {
            let mut f: FileMeta = parse(&j)?;
            if needle
                .as_ref()
                .is_some_and(|n| !f.name.to_lowercase().contains(n))
            {
                continue;
            }
            if self.may_see_file(ws, &f).is_err() {
                continue;
            }
            f.id = k.parse().ok();
            out.push(f.shown());
        }
        Ok(out)
    }

    /// Adds an integration (admins). Secrets never go here: only non-secret configuration.
    pub fn add_integration(
        &mut self,
        ws: Id,
        name: &str,
        kind: IntegrationKind,
        channel: Option<Id>,
        config: &str,
    ) -> Result<Integration> {
        self.require_admin(ws)?;
        let name = validate::name("integration name", name)?;
        let parsed: serde_json::Value = serde_json::from_str(config)
            .map_err(|e| DomainError::Invalid(format!("integration config is not JSON: {e}")))?;
        if !parsed.is_object() || config.len() > 16 * 1024 {
            return Err(DomainError::Invalid(
                "integration config is a JSON object of at most 16 KiB".into(),
            )
            .into());
        }
        let i = Integration {
            id: None,
            name,
            kind,
            channel,
            config: parsed.to_string(),
            active: true,
            installed_by: self.me.map(|m| m.user),
            created_at: self.now(),
            ..Integration::default()
        };
        let id = self.new_id();
        self.edit(&DocId::workspace(ws), |e| {
            e.create("integrations", &id.to_string(), &i)
        })?;
        self.audit(
            ws,
            AuditAction::IntegrationAdded,
            format!("integration:{id}"),
            i.name.clone(),
        )?;
        Ok(Integration { id: Some(id), ..i })
    }

    /// Integrations of a workspace.
    pub fn integrations(&self, ws: Id) -> Result<Vec<Integration>> {
        self.my_role(ws)?;
        self.store
            .entities("integrations", &ws.to_string())?
            .into_iter()
            .map(|(k, j)| {
                let mut i: Integration = parse(&j)?;
                i.id = k.parse().ok();
                Ok(i)
            })
            .collect()
    }

    /// Logs one run of an integration (status, records, error).
    pub fn log_integration_run(
        &mut self,
        ws: Id,
        integration: Id,
        kind: &str,
        status: RunStatus,
        records: u64,
        error: &str,
    ) -> Result<IntegrationRun> {
        self.my_role(ws)?;
        if !self
            .integrations(ws)?
            .iter()
            .any(|i| i.id == Some(integration))
        {
            return Err(CoreError::NotFound(format!("integration {integration}")));
        }
        let now = self.now();
        let done = matches!(status, RunStatus::Completed | RunStatus::Failed);
        let run = IntegrationRun {
            integration: Some(integration),
            kind: validate::text("run kind", kind, 100)?,
            status,
            started_at: now,
            completed_at: done.then_some(now),
            records,
            error: validate::text("error", error, validate::MAX_TEXT)?,
        };
        let id = self.new_id();
        let key = integration.to_string();
        self.edit(&DocId::workspace(ws), |e| {
            e.create("integration_runs", &id.to_string(), &run)?;
            e.set("integrations", &key, &["last_used_at"], &now)?;
            e.set("integrations", &key, &["last_error"], &run.error)
        })?;
        Ok(run)
    }

    /// Runs of a workspace's integrations, newest first.
    pub fn integration_runs(&self, ws: Id) -> Result<Vec<IntegrationRun>> {
        self.my_role(ws)?;
        self.store
            .entities("integration_runs", &ws.to_string())?
            .into_iter()
            .take(MAX_RUNS_LISTED)
            .map(|(_, j)| parse(&j))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_domain::{Profile, Timestamp};

    fn engine(dir: &Path) -> (Engine, Id) {
        let mut e = Engine::open(dir).unwrap();
        e.init_profile(Profile {
            display_name: "Ada".into(),
            username: "ada".into(),
            ..Profile::default()
        })
        .unwrap();
        let ws = e.create_workspace("Acme", "").unwrap().id.unwrap();
        (e, ws)
    }

    #[test]
    fn a_forged_record_can_neither_reach_outside_the_cache_nor_take_over_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut e, ws) = engine(tmp.path());
        let body = b"the real handbook".to_vec();
        let staged = e
            .stage_file(ws, "handbook.md", "", body.len() as u64, &mut &body[..])
            .unwrap();
        let real = e.share_file(ws, staged.file.unwrap()).unwrap().id.unwrap();
        let db = tmp.path().join("weft.db");
        assert!(db.exists());

        // Records as another replica might write them: a path for a name, a path for a
        // chunk (which a damaged read would delete), and a claim on the real file's id.
        let forged = [
            (
                e.new_id(),
                FileMeta {
                    name: "../../.bashrc".into(),
                    chunks: vec!["a".repeat(64)],
                    ..FileMeta::default()
                },
            ),
            (
                e.new_id(),
                FileMeta {
                    name: "ok.txt".into(),
                    chunks: vec!["../../weft.db".into()],
                    ..FileMeta::default()
                },
            ),
        ];
        for (id, f) in &forged {
            e.edit(&DocId::workspace(ws), |d| {
                d.create("files", &id.to_string(), f)
            })
            .unwrap();
            let err = e.read_file(*id).unwrap_err();
            assert_eq!(err.kind(), "corrupt", "{err}");
            assert!(matches!(e.file_state(*id), Err(CoreError::FileDamaged(_))));
        }
        assert!(db.exists(), "nothing outside the cache was touched");

        // A second record under the real file's id, deleted: the first holder keeps it.
        let general = e.channels(ws).unwrap()[0].channel.id.unwrap();
        let claim = weft_domain::Message {
            text: "mine now".into(),
            author: e.me.map(|m| m.user),
            attachments: vec![Attachment {
                file: Some(real),
                name: "handbook.md".into(),
                record: Some(FileMeta {
                    name: "handbook.md".into(),
                    deleted_at: Some(Timestamp(1)),
                    ..FileMeta::default()
                }),
                ..Attachment::default()
            }],
            ..weft_domain::Message::default()
        };
        let (_, c) = e.channel(general).unwrap();
        let doc = DocId::channel(ws, general, c.segment);
        let mid = e.new_id().to_string();
        e.edit(&doc, |d| d.create("messages", &mid, &claim))
            .unwrap();
        e.delete_message(mid.parse().unwrap()).unwrap();
        assert_eq!(e.read_file(real).unwrap(), body, "the real file stands");
        assert_eq!(e.files(ws, Some("handbook")).unwrap().len(), 1);
    }

    fn png(w: u32, h: u32, pattern: bool) -> Vec<u8> {
        let img = image::GrayImage::from_fn(w, h, |x, y| {
            image::Luma([if pattern { ((x ^ y) & 0xff) as u8 } else { 0 }])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn previews_are_made_only_of_images_within_their_limits() {
        let small = png(640, 400, true);
        let (url, w, h) = preview("image/png", &small).expect("a preview of a small PNG");
        assert!(url.starts_with("data:image/jpeg;base64,"), "{}", &url[..30]);
        assert!(url.len() <= MAX_PREVIEW_BYTES);
        assert_eq!((w, h), (640, 400));
        assert!(preview("image/gif", &small).is_none(), "only PNG and JPEG");
        assert!(preview("image/png", b"not a picture").is_none());

        // The same picture with trailing bytes (which decoders ignore) past the source limit.
        let mut padded = small.clone();
        padded.resize(MAX_PREVIEW_SOURCE as usize + 1, 0);
        assert!(
            preview("image/png", &padded).is_none(),
            "over the source limit"
        );
        padded.truncate(MAX_PREVIEW_SOURCE as usize);
        assert!(
            preview("image/png", &padded).is_some(),
            "at the source limit"
        );

        // A small file whose header claims more pixels than the limit: refused from the
        // header, before anything is decoded.
        let vast = png(9_000, 8_000, false);
        assert!(vast.len() < 1 << 20, "{} bytes", vast.len());
        assert!(u64::from(9_000u32 * 8_000) > MAX_PREVIEW_PIXELS);
        assert!(
            preview("image/png", &vast).is_none(),
            "over the pixel limit"
        );
    }
}
