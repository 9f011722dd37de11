//! File metadata (the encrypted, content-addressed bytes come with the relay's blob store) and
//! integrations with the log of their runs.

use crate::{CoreError, Engine, Result, workspace::parse};
use weft_domain::{
    AuditAction, DomainError, FileMeta, Id, Integration, IntegrationKind, IntegrationRun,
    RunStatus, file::MAX_FILE_BYTES, validate,
};
use weft_sync::DocId;

/// Most runs kept listed per call.
pub const MAX_RUNS_LISTED: usize = 1000;

impl Engine {
    /// Records a shared file's metadata. `hash` is the SHA-256 of the content (hex), which is
    /// the blob store's address.
    pub fn add_file(&mut self, ws: Id, mut f: FileMeta) -> Result<FileMeta> {
        self.my_role(ws)?;
        f.name = validate::name("file name", &f.name)?;
        if f.name.contains('/') || f.name.contains('\\') {
            return Err(DomainError::BadChar {
                field: "file name",
                ch: '/',
            }
            .into());
        }
        if f.size > MAX_FILE_BYTES {
            return Err(DomainError::Invalid(format!(
                "{} is {} bytes; files are at most {MAX_FILE_BYTES} bytes",
                f.name, f.size
            ))
            .into());
        }
        if f.hash.len() != 64 || !f.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(
                DomainError::Invalid("a file hash is 64 hex digits (SHA-256)".into()).into(),
            );
        }
        f.mime = validate::text("mime type", &f.mime, 200)?;
        let id = self.new_id();
        f.id = None;
        f.uploaded_by = self.me.map(|m| m.user);
        f.created_at = self.now();
        self.edit(&DocId::workspace(ws), |e| {
            e.create("files", &id.to_string(), &f)
        })?;
        Ok(FileMeta { id: Some(id), ..f })
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
            f.id = k.parse().ok();
            out.push(f);
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
