-- Indexes for the read path, so that `ticket show` and `ticket list` cost
-- the same with a million tickets as with a hundred (issue 10). The plan
-- test in src/store/plans.rs fails on any query that scans a growing table.

-- `ticket show`: each article's delivery state, read from the index alone
-- (covering), so the outbox row and its raw mail are never touched.
CREATE INDEX outbox_article ON outbox(article_id, status);
-- `explain --article`: the receipt that brought an article in.
CREATE INDEX receipts_article ON receipts(article_id);
-- `ticket list --state/--customer/--queue`, newest first.
CREATE INDEX tickets_state_id ON tickets(state, id);
CREATE INDEX tickets_customer_id ON tickets(customer_address, id);
CREATE INDEX tickets_queue_id ON tickets(queue_id, id);
-- Held messages (health, metrics, status) and refetch requests.
CREATE INDEX quarantine_status ON quarantine(status, id);
