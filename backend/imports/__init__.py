"""Bulk import of the lists bureaus already keep (schools, teachers, secondments)."""
