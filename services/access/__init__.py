"""Who may read what: the access middleware, tokens, rate limits and the scoped request filter."""
