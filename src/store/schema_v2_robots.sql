-- postdesk schema, version 2: safeguards against robots, typos and our own
-- addresses used as a disguise.

-- Numbers issued before the switch to Damm's check digit carry the old
-- weighted digit; that digit is accepted only for these tickets.
ALTER TABLE tickets ADD COLUMN legacy_number INTEGER NOT NULL DEFAULT 0;
UPDATE tickets SET legacy_number = 1;

-- The secret that permutes the daily counter into a ticket number's
-- serial (made once, here; never leaves the database).
CREATE TABLE ticket_number_key (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    key  TEXT NOT NULL
);
INSERT INTO ticket_number_key (id, key) VALUES (1, lower(hex(randomblob(32))));

-- Why an inbound article's sender is not verified (NULL: verified or
-- ours), and what was held back on its account and why.
ALTER TABLE articles ADD COLUMN unverified TEXT;
ALTER TABLE articles ADD COLUMN note TEXT;

-- One row per agents' alert queued: the caps count them per ticket and
-- per sender of the mail that caused them.
CREATE TABLE agent_alerts (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    sender      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX agent_alerts_ticket ON agent_alerts(ticket_id, created_at);
CREATE INDEX agent_alerts_sender ON agent_alerts(sender, created_at);
