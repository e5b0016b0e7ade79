"""homeshore serve: the measurement server a contact centre runs next to its collector (the `server` extra)."""
