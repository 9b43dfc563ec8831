"""The API's foreseen failure (:class:`ApiError`) and JSON-safe values for its answers."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any


class ApiError(Exception):
    """A foreseen failure with its HTTP status and a message safe to return."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        """JSON body of the error response."""
        body: dict[str, Any] = {"error": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


def clean_value(x: Any) -> Any:
    """JSON-safe scalar: NaN/NaT -> None, numpy -> Python (runs per feature: no pandas)."""
    if x is None or type(x).__name__ in ("NaTType", "NAType"):
        return None
    if hasattr(x, "item") and not isinstance(x, str | bytes):
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, datetime):
        return x.date().isoformat()
    if isinstance(x, date):
        return x.isoformat()
    return x
