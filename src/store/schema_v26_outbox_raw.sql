-- The outbox's mail bytes in a table of their own (issue 10, session 13).
-- An outbox row held its whole rendered mail (2-4 KB, DKIM-signed ones
-- more), so each row filled most of a page: the claim, the lease and the
-- mark that follow every mail each rewrote a page per mail, and a DKIM
-- signature rewrote the row it was written into. The row is now ~150
-- bytes (the claims and marks of a burst share pages) and the bytes are
-- written once, read once by the sender (`outbox::claim`), and deleted
-- with their row. A row without bytes here is one whose mail was never
-- made (`outbox::record_unrendered`, failed).
CREATE TABLE outbox_raw (
    outbox_id  INTEGER PRIMARY KEY REFERENCES outbox(id) ON DELETE CASCADE,
    raw        BLOB NOT NULL
);
INSERT INTO outbox_raw (outbox_id, raw) SELECT id, raw FROM outbox WHERE length(raw) > 0;
ALTER TABLE outbox DROP COLUMN raw;
