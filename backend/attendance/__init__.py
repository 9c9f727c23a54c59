"""Exchange-teacher attendance: check-ins from phones (the rules arrive with issue 5)."""
