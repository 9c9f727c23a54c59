"""The authorization matrix (issue 9): personas × routes × owners' objects, one table."""
