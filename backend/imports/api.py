"""Bulk import endpoints (placeholder until the import module lands)."""

from backend.extensions import Blueprint

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports", description="Bulk import")
