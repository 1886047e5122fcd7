"""Ending the background loops of a process (inbox workers, senders, listeners) the same way."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def stop_task(task: asyncio.Task[Any] | None, grace_seconds: float = 0.0) -> None:
    """Ends ``task``: given ``grace_seconds`` to finish its pass on its own (it was told to stop), then
    cancelled and awaited, its cancellation swallowed."""
    if task is None:
        return
    if grace_seconds > 0:
        _done, pending = await asyncio.wait({task}, timeout=grace_seconds)
        if not pending:
            return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
