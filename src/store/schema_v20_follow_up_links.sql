-- Follow-ups as links (issue 11, loose ends of items 2 and 8): the new
-- ticket a customer's reply to a closed ticket opened (reply_to_closed =
-- "new_ticket") is linked to the closed one in `ticket_links` with kind
-- `follow_up` (ticket_id the new ticket, other_id the closed one), so
-- `ticket show` lists it both ways like every other link (`follow_up` on
-- the new ticket, `followed_up_by` on the old one).
--
-- SQLite cannot change a CHECK constraint: the table is rebuilt the way
-- https://www.sqlite.org/lang_altertable.html#otheralter describes (new
-- table, copy, drop, rename, indexes again). No table, view or trigger
-- refers to ticket_links, so the rename rewrites nothing else, and this
-- migration's transaction makes the whole step atomic.
CREATE TABLE ticket_links_v20 (
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    other_id    INTEGER NOT NULL REFERENCES tickets(id),
    kind        TEXT NOT NULL
                CHECK (kind IN ('parent', 'problem', 'change', 'related', 'follow_up')),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (ticket_id, other_id, kind)
);
INSERT INTO ticket_links_v20 (ticket_id, other_id, kind, created_at, created_by)
    SELECT ticket_id, other_id, kind, created_at, created_by FROM ticket_links;
DROP TABLE ticket_links;
ALTER TABLE ticket_links_v20 RENAME TO ticket_links;
CREATE INDEX ticket_links_other ON ticket_links(other_id, kind);

-- The follow-ups migration 19 stored in tickets.followed_from become
-- links, made when the new ticket was (by the lifecycle). The column is
-- kept (SQLite cannot drop a column that is a foreign key) but is no
-- longer written or read: ticket_links is the one record.
INSERT OR IGNORE INTO ticket_links (ticket_id, other_id, kind, created_at, created_by)
    SELECT id, followed_from, 'follow_up', created_at, 'lifecycle'
    FROM tickets WHERE followed_from IS NOT NULL;
