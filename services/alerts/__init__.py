"""Alert delivery: the agent, its runner and the outbox."""
