"""OpenAPI description of the tracked-link routes (collect.links), merged by collect.openapi."""

from __future__ import annotations

from typing import Any


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


_CODE = _path_param("code", "The link's short code")
_TOKEN = _path_param("token", "Recipient token `<recipient>.<signature>`")
_REDIRECT = {
    "302": {"description": "To the stored target (Location)"},
    "404": {"description": "Unknown or archived code: a friendly HTML page"},
}
_GIF = {"200": {"description": "A 43-byte transparent GIF", "content": {"image/gif": {}}}}

# OpenAPI description of these plain Starlette routes (merged by collect.openapi.extend).
OPENAPI_PATHS: dict[str, Any] = {
    "/u/{code}": {
        "get": {
            "tags": ["links"],
            "summary": "Tracked link: 302 to its target, records a click",
            "parameters": [_CODE],
            "responses": _REDIRECT,
        }
    },
    "/u/{code}/{token}": {
        "get": {
            "tags": ["links"],
            "summary": "Tracked link for one recipient (an invalid signature records none)",
            "parameters": [_CODE, _TOKEN],
            "responses": _REDIRECT,
        }
    },
    "/r/{campaign_code}.gif": {
        "get": {
            "tags": ["links"],
            "summary": "E-mail open pixel (always served, no-store), records an open",
            "parameters": [_path_param("campaign_code", "The campaign's code")],
            "responses": _GIF,
        }
    },
    "/r/{campaign_code}/{token}.gif": {
        "get": {
            "tags": ["links"],
            "summary": "E-mail open pixel for one recipient",
            "parameters": [_path_param("campaign_code", "The campaign's code"), _TOKEN],
            "responses": _GIF,
        }
    },
    "/track/{id}": {
        "get": {
            "tags": ["o7tracker"],
            "summary": "o7tracker campaign click: 302 to its redirect_url",
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                },
                {
                    "name": "platform",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "example": "Android"},
                    "description": "Android, IPhone, WindowsPhone...; default: from User-Agent",
                },
            ],
            "responses": {
                "302": {"description": "To the campaign's redirect_url"},
                "404": {"description": "Unknown campaign id"},
            },
        }
    },
}
