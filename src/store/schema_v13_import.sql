-- `postdesk import` (issue 10, item 4): how far each archive has been
-- brought in, committed in the same transaction as the batch it follows,
-- so an interrupted import resumes where its last commit left off.
CREATE TABLE import_progress (
    -- The archive's canonical path.
    source        TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,       -- mbox | maildir
    -- mbox: byte offset of the next message's "From " line.
    position      INTEGER NOT NULL DEFAULT 0,
    -- maildir: the unique name (before ":2,") of the last file taken in,
    -- in byte order of names.
    last_name     TEXT,
    -- Messages taken in from this source so far, over all runs.
    messages      INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL
);
