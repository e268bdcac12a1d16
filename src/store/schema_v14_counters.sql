-- Counters instead of counts (issue 10, item 2): `postdesk status` read
-- whole tables (1.4 s at a million tickets); these rows are kept by
-- triggers, so every writer (the pipeline, retention, the synthetic
-- benchmark history, a future one) keeps them right without knowing, and
-- the status reads a handful of rows. Names: `tickets`, `articles`,
-- `receipts.<status>`, `outbox.<status>`.
CREATE TABLE counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO counters (name, value) SELECT 'tickets', COUNT(*) FROM tickets;
INSERT INTO counters (name, value) SELECT 'articles', COUNT(*) FROM articles;
INSERT INTO counters (name, value)
    SELECT 'receipts.' || status, COUNT(*) FROM receipts GROUP BY status;
INSERT INTO counters (name, value)
    SELECT 'outbox.' || status, COUNT(*) FROM outbox GROUP BY status;

CREATE TRIGGER counters_tickets_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO counters (name, value) VALUES ('tickets', 1)
        ON CONFLICT(name) DO UPDATE SET value = value + 1;
END;
CREATE TRIGGER counters_tickets_delete AFTER DELETE ON tickets BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'tickets';
END;
CREATE TRIGGER counters_articles_insert AFTER INSERT ON articles BEGIN
    INSERT INTO counters (name, value) VALUES ('articles', 1)
        ON CONFLICT(name) DO UPDATE SET value = value + 1;
END;
CREATE TRIGGER counters_articles_delete AFTER DELETE ON articles BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'articles';
END;
CREATE TRIGGER counters_receipts_insert AFTER INSERT ON receipts BEGIN
    INSERT INTO counters (name, value) VALUES ('receipts.' || NEW.status, 1)
        ON CONFLICT(name) DO UPDATE SET value = value + 1;
END;
CREATE TRIGGER counters_receipts_status AFTER UPDATE OF status ON receipts
    WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'receipts.' || OLD.status;
    INSERT INTO counters (name, value) VALUES ('receipts.' || NEW.status, 1)
        ON CONFLICT(name) DO UPDATE SET value = value + 1;
END;
CREATE TRIGGER counters_receipts_delete AFTER DELETE ON receipts BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'receipts.' || OLD.status;
END;
CREATE TRIGGER counters_outbox_insert AFTER INSERT ON outbox BEGIN
    INSERT INTO counters (name, value) VALUES ('outbox.' || NEW.status, 1)
        ON CONFLICT(name) DO UPDATE SET value = value + 1;
END;
CREATE TRIGGER counters_outbox_status AFTER UPDATE OF status ON outbox
    WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'outbox.' || OLD.status;
    INSERT INTO counters (name, value) VALUES ('outbox.' || NEW.status, 1)
        ON CONFLICT(name) DO UPDATE SET value = value + 1;
END;
CREATE TRIGGER counters_outbox_delete AFTER DELETE ON outbox BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'outbox.' || OLD.status;
END;
