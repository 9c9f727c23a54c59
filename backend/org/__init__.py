"""Regions, schools and communities: the county's organisation (DOMAIN.md, 000/001/004)."""
