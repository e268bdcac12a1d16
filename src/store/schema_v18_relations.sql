-- Relations between tickets (issue 11, items 7 and 8): merges, links and
-- the index a merge needs to move a ticket's Message-IDs.
--
-- merged_into: the ticket this one was merged into (its articles,
-- participants and Message-IDs now live there; mail quoting this ticket's
-- number lands there). The ticket keeps its state: `merged` is not one of
-- the configured lifecycle states, so a merge is a marker of its own.
ALTER TABLE tickets ADD COLUMN merged_into INTEGER REFERENCES tickets(id);

-- A merge moves every Message-ID of a ticket to the other.
CREATE INDEX message_ids_ticket ON message_ids(ticket_id);

-- One row per link, read "other_id is ticket_id's <kind>": `parent` (the
-- other is this one's parent; a child link is stored the other way round),
-- `problem` / `change` (the other is the problem or change this incident
-- belongs to, GLPI's), `related` (no direction). Listed both ways by
-- `ticket show`: the primary key serves this ticket's links, the index the
-- links pointing at it.
CREATE TABLE ticket_links (
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    other_id    INTEGER NOT NULL REFERENCES tickets(id),
    kind        TEXT NOT NULL CHECK (kind IN ('parent', 'problem', 'change', 'related')),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (ticket_id, other_id, kind)
);
CREATE INDEX ticket_links_other ON ticket_links(other_id, kind);
