"""In-process sharing: one producer task, many consumers that may come and go.

A :class:`Broadcast` runs an async generator of events as its own asyncio task and
keeps every event; each consumer iterates from the first event (late joiners get the
log so far). Cancelling a consumer never touches the producer, so a browser that
disconnects does not stop a build others wait for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from builders.events import BuildEvent, Phase


class Broadcast:
    """Runs ``source`` once and replays/fans out its events to every subscriber."""

    def __init__(self, source: AsyncIterator[BuildEvent]) -> None:
        self.events: list[BuildEvent] = []
        self.done = False
        self._changed = asyncio.Condition()
        self.task = asyncio.ensure_future(self._pump(source))

    async def _pump(self, source: AsyncIterator[BuildEvent]) -> None:
        try:
            async for event in source:
                await self._publish(event)
                if event.terminal:
                    break
        except asyncio.CancelledError:
            await self._publish(BuildEvent(Phase.FAILED, "Build cancelled (launcher shutting down)"))
            raise
        except Exception as err:  # any bug must still end every stream with a readable event
            await self._publish(BuildEvent(Phase.FAILED, f"Internal builder error: {err!r}"))
        finally:
            if not self.done:
                await self._publish(BuildEvent(Phase.FAILED, "Build ended without a result"))
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _publish(self, event: BuildEvent) -> None:
        async with self._changed:
            if self.done:
                return
            self.events.append(event)
            if event.terminal:
                self.done = True
            self._changed.notify_all()

    async def subscribe(self) -> AsyncIterator[BuildEvent]:
        """Every event from the first, then live ones, until a terminal event."""
        index = 0
        while True:
            async with self._changed:
                while index >= len(self.events) and not self.done:
                    await self._changed.wait()
                batch = self.events[index:]
            for event in batch:
                yield event
            index += len(batch)
            if self.done and index >= len(self.events):
                return
