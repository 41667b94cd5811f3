from __future__ import annotations

import asyncio
from typing import Any

import pytest

from service.api.coalesce import DeclarationCoalescer
from service.scorer import Scorer
from training.schema import DeclarationIn


def declaration(number: int, description: str = "Мёд", weight: float = 1.0) -> DeclarationIn:
    return DeclarationIn.model_validate(
        {
            "declaration_id": f"RB{number:09d}RU",
            "origin_country": "RU",
            "destination_country": "CN",
            "items": [{"description": description, "net_weight_kg": weight, "quantity": 1}],
        }
    )


class CountingScorer(Scorer):
    """The real scorer, counting how many calls it gets."""

    calls: list[int]

    def score_declarations(self, declarations: Any, histories: Any = None) -> list[dict[str, Any]]:
        self.calls.append(len(declarations))
        return super().score_declarations(declarations, histories)


@pytest.fixture
def counting(tiny_scorer: Scorer) -> CountingScorer:
    scorer = CountingScorer(tiny_scorer.model, tiny_scorer.card, tiny_scorer.policy)
    scorer.calls = []
    return scorer


def test_concurrent_requests_share_one_call_and_get_their_own_results(
    counting: CountingScorer,
) -> None:
    coalescer = DeclarationCoalescer()
    decls = [
        declaration(i, "Бронежилет" if i % 2 else "Мёд", 9.0 if i % 2 else 1.0) for i in range(10)
    ]

    async def run() -> list[dict[str, Any]]:
        return await asyncio.gather(*(coalescer.score(counting, d) for d in decls))

    results = asyncio.run(run())
    assert counting.calls == [10]
    assert [r["declaration_id"] for r in results] == [d.declaration_id for d in decls]
    alone = [counting.score_declaration(d)["parcel_risk_score"] for d in decls]
    assert [r["parcel_risk_score"] for r in results] == alone


def test_batches_are_capped(counting: CountingScorer) -> None:
    coalescer = DeclarationCoalescer(max_batch=4)

    async def run() -> None:
        await asyncio.gather(*(coalescer.score(counting, declaration(i)) for i in range(10)))

    asyncio.run(run())
    assert sum(counting.calls) == 10
    assert max(counting.calls) <= 4


def test_a_lone_request_is_scored_without_waiting_for_company(counting: CountingScorer) -> None:
    coalescer = DeclarationCoalescer()
    result = asyncio.run(coalescer.score(counting, declaration(1)))
    assert counting.calls == [1]
    assert result["declaration_id"] == "RB000000001RU"


def test_a_scoring_failure_reaches_every_waiting_request(tiny_scorer: Scorer) -> None:
    class Failing(Scorer):
        def score_declarations(
            self, declarations: Any, histories: Any = None
        ) -> list[dict[str, Any]]:
            raise RuntimeError("model broke")

    failing = Failing(tiny_scorer.model, tiny_scorer.card)
    coalescer = DeclarationCoalescer()

    async def run() -> list[Any]:
        return await asyncio.gather(
            *(coalescer.score(failing, declaration(i)) for i in range(3)),
            return_exceptions=True,
        )

    outcomes = asyncio.run(run())
    assert all(isinstance(o, RuntimeError) for o in outcomes)
