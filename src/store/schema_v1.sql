-- postdesk schema, version 1.

CREATE TABLE queues (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    agents_address  TEXT,
    created_at      TEXT NOT NULL
);

-- One row per day: the last counter handed out for ticket numbers.
CREATE TABLE ticket_counters (
    day   TEXT PRIMARY KEY,
    last  INTEGER NOT NULL
);

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY,
    number            TEXT NOT NULL UNIQUE,
    subject           TEXT NOT NULL,
    state             TEXT NOT NULL,
    priority          INTEGER NOT NULL,
    queue_id          INTEGER NOT NULL REFERENCES queues(id),
    customer_address  TEXT NOT NULL,
    customer_name     TEXT,
    support_address   TEXT NOT NULL,
    language          TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX tickets_updated ON tickets(updated_at);

-- Who may see this ticket's mail: the requester and people copied by them.
CREATE TABLE ticket_participants (
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    address    TEXT NOT NULL,
    name       TEXT,
    role       TEXT NOT NULL,          -- requester | cc
    PRIMARY KEY (ticket_id, address)
);

-- Every message as it arrived, byte for byte, so anything can be processed again.
CREATE TABLE raw_messages (
    id           INTEGER PRIMARY KEY,
    sha256       TEXT NOT NULL UNIQUE,
    size         INTEGER NOT NULL,
    content      BLOB NOT NULL,
    received_at  TEXT NOT NULL
);

CREATE TABLE articles (
    id            INTEGER PRIMARY KEY,
    ticket_id     INTEGER NOT NULL REFERENCES tickets(id),
    direction     TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    kind          TEXT NOT NULL,       -- customer | auto_reply | agent_alert
    from_address  TEXT NOT NULL,
    from_name     TEXT,
    to_addresses  TEXT NOT NULL,       -- comma-separated
    cc_addresses  TEXT NOT NULL,
    subject       TEXT NOT NULL,
    body_text     TEXT NOT NULL,
    body_html     TEXT,
    message_id    TEXT,
    in_reply_to   TEXT,
    automatic     TEXT,                -- why the mail counts as machine-made
    raw_id        INTEGER REFERENCES raw_messages(id),
    created_at    TEXT NOT NULL
);
CREATE INDEX articles_ticket ON articles(ticket_id);
CREATE INDEX articles_message_id ON articles(message_id);

-- Every Message-ID seen on a ticket, ours and the customers', for threading.
-- `trusted`: ours, or from mail that was itself authorised; only trusted IDs
-- prove that a later reply comes from someone who received the ticket's mail.
CREATE TABLE message_ids (
    message_id  TEXT PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    article_id  INTEGER REFERENCES articles(id),
    trusted     INTEGER NOT NULL
);

CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY,
    article_id    INTEGER NOT NULL REFERENCES articles(id),
    filename      TEXT NOT NULL,       -- sanitised, safe as a file name
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    path          TEXT NOT NULL        -- relative to storage.data_dir
);
CREATE INDEX attachments_article ON attachments(article_id);

-- Per IMAP mailbox: which UIDs are behind us.
CREATE TABLE mailbox_state (
    mailbox       TEXT PRIMARY KEY,
    -- host/user/folder the ledger belongs to; a change resets the ledger
    source        TEXT NOT NULL,
    uid_validity  INTEGER NOT NULL,
    last_uid      INTEGER NOT NULL,
    updated_at    TEXT NOT NULL
);

-- One row per message taken in, whatever became of it.
CREATE TABLE receipts (
    id            INTEGER PRIMARY KEY,
    source        TEXT NOT NULL,       -- imap | pipe | retry
    mailbox       TEXT NOT NULL,
    imap_source   TEXT,                -- host/user/folder of an IMAP message
    uid_validity  INTEGER,
    uid           INTEGER,
    message_id    TEXT,
    sha256        TEXT NOT NULL,
    raw_id        INTEGER REFERENCES raw_messages(id),
    status        TEXT NOT NULL,       -- created | follow_up | duplicate | quarantined | ignored
    ticket_id     INTEGER REFERENCES tickets(id),
    article_id    INTEGER REFERENCES articles(id),
    error         TEXT,
    received_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX receipts_uid ON receipts(imap_source, uid_validity, uid) WHERE uid IS NOT NULL;
CREATE INDEX receipts_sha ON receipts(sha256);

CREATE TABLE quarantine (
    id            INTEGER PRIMARY KEY,
    receipt_id    INTEGER REFERENCES receipts(id),
    mailbox       TEXT NOT NULL,
    uid_validity  INTEGER,
    uid           INTEGER,
    raw_id        INTEGER REFERENCES raw_messages(id),  -- NULL when too large to fetch
    size          INTEGER NOT NULL,
    message_id    TEXT,
    from_address  TEXT,
    subject       TEXT,
    error         TEXT NOT NULL,
    status        TEXT NOT NULL,       -- held | retried
    attempts      INTEGER NOT NULL DEFAULT 1,
    ticket_id     INTEGER REFERENCES tickets(id),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    ticket_id        INTEGER REFERENCES tickets(id),
    article_id       INTEGER REFERENCES articles(id),
    kind             TEXT NOT NULL,
    envelope_from    TEXT NOT NULL,    -- '' = null sender <>
    recipients       TEXT NOT NULL,    -- comma-separated
    message_id       TEXT NOT NULL,
    raw              BLOB NOT NULL,
    status           TEXT NOT NULL,    -- pending | sent | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL, -- unix seconds
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_recipient_kind ON outbox(recipients, kind, created_at);
