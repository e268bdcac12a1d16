-- postdesk schema, version 5: urgency and impact beside the priority (the
-- priority matrix), and whether the priority was set explicitly (then
-- urgency and impact no longer move it). Existing tickets were never
-- classified: urgency and impact 3, which the default matrix maps to the
-- priority 3 they already have.

ALTER TABLE tickets ADD COLUMN urgency INTEGER NOT NULL DEFAULT 3;
ALTER TABLE tickets ADD COLUMN impact INTEGER NOT NULL DEFAULT 3;
ALTER TABLE tickets ADD COLUMN priority_explicit INTEGER NOT NULL DEFAULT 0;
