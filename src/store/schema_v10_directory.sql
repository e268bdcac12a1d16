-- postdesk schema, version 10: who is who (issue 8). Agents, groups,
-- customers, customer users and services; the queues table (one row per
-- queue already) learns what the directory says about a queue; tickets
-- learn their assigned agent and group. Addresses and domains are stored
-- in lower case. Portable SQL: no SQLite-only types or statements.

CREATE TABLE user_groups (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    comment     TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE agents (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    language    TEXT,
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL
);

-- An agent's addresses; `rank` 0 is where notifications go.
CREATE TABLE agent_addresses (
    address   TEXT PRIMARY KEY,
    agent_id  INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    rank      INTEGER NOT NULL
);
CREATE INDEX agent_addresses_agent ON agent_addresses(agent_id, rank);

CREATE TABLE agent_group_access (
    agent_id  INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    group_id  INTEGER NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    access    TEXT NOT NULL CHECK (access IN ('ro', 'rw')),
    PRIMARY KEY (agent_id, group_id)
);
CREATE INDEX agent_group_access_group ON agent_group_access(group_id, access);

-- A queue the directory manages (`in_directory` = 1); a queue only named
-- in the configuration keeps in_directory = 0 and the config's defaults.
-- notify: 'config' (the [[queue]] agents_address), 'group' (the rw
-- members of the queue's group) or an address. strangers: 'system'
-- (system.stranger_follow_up), 'new_ticket' or 'record'.
ALTER TABLE queues ADD COLUMN in_directory INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN group_id INTEGER REFERENCES user_groups(id);
ALTER TABLE queues ADD COLUMN support_address TEXT;
ALTER TABLE queues ADD COLUMN comment_address TEXT;
ALTER TABLE queues ADD COLUMN notify TEXT NOT NULL DEFAULT 'config';
ALTER TABLE queues ADD COLUMN cc_observers INTEGER NOT NULL DEFAULT 1;
ALTER TABLE queues ADD COLUMN strangers TEXT NOT NULL DEFAULT 'system';
CREATE INDEX queues_group ON queues(group_id);

CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE customer_domains (
    domain       TEXT PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE
);
CREATE INDEX customer_domains_customer ON customer_domains(customer_id);

-- `login` is the first address, which names the customer user.
CREATE TABLE customer_users (
    id           INTEGER PRIMARY KEY,
    login        TEXT NOT NULL UNIQUE,
    name         TEXT,
    language     TEXT,
    customer_id  INTEGER REFERENCES customers(id),
    created_at   TEXT NOT NULL
);
CREATE INDEX customer_users_customer ON customer_users(customer_id);

CREATE TABLE customer_user_addresses (
    address           TEXT PRIMARY KEY,
    customer_user_id  INTEGER NOT NULL REFERENCES customer_users(id) ON DELETE CASCADE,
    rank              INTEGER NOT NULL
);
CREATE INDEX customer_user_addresses_user ON customer_user_addresses(customer_user_id, rank);

CREATE TABLE customer_user_group_access (
    customer_user_id  INTEGER NOT NULL REFERENCES customer_users(id) ON DELETE CASCADE,
    group_id          INTEGER NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    access            TEXT NOT NULL CHECK (access IN ('ro', 'rw')),
    PRIMARY KEY (customer_user_id, group_id)
);
CREATE INDEX customer_user_group_access_group ON customer_user_group_access(group_id);

-- `is_default`: every customer user has the service.
CREATE TABLE services (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);

CREATE TABLE customer_user_services (
    customer_user_id  INTEGER NOT NULL REFERENCES customer_users(id) ON DELETE CASCADE,
    service_id        INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    PRIMARY KEY (customer_user_id, service_id)
);
CREATE INDEX customer_user_services_service ON customer_user_services(service_id);

-- Ticket actors (GLPI): requesters and observers stay in
-- ticket_participants (role 'requester', 'observer', or 'cc' for
-- participants recorded before this version); the assigned agent and
-- group are the ticket's.
ALTER TABLE tickets ADD COLUMN assigned_agent_id INTEGER REFERENCES agents(id);
ALTER TABLE tickets ADD COLUMN assigned_group_id INTEGER REFERENCES user_groups(id);
CREATE INDEX tickets_assigned_agent ON tickets(assigned_agent_id, id);
CREATE INDEX tickets_assigned_group ON tickets(assigned_group_id, id);
