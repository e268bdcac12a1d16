-- Where the new part of an inbound article's text ends: a UTF-8 byte
-- offset into body_text, before quoted history and the signature
-- (mail::quote). NULL when all of the text is new. The full text stays in
-- body_text; notifications and agent views show body_text up to here.
ALTER TABLE articles ADD COLUMN new_text_end INTEGER;
