-- Weft store, schema 2: syncing through relays.

-- The push (blob id) a queued change went out in; set before it is sent, so a push repeated
-- after a restart carries the same id and the relay stores it once. Deleted when acknowledged.
ALTER TABLE outbox ADD COLUMN blob BLOB;
CREATE INDEX outbox_blob ON outbox(blob);
-- The relay log a queued change goes to: the workspace id in its document id (26 characters
-- after the first ':'), or the id after '!' for the engine's own envelopes (`!<log>:...`).
ALTER TABLE outbox ADD COLUMN log TEXT NOT NULL DEFAULT '';
UPDATE outbox SET log = substr(doc_id, instr(doc_id, ':') + 1, 26);
CREATE INDEX outbox_log ON outbox(log, seq);

-- Relays this device has an account on.
CREATE TABLE accounts (
    id       INTEGER PRIMARY KEY,
    url      TEXT NOT NULL UNIQUE,
    added_at INTEGER NOT NULL
) STRICT;

-- Relay logs this replica follows: a workspace's, or the user's personal one.
CREATE TABLE sync_logs (
    log            TEXT PRIMARY KEY,   -- the workspace id, or the user id for 'personal'
    account        INTEGER NOT NULL REFERENCES accounts(id),
    kind           TEXT NOT NULL,      -- 'workspace' | 'personal'
    cursor         INTEGER NOT NULL DEFAULT 0,
    access_version INTEGER NOT NULL DEFAULT 0,
    access         BLOB,               -- the newest signed access list received
    -- 0 until this replica's whole history of the log has been queued for the relay.
    published      INTEGER NOT NULL DEFAULT 0,
    -- Entries received that this device could not open (no key: e.g. after its removal).
    unreadable     INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Secrets (device keys, workspace keys by epoch), each sealed by the vault, whose key is in
-- the OS keychain or a passphrase-sealed file: never plaintext here.
CREATE TABLE secrets (
    name   TEXT PRIMARY KEY,
    sealed BLOB NOT NULL
) STRICT;

-- Entries that arrived before the key that opens them (an invite box is posted after the
-- history it unlocks); opened again when a key arrives. Bounded per log.
CREATE TABLE held_entries (
    log    TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    author BLOB NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (log, seq)
) STRICT;
