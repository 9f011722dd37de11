-- Weft store, schema 1.
-- Source of truth: documents (snapshot + changes since). Everything below "read model" is
-- derived from the documents and can be rebuilt from them.

CREATE TABLE local (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE docs (
    doc_id          TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    workspace       TEXT,
    snapshot        BLOB,
    heads           BLOB NOT NULL,
    -- Heads the read model was last projected at; differs from heads only after a crash in
    -- code older than this schema or a rebuild request.
    projected_heads BLOB NOT NULL,
    pending_changes INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX docs_workspace ON docs(workspace);

CREATE TABLE doc_changes (
    seq    INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    hash   BLOB NOT NULL,
    data   BLOB NOT NULL
) STRICT;
CREATE INDEX doc_changes_doc ON doc_changes(doc_id, seq);

CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY,
    doc_id     TEXT NOT NULL,
    hash       BLOB NOT NULL,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Local bookkeeping of timers that fired, so that each fires once.
CREATE TABLE fired (
    key      TEXT PRIMARY KEY,
    fired_at INTEGER NOT NULL
) STRICT;

-- ===== read model =====

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    archived    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    json        TEXT NOT NULL
) STRICT;

CREATE TABLE members (
    workspace  TEXT NOT NULL,
    user       TEXT NOT NULL,
    role       TEXT NOT NULL,
    active     INTEGER NOT NULL,
    joined_at  INTEGER NOT NULL,
    json       TEXT NOT NULL,
    PRIMARY KEY (workspace, user)
) STRICT, WITHOUT ROWID;

CREATE TABLE profiles (
    workspace    TEXT NOT NULL,
    user         TEXT NOT NULL,
    username     TEXT NOT NULL,
    display_name TEXT NOT NULL,
    focus_until  INTEGER,
    json         TEXT NOT NULL,
    PRIMARY KEY (workspace, user)
) STRICT, WITHOUT ROWID;
CREATE INDEX profiles_username ON profiles(workspace, username);

CREATE TABLE channels (
    id         TEXT PRIMARY KEY,
    workspace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    archived   INTEGER NOT NULL,
    segment    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    json       TEXT NOT NULL
) STRICT;
CREATE INDEX channels_workspace ON channels(workspace, name);

CREATE TABLE channel_members (
    channel TEXT NOT NULL,
    user    TEXT NOT NULL,
    PRIMARY KEY (channel, user)
) STRICT, WITHOUT ROWID;
CREATE INDEX channel_members_user ON channel_members(user);

-- rowid is time-ordered (created_at * 1024 + a few bits of the id) so that "newest first"
-- is index order both here and in the FTS index.
CREATE TABLE messages (
    rowid       INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    workspace   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    segment     INTEGER NOT NULL,
    author      TEXT NOT NULL,
    text        TEXT NOT NULL,
    parent      TEXT,
    -- 1 when shown in the channel (top level, or a reply also sent to the channel).
    in_channel  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    edited_at   INTEGER,
    deleted     INTEGER NOT NULL,
    pinned      INTEGER NOT NULL,
    has_file    INTEGER NOT NULL,
    has_link    INTEGER NOT NULL,
    reply_count INTEGER NOT NULL DEFAULT 0,
    last_reply  INTEGER,
    json        TEXT NOT NULL
) STRICT;
CREATE INDEX messages_channel ON messages(channel, in_channel);
CREATE INDEX messages_thread ON messages(parent) WHERE parent IS NOT NULL;
CREATE INDEX messages_author ON messages(workspace, author);
CREATE INDEX messages_pinned ON messages(channel) WHERE pinned = 1;

-- Words with prefix indexes: "bill" finds "billing" (as Slack matches), with posting lists a
-- fraction of a trigram index's size (see ARCHITECTURE.md, "Search").
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, content = 'messages', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4 5 6'
);
-- FTS5 merges index segments inside inserts, a few large merges a local edit would wait for;
-- the engine's upkeep ('merge' in Store::checkpoint) does that work off the edit path instead.
INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', 0);
INSERT INTO messages_fts(messages_fts, rank) VALUES ('crisismerge', 64);

CREATE TABLE files (
    id         TEXT PRIMARY KEY,
    workspace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    mime       TEXT NOT NULL,
    channel    TEXT,
    message    TEXT,
    task       TEXT,
    deleted    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    json       TEXT NOT NULL
) STRICT;
CREATE INDEX files_workspace ON files(workspace, created_at);

CREATE TABLE boards (
    id         TEXT PRIMARY KEY,
    workspace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    archived   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    json       TEXT NOT NULL
) STRICT;
CREATE INDEX boards_workspace ON boards(workspace);

