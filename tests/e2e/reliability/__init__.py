"""Reliability across crashes and processes: several app instances or senders over one Postgres database."""
