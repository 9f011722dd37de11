//! Integrations (webhooks, ICS feeds, bots) and the log of their runs.

use crate::{Id, Timestamp, string_enum};
use serde::{Deserialize, Serialize};

string_enum!(
    /// What an integration does.
    IntegrationKind, "integration kind", {
        IncomingWebhook => "incoming_webhook", OutgoingWebhook => "outgoing_webhook",
        IcsFeed => "ics_feed", Bot => "bot", Import => "import"
    }
);

string_enum!(
    /// How a run went.
    RunStatus, "run status", { Pending => "pending", Running => "running",
                               Completed => "completed", Failed => "failed" }
);

/// A configured integration. Secrets are never stored here (they go to the keychain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Integration {
    pub id: Option<Id>,
    pub name: String,
    pub kind: IntegrationKind,
    pub channel: Option<Id>,
    /// Non-secret configuration, as JSON text.
    pub config: String,
    pub active: bool,
    pub installed_by: Option<Id>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub last_error: String,
}

impl Default for Integration {
    fn default() -> Self {
        Integration {
            id: None,
            name: String::new(),
            kind: IntegrationKind::Bot,
            channel: None,
            config: "{}".into(),
            active: true,
            installed_by: None,
            created_at: Timestamp(0),
            last_used_at: None,
            last_error: String::new(),
        }
    }
}

/// One run of an integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct IntegrationRun {
    pub integration: Option<Id>,
    pub kind: String,
    pub status: RunStatus,
    pub started_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub records: u64,
    pub error: String,
}

impl Default for IntegrationRun {
    fn default() -> Self {
        IntegrationRun {
            integration: None,
            kind: String::new(),
            status: RunStatus::Pending,
            started_at: Timestamp(0),
            completed_at: None,
            records: 0,
            error: String::new(),
        }
    }
}
