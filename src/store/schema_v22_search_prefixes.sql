-- Prefix search that costs what a word does (issue 10). Without a prefix
-- index FTS5 answers `acc*` by merging the whole list of every word that
-- starts so before it can return the newest match: 52 ms for `acc*`,
-- 1.3 s for `a*` at a million mails. With `prefix` it keeps a list per
-- prefix of 1 to 8 characters, read newest first and stopped like a
-- word's (a longer prefix still merges; few words share one).
--
-- `detail = column`: the index records in which field a word occurs, not
-- where. Nothing here asks for positions — a search is words ANDed, each
-- quoted alone (`store::search::fts_terms`), never a phrase or NEAR — and
-- bm25 counts a field that holds a word once or often alike. It keeps
-- the index 60 % smaller, and the prefix lists cost less to write: FTS5
-- work per stored mail ~33 µs before, ~78 µs with both (measured on 40,000
-- of the benchmark's mails; BENCHMARKS.md, "Prefix search").
--
-- The triggers of migration 21 name the table, not its layout: they stay.
DROP TABLE ticket_search;
CREATE VIRTUAL TABLE ticket_search USING fts5(
    subject, body_text,
    content = 'articles', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2',
    detail = column,
    prefix = '1 2 3 4 5 6 7 8'
);
INSERT INTO ticket_search (rowid, subject, body_text)
    SELECT id, subject, body_text FROM articles WHERE direction = 'in';
-- As in migration 15: one segment for what is there, then merges of 16.
INSERT INTO ticket_search (ticket_search) VALUES ('optimize');
INSERT INTO ticket_search (ticket_search, rank) VALUES ('automerge', 16);
