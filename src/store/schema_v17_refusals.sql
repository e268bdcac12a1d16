-- Templated refusals (issue 8, items 3 and 5): a queue may turn away a
-- sender it does not know (`unknown_senders = 'refuse'`) or one quoting a
-- ticket they have no right to (`strangers = 'refuse'`). The mail is kept
-- (raw + receipt `refused`), no ticket is made, and the sender gets the
-- `refusal` mail through the outbox like any other.
ALTER TABLE queues ADD COLUMN unknown_senders TEXT NOT NULL DEFAULT 'create';

-- One row per mail turned away, for the agents: `ticket show` lists the
-- attempts on a ticket someone quoted without a right to it.
-- ticket_id: the ticket quoted without a right to it (never named to the
-- sender); NULL for an unknown sender. outbox_id: the refusal sent; NULL
-- with `held` saying why none was (automatic mail, our own address, a
-- loop cap).
CREATE TABLE refusals (
    id          INTEGER PRIMARY KEY,
    address     TEXT NOT NULL,
    mailbox     TEXT NOT NULL,
    queue       TEXT NOT NULL,
    reason      TEXT NOT NULL,    -- unknown_sender | no_right
    ticket_id   INTEGER REFERENCES tickets(id),
    receipt_id  INTEGER REFERENCES receipts(id),  -- the mail: its raw bytes
    message_id  TEXT,
    subject     TEXT NOT NULL,
    outbox_id   INTEGER REFERENCES outbox(id),
    held        TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX refusals_ticket ON refusals(ticket_id, id);
CREATE INDEX refusals_created ON refusals(created_at);

-- A refusal's outbox row has no ticket (outbox.ticket_id was always
-- nullable); it points to its refusal instead.
ALTER TABLE outbox ADD COLUMN refusal_id INTEGER REFERENCES refusals(id);

-- Refusals count against the loop caps per address like any automatic
-- mail, but belong to no ticket: the table is rebuilt with ticket_id
-- nullable (SQLite cannot drop a NOT NULL in place).
CREATE TABLE automatic_mail_v16 (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER REFERENCES tickets(id),
    address     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
INSERT INTO automatic_mail_v16 (id, ticket_id, address, created_at)
    SELECT id, ticket_id, address, created_at FROM automatic_mail;
DROP TABLE automatic_mail;
ALTER TABLE automatic_mail_v16 RENAME TO automatic_mail;
CREATE INDEX automatic_mail_address ON automatic_mail(address, created_at);
CREATE INDEX automatic_mail_ticket ON automatic_mail(ticket_id, created_at);
