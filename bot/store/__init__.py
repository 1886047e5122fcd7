"""Persistence: SQLAlchemy Core tables, a unit of work, and migrations, for SQLite and Postgres."""
