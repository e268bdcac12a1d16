-- Full-text indexing deferred to the end of a batch (issue 10). FTS5
-- writes its pending terms out as a new segment whenever a statement
-- journal opens while it is part of the transaction — every INSERT into
-- `articles` (it has triggers) and every message's savepoint — so
-- indexing each inbound mail as it is stored made one segment per mail,
-- merged again and again (~9 % of the pipeline's CPU, measured). While a
-- batch writer holds a row here, the triggers leave articles with a
-- greater id alone, and the writer indexes them all in one statement
-- before its commit (`store::search::index_deferred`). The row never
-- outlives the writer's transaction.
CREATE TABLE search_deferral (after INTEGER NOT NULL);

DROP TRIGGER ticket_search_insert;
DROP TRIGGER ticket_search_delete;
DROP TRIGGER ticket_search_update;

CREATE TRIGGER ticket_search_insert AFTER INSERT ON articles
    WHEN NEW.direction = 'in'
        AND NOT EXISTS (SELECT 1 FROM search_deferral WHERE NEW.id > after) BEGIN
    INSERT INTO ticket_search (rowid, subject, body_text)
        VALUES (NEW.id, NEW.subject, NEW.body_text);
END;
CREATE TRIGGER ticket_search_delete AFTER DELETE ON articles
    WHEN OLD.direction = 'in'
        AND NOT EXISTS (SELECT 1 FROM search_deferral WHERE OLD.id > after) BEGIN
    INSERT INTO ticket_search (ticket_search, rowid, subject, body_text)
        VALUES ('delete', OLD.id, OLD.subject, OLD.body_text);
END;
CREATE TRIGGER ticket_search_update AFTER UPDATE OF subject, body_text, direction ON articles
    WHEN NOT EXISTS (SELECT 1 FROM search_deferral WHERE OLD.id > after) BEGIN
    INSERT INTO ticket_search (ticket_search, rowid, subject, body_text)
        SELECT 'delete', OLD.id, OLD.subject, OLD.body_text WHERE OLD.direction = 'in';
    INSERT INTO ticket_search (rowid, subject, body_text)
        SELECT NEW.id, NEW.subject, NEW.body_text WHERE NEW.direction = 'in';
END;
