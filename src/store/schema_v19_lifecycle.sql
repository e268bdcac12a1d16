-- The lifecycle (issue 11, item 2). A customer's reply to a closed ticket
-- of a queue whose policy is reply_to_closed = "new_ticket" opens a new
-- ticket that follows the closed one: `followed_from` is the closed
-- ticket (NULL for every other ticket). The scheduler's validation of
-- resolved tickets reads the state's history and the customers' mail,
-- through the existing indexes (tickets_state_id, ticket_history_ticket,
-- articles_ticket).
ALTER TABLE tickets ADD COLUMN followed_from INTEGER REFERENCES tickets(id);
