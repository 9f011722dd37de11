-- Weft store, schema 3: the contents of files.

-- File chunks (sealed, addressed by the SHA-256 of their bytes, hex) on their way to or from
-- a relay. The chunks themselves are files in the data directory's chunk cache; a row here
-- says what is still to do with one: 'upload' (held here, not yet stored on the relay) or
-- 'fetch' (wanted here, asked of the relay). Deleted when done.
CREATE TABLE file_chunks (
    log   TEXT NOT NULL,    -- the relay log (workspace id) the file belongs to
    chunk TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('upload', 'fetch')),
    file  TEXT NOT NULL,    -- the file it is part of
    since INTEGER NOT NULL, -- ms since the epoch, when queued (oldest first)
    PRIMARY KEY (log, chunk, state)
) STRICT;
CREATE INDEX file_chunks_todo ON file_chunks(state, log, since);
CREATE INDEX file_chunks_file ON file_chunks(file, state);
