"""Backend for county urban–rural education communities (see ../shared/DOMAIN.md)."""
