-- Outbox claims: a sender takes a row (owner + lease expiry, unix seconds)
-- in one statement before handing it to SMTP, so two senders sharing one
-- database never send the same row. The claim query itself runs on
-- outbox_due (status, next_attempt_at); this index serves the lease
-- renewal and the release, which look rows up by their claimant.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claim_expires INTEGER;
CREATE INDEX outbox_claimant ON outbox(claimed_by, status);
