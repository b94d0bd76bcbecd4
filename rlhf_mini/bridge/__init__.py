"""Bridges from the course to real training engines (``rlhf-mini export-trl``: TRL)."""
