"""The DNS transport under every check: the shared resolver, the lean UDP path for
blocklist questions, and per-list politeness (rate and counts)."""
