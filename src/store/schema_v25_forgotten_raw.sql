-- The hashes of raw messages `db prune` forgot (issue 10, session 12).
-- Since migration 24 the same bytes are recognised through the raw
-- message they are kept as; prune deletes that row and sets references
-- to it to NULL, so without this table an archive imported again after a
-- prune would be taken in again, and a redelivery without a Message-ID
-- would open a second ticket. One row per forgotten message, written by
-- prune only, never by the write path: `receipt_id` is the first receipt
-- of those bytes that made an article, if any.
CREATE TABLE forgotten_raw (
    sha256      TEXT PRIMARY KEY,
    receipt_id  INTEGER REFERENCES receipts(id)
) WITHOUT ROWID;
