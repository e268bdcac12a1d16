-- Full-text merges off the commit path (issue 10). FTS5 merged its
-- segments inside the writing transaction: with `automerge` 16 and the
-- default `crisismerge` 16, the commit that made a level's sixteenth
-- segment merged the whole level at once — 50–120 ms of a single mail's
-- commit at 5,000 mails, and more the larger the level (one merge of the
-- level holding most of a million mails rewrites most of the index).
-- Now nothing merges while a batch writes: the writer's upkeep
-- (`store::upkeep`), after a batch is committed and answered, merges in
-- steps of a few milliseconds, each its own transaction, levels of 16
-- segments as before (`usermerge`). A level reaches `crisismerge` only
-- when no upkeep ran for 64 batches (writes by commands alone, no
-- daemon); then that commit merges it, as it used to at 16.
INSERT INTO ticket_search (ticket_search, rank) VALUES ('automerge', 0);
INSERT INTO ticket_search (ticket_search, rank) VALUES ('usermerge', 16);
INSERT INTO ticket_search (ticket_search, rank) VALUES ('crisismerge', 64);
