-- postdesk schema, version 9: what machines' mail does (issue 7).

-- An internal article is never sent or shown to customers: machines' mail
-- kept on a ticket as a note (bounces, auto-replies, read receipts), and
-- later agents' own notes.
ALTER TABLE articles ADD COLUMN internal INTEGER NOT NULL DEFAULT 0;

-- Addresses our mail bounced from: later mail to them is held. A delay
-- warning does not put an address here; `postdesk address clear` takes
-- it out.
CREATE TABLE bouncing_addresses (
    address      TEXT PRIMARY KEY,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    count        INTEGER NOT NULL,
    last_reason  TEXT NOT NULL,
    -- the ticket the last bounce was attached to
    ticket_id    INTEGER REFERENCES tickets(id)
);

-- Outbox rows held back (status 'held', never claimed by the sender): why.
ALTER TABLE outbox ADD COLUMN held_reason TEXT;
CREATE INDEX outbox_held ON outbox(status, recipients);

-- Automatic mail queued to customers (auto-replies), counted by the loop
-- caps per address and per ticket over several windows.
CREATE TABLE automatic_mail (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    address     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX automatic_mail_address ON automatic_mail(address, created_at);
CREATE INDEX automatic_mail_ticket ON automatic_mail(ticket_id, created_at);
