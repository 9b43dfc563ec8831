"""The published OpenAPI document, corrected to what the service really answers.

BentoML derives ``/docs.json`` from the service's IO models but knows nothing of the
:class:`~payer_model.api.guard.ApiGuard` in front of it. :func:`corrected_spec` adds the bearer
security scheme, the guard's answers (401, 408, 413, 415, 429) and the engine's (400 with the
restated problem list, 500 with the request id, 503), so clients and schemathesis read the
contract the server enforces.
"""

from __future__ import annotations

import json
from typing import Any

GUARDED_POSTS = ("/score", "/segment_policy")

_PROBLEM = {
    "type": "object",
    "required": ["rule", "message"],
    "properties": {
        "rule": {"type": "string", "description": "reason code of the broken rule"},
        "message": {"type": "string"},
        "customer_index": {"type": "integer"},
        "table": {"type": "string", "enum": ["invoices", "payments", "reminders"]},
        "row": {"type": "integer"},
        "field": {"description": "the field (null when the problem is the whole body)"},
    },
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "what went wrong and what to do"},
        "detail": {},
        "request_id": {"type": "string"},
        "retry_after_s": {"type": "number"},
    },
}
_BAD_REQUEST = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "detail": {
            "description": "one entry per problem (or a text for a body that is not JSON)",
            "oneOf": [
                {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
                {"type": "string"},
            ],
        },
        "request_id": {"type": "string"},
    },
}
_ANSWERS = {
    "400": ("the body breaks the contract: each problem names the field and rule", "BadRequest"),
    "401": ("missing or invalid API key", "Error"),
    "408": ("the request body stalled", "Error"),
    "413": ("request body too large", "Error"),
    "415": ("the body is not application/json", "Error"),
    "429": ("rate limit of this API key exceeded (see Retry-After)", "Error"),
    "500": ("a bug: the answer carries the request id to report", "Error"),
    "503": ("no model loaded, the audit store cannot record, or overloaded", "Error"),
}


# A valid request (the docs' "Try it out" and schemathesis' explicit examples send it).
EXAMPLE_REQUEST: dict[str, Any] = {
    "as_of": "2025-06-01",
    "customers": [
        {
            "customer_id": "C-EXAMPLE",
            "customer_type": "company",
            "payment_terms_days": 30,
            "invoices": [
                {
                    "invoice_id": f"EX-{i}",
                    "invoice_date": f"2025-0{1 + i}-05",
                    "due_date": f"2025-0{2 + i}-04",
                    "amount": 1000.0 + 250 * i,
                    **({"paid_date": f"2025-0{2 + i}-20"} if i < 3 else {}),
                }
                for i in range(4)
            ],
            "payments": [{"invoice_id": "EX-3", "payment_date": "2025-05-20", "amount": 500.0}],
            "reminders": [{"invoice_id": "EX-3", "sent_date": "2025-05-10", "channel": "email"}],
        }
    ],
}


def corrected_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The BentoML OpenAPI document with the guard's and the engine's answers added."""
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update({"Problem": _PROBLEM, "Error": _ERROR, "BadRequest": _BAD_REQUEST})
    components.setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key from PAYER_API_KEYS / PAYER_API_KEYS_FILE",
    }
    for path in GUARDED_POSTS:
        op = spec.get("paths", {}).get(path, {}).get("post")
        if op is None:
            continue
        op["security"] = [{"bearerAuth": []}]
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            body["example"] = EXAMPLE_REQUEST
        responses = op.setdefault("responses", {})
        responses.pop("404", None)  # the route exists; BentoML lists 404 for every API
        for code, (text, schema) in _ANSWERS.items():
            responses[code] = {
                "description": text,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                },
            }
    return spec


def corrected_body(body: bytes) -> bytes:
    """:func:`corrected_spec` on a JSON body (left as it is when it is not a spec)."""
    try:
        spec = json.loads(body)
    except ValueError:
        return body
    if not isinstance(spec, dict) or "paths" not in spec:
        return body
    return json.dumps(corrected_spec(spec)).encode()
