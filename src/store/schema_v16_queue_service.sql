-- A queue's default service (issue 8, item 8): a new ticket in the queue
-- gets it when its customer user is entitled to it (their services, or a
-- default one). Removing the service leaves the queue without one.
ALTER TABLE queues ADD COLUMN service_id INTEGER REFERENCES services(id) ON DELETE SET NULL;
CREATE INDEX queues_service ON queues(service_id);
