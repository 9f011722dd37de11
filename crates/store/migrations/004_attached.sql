-- Weft store, schema 4: files attached to tasks as well as to messages.

-- A file's row names what it is attached to (a message or a task); projecting that holder
-- again looks up the files it carried, to drop those it no longer does.
CREATE INDEX files_message ON files(message) WHERE message IS NOT NULL;
CREATE INDEX files_task ON files(task) WHERE task IS NOT NULL;
