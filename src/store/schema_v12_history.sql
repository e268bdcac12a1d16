-- postdesk schema, version 12: a ticket's history. Every change of a
-- ticket's fields, whoever made it: a rule (issue 12) today; agents,
-- mail commands and the scheduler (issue 11) write here too. `article_id`
-- is the mail that caused the change, when one did. Values are text as
-- shown to people; NULL means "no value" (or nothing replaced, for an
-- addition such as a tag or an observer).

CREATE TABLE ticket_history (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    article_id  INTEGER REFERENCES articles(id),
    at          TEXT NOT NULL,
    actor_kind  TEXT NOT NULL
        CHECK (actor_kind IN ('rule', 'agent', 'command', 'scheduler', 'system')),
    actor       TEXT NOT NULL,
    field       TEXT NOT NULL,
    old_value   TEXT,
    new_value   TEXT
);
-- `ticket show`: one ticket's history in order.
CREATE INDEX ticket_history_ticket ON ticket_history(ticket_id, id);
