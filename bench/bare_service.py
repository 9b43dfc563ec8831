"""Reference for bench_api.py: a bare BentoML endpoint that only parses the same JSON body."""

from __future__ import annotations

from typing import Any

import bentoml

from payer_model.api.models import ScoreRequest


@bentoml.service(name="payer_bare", workers=1)
class BareService:
    """Parses a /score body with the API's own pydantic model and answers its size."""

    @bentoml.api(route="/score", input_spec=ScoreRequest)
    def score(self, **request: Any) -> dict[str, Any]:
        return {"customers": len(request["customers"])}
