"""Score concurrent single-declaration requests together.

A scoring call has a fixed cost (building feature columns, a few dozen numpy operations)
that dwarfs the per-item cost. Requests that reach the event loop in the same turn are
scored as one batch on the next turn: no timer, so a lone request waits for nothing,
while under load the fixed cost is shared by every request of the turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from service.scorer import Scorer
from training.schema import DeclarationIn

# A request waiting in the turn: its scorer, declaration, history facts and answer.
_Entry = tuple[Scorer, DeclarationIn, Mapping[str, Any], "asyncio.Future[dict[str, Any]]"]


class DeclarationCoalescer:
    """Collects single declarations per event-loop turn and scores them in one call."""

    def __init__(self, max_batch: int = 64) -> None:
        self.max_batch = max_batch
        self._pending: list[_Entry] = []
        self._scheduled = False

    async def score(
        self,
        scorer: Scorer,
        declaration: DeclarationIn,
        history: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """`history`: the declaration's history facts (None: parties with no history)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending.append((scorer, declaration, history or {}, future))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        self._scheduled = False
        # A reload between two requests of one turn gives two scorers: each scores its own.
        by_scorer: dict[int, list[_Entry]] = {}
        for entry in pending:
            by_scorer.setdefault(id(entry[0]), []).append(entry)
        for entries in by_scorer.values():
            scorer = entries[0][0]
            try:
                results = scorer.score_declarations(
                    [declaration for _, declaration, _, _ in entries],
                    [history for _, _, history, _ in entries],
                )
            except Exception as exc:  # the requests' own handlers turn it into a 500
                for _, _, _, future in entries:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, _, future), result in zip(entries, results, strict=True):
                if not future.done():  # a cancelled request (deadline) no longer waits
                    future.set_result(result)
