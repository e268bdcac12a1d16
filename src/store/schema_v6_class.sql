-- What kind of sender wrote an inbound article (mail::MailClass:
-- person, auto-reply, read-receipt, delivery-report, feedback-report,
-- challenge-response, list, own-mail); the reason stays in `automatic`.
-- NULL for outbound articles and for articles stored before this version.
ALTER TABLE articles ADD COLUMN class TEXT;
