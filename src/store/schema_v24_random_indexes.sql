-- Two fewer indexes keyed by random strings (issue 10, item 2). At a
-- million messages each index keyed by a hash or a Message-ID is some
-- 14,000–20,000 leaf pages, and every stored mail touches a different
-- one: a batch of 500 dirtied ~500 pages of each, read them through a
-- page cache too small to hold even their interior pages, wrote them to
-- the WAL and again at the checkpoint. Two of them repeated another:
--
-- `receipts_sha`: the receipt for some bytes is found through the raw
-- message those bytes are stored as (`raw_messages.sha256`, unique),
-- then the receipts that refer to it (`receipts_raw`: new raw messages
-- get increasing ids, so this index grows at its end).
-- `articles_message_id`: the copy of a mail is found as the first
-- article its Message-ID came with, which `message_ids` keeps.
DROP INDEX IF EXISTS receipts_sha;
DROP INDEX IF EXISTS articles_message_id;
CREATE INDEX receipts_raw ON receipts(raw_id);