CREATE TABLE columns (
    id        TEXT PRIMARY KEY,
    board     TEXT NOT NULL,
    workspace TEXT NOT NULL,
    name      TEXT NOT NULL,
    pos       TEXT NOT NULL,
    done      INTEGER NOT NULL,
    deleted   INTEGER NOT NULL,
    json      TEXT NOT NULL
) STRICT;
CREATE INDEX columns_board ON columns(board, pos, id);

CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    workspace    TEXT NOT NULL,
    board        TEXT NOT NULL,
    column_id    TEXT NOT NULL,
    pos          TEXT NOT NULL,
    title        TEXT NOT NULL,
    assignee     TEXT,
    priority     TEXT,
    due          INTEGER,
    completed_at INTEGER,
    deleted      INTEGER NOT NULL,
    created_by   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    json         TEXT NOT NULL
) STRICT;
CREATE INDEX tasks_column ON tasks(board, column_id, pos, id);
CREATE INDEX tasks_assignee ON tasks(assignee, due);
CREATE INDEX tasks_due ON tasks(due) WHERE due IS NOT NULL AND deleted = 0;

CREATE TABLE labels (
    id        TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    name      TEXT NOT NULL,
    color     TEXT NOT NULL
) STRICT;

CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    workspace  TEXT NOT NULL,
    title      TEXT NOT NULL,
    start      INTEGER NOT NULL,
    end        INTEGER NOT NULL,
    -- Last possible end of any occurrence (NULL: repeats forever), for range queries.
    until      INTEGER,
    recurring  INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    deleted    INTEGER NOT NULL,
    json       TEXT NOT NULL
) STRICT;
CREATE INDEX events_range ON events(workspace, start);

CREATE TABLE meetings (
    id        TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    channel   TEXT,
    event     TEXT,
    status    TEXT NOT NULL,
    start     INTEGER,
    json      TEXT NOT NULL
) STRICT;

CREATE TABLE meeting_participants (
    meeting   TEXT NOT NULL,
    user      TEXT NOT NULL,
    status    TEXT NOT NULL,
    joined_at INTEGER,
    left_at   INTEGER,
    PRIMARY KEY (meeting, user)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_log (
    id        TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    at        INTEGER NOT NULL,
    actor     TEXT,
    action    TEXT NOT NULL,
    json      TEXT NOT NULL
) STRICT;
CREATE INDEX audit_workspace ON audit_log(workspace, at);

CREATE TABLE integrations (
    id        TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    json      TEXT NOT NULL
) STRICT;

CREATE TABLE integration_runs (
    id          TEXT PRIMARY KEY,
    workspace   TEXT NOT NULL,
    integration TEXT,
    status      TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    json        TEXT NOT NULL
) STRICT;

CREATE TABLE focus_days (
    workspace TEXT NOT NULL,
    user      TEXT NOT NULL,
    day       TEXT NOT NULL,
    minutes   INTEGER NOT NULL,
    PRIMARY KEY (workspace, user, day)
) STRICT, WITHOUT ROWID;

-- Personal document (this user only).
CREATE TABLE personal (
    coll TEXT NOT NULL,
    key  TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (coll, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE focus_sessions (
    id         TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    state      TEXT NOT NULL,
    json       TEXT NOT NULL
) STRICT;
CREATE INDEX focus_started ON focus_sessions(started_at);

CREATE TABLE read_state (
    channel   TEXT PRIMARY KEY,
    last_read INTEGER NOT NULL
) STRICT;

-- Timers: scheduled messages, message reminders (from the personal document), event
-- reminders and due tasks are found by query; this lists the personal ones by time.
CREATE TABLE timers (
    key    TEXT PRIMARY KEY,
    kind   TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    done   INTEGER NOT NULL,
    json   TEXT NOT NULL
) STRICT;
CREATE INDEX timers_due ON timers(done, due_at);

-- The inbox: derived per user from changes and timers.
CREATE TABLE inbox (
    key       TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    workspace TEXT,
    channel   TEXT,
    title     TEXT NOT NULL,
    body      TEXT NOT NULL,
    target    TEXT NOT NULL,
    at        INTEGER NOT NULL,
    read      INTEGER NOT NULL,
    held      INTEGER NOT NULL
) STRICT;
CREATE INDEX inbox_at ON inbox(at);
CREATE INDEX inbox_unread ON inbox(read, channel);

-- Everything but messages in one FTS index: tasks, events, files, people, channels.
CREATE TABLE search_refs (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,
    ref       TEXT NOT NULL,
    workspace TEXT NOT NULL,
    at        INTEGER NOT NULL,
    UNIQUE (kind, ref)
) STRICT;
CREATE VIRTUAL TABLE search_fts USING fts5(title, body, tokenize = 'trigram');
INSERT INTO search_fts(search_fts, rank) VALUES ('automerge', 0);
INSERT INTO search_fts(search_fts, rank) VALUES ('crisismerge', 64);
