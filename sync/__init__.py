"""Offline sync: a WatermelonDB-compatible pull/push adapter over the domain."""
