"""A throwaway Postgres database for one benchmark run, created beside the server's admin database."""

from __future__ import annotations

import uuid

import asyncpg


async def create_database(admin_url: str, prefix: str = "bot_bench") -> str:
    """Creates an empty database and returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(admin_url)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def drop_database(admin_url: str, url: str) -> None:
    connection = await asyncpg.connect(admin_url)
    await connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await connection.close()
