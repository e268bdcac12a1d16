-- Processing attempts: a row is committed before a message is processed
-- and deleted in the transaction that commits the message's effects. A row
-- still present at the next start means processing was interrupted (the
-- process crashed, was killed, ran out of memory) while it was in hand.
CREATE TABLE processing_attempts (
    message_key   TEXT PRIMARY KEY,    -- imap:<source>/<uidvalidity>/<uid> or sha256:<hex>
    interrupted   INTEGER NOT NULL,    -- attempts begun and never settled
    first_at      TEXT NOT NULL,
    last_at       TEXT NOT NULL
) WITHOUT ROWID;
