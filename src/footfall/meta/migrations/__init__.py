"""Alembic migrations of the metadata schema, shipped inside the package."""
