-- Full-text search over tickets (`postdesk ticket search`, issue 10): an
-- FTS5 index of the subject and text of every inbound article (what
-- customers wrote; our own auto-replies and alerts are boilerplate and
-- would make common words match every ticket). External content: the
-- text stays in `articles` only; the triggers below keep the index in step
-- with every write (the pipeline's, retention's, the benchmark's history),
-- and this migration fills it for the articles already there.
-- unicode61 with diacritics removed: "não" finds "nao", "reçu" "recu".
CREATE VIRTUAL TABLE ticket_search USING fts5(
    subject, body_text,
    content = 'articles', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO ticket_search (rowid, subject, body_text)
    SELECT id, subject, body_text FROM articles WHERE direction = 'in';
-- One segment for what is there: a bulk fill leaves many segments and a
-- merge in progress that every later insert would pay for (measured: the
-- cost of storing a message at a million nearly doubled until it ended).
INSERT INTO ticket_search (ticket_search) VALUES ('optimize');
-- Merge 16 segments of a level at a time instead of 4: each word of new
-- mail is rewritten about half as often on its way up the levels, which
-- keeps the cost of indexing a new mail nearly flat as the index grows
-- (BENCHMARKS.md, "Write path"); a search reads a few more segments.
INSERT INTO ticket_search (ticket_search, rank) VALUES ('automerge', 16);

CREATE TRIGGER ticket_search_insert AFTER INSERT ON articles
    WHEN NEW.direction = 'in' BEGIN
    INSERT INTO ticket_search (rowid, subject, body_text)
        VALUES (NEW.id, NEW.subject, NEW.body_text);
END;
CREATE TRIGGER ticket_search_delete AFTER DELETE ON articles
    WHEN OLD.direction = 'in' BEGIN
    INSERT INTO ticket_search (ticket_search, rowid, subject, body_text)
        VALUES ('delete', OLD.id, OLD.subject, OLD.body_text);
END;
CREATE TRIGGER ticket_search_update AFTER UPDATE OF subject, body_text, direction ON articles BEGIN
    INSERT INTO ticket_search (ticket_search, rowid, subject, body_text)
        SELECT 'delete', OLD.id, OLD.subject, OLD.body_text WHERE OLD.direction = 'in';
    INSERT INTO ticket_search (rowid, subject, body_text)
        SELECT NEW.id, NEW.subject, NEW.body_text WHERE NEW.direction = 'in';
END;
