-- postdesk schema, version 11: a ticket's descriptive fields, set by rules
-- (issue 12) and later by agents: its ITIL type, the service it concerns
-- (a hierarchical name such as `Email::Outlook`), its category, and its
-- tags (a set, one row per tag). Existing tickets have none of them.

ALTER TABLE tickets ADD COLUMN ticket_type TEXT
    CHECK (ticket_type IN ('incident', 'request', 'problem', 'change'));
ALTER TABLE tickets ADD COLUMN service TEXT;
ALTER TABLE tickets ADD COLUMN category TEXT;

CREATE TABLE ticket_tags (
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    tag        TEXT NOT NULL,
    PRIMARY KEY (ticket_id, tag)
);
-- `ticket list --tag`: the tickets of one tag, newest first.
CREATE INDEX ticket_tags_tag ON ticket_tags(tag, ticket_id);
