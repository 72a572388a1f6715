"""OpenAPI description of the collection routes, which are plain Starlette (see routes.py)."""

from __future__ import annotations

from typing import Any

from footfall.collect import link_docs

_ERROR = {"$ref": "#/components/schemas/Error"}
_JSON_ERROR = {"content": {"application/json": {"schema": _ERROR}}}


def _responses(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "400": {"description": "Malformed or invalid body", **_JSON_ERROR},
        "413": {"description": "Body over the size limit", **_JSON_ERROR},
        "503": {
            "description": "The queue is full or unavailable; retry after Retry-After seconds",
            **_JSON_ERROR,
        },
    }
    base.update(extra)
    return base


_PROP_VALUE = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
_REVENUE = {
    "type": "object",
    "properties": {
        "amount": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "currency": {"type": "string", "minLength": 3, "maxLength": 3},
    },
    "required": ["amount", "currency"],
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["error"]},
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                "required": ["code", "message"],
            },
        },
        "required": ["status", "error"],
    },
    "PlausibleEvent": {
        "type": "object",
        "description": "Long or short keys (name|n, url|u, domain|d, referrer|r, props|p, "
        "revenue|$, interactive|i, screen_width|w); unknown keys are ignored. The `engagement` "
        "event carries sd (scroll depth %) and e (engaged ms).",
        "properties": {
            "name": {"type": "string", "maxLength": 120},
            "n": {"type": "string", "maxLength": 120},
            "url": {"type": "string", "format": "uri", "maxLength": 2000},
            "u": {"type": "string", "format": "uri", "maxLength": 2000},
            "domain": {"type": "string", "description": "One site, or several comma-separated"},
            "d": {"type": "string"},
            "referrer": {"type": ["string", "null"]},
            "r": {"type": ["string", "null"]},
            "props": {
                "oneOf": [
                    {"type": "object", "additionalProperties": _PROP_VALUE},
                    {"type": "string", "description": "JSON-encoded object"},
                ]
            },
            "p": {"oneOf": [{"type": "object"}, {"type": "string"}]},
            "revenue": _REVENUE,
            "$": _REVENUE,
            "interactive": {"type": "boolean"},
            "i": {"type": "boolean"},
            "screen_width": {"type": "integer"},
            "w": {"type": "integer"},
            "h": {"type": "integer", "enum": [0, 1], "description": "1 = hash routing"},
            "v": {"description": "tracker version, ignored"},
            "sd": {"type": "number"},
            "e": {"type": "number"},
        },
    },
    "TrackEvent": {
        "type": "object",
        "required": ["event_type"],
        "properties": {
            "event_type": {"type": "string", "description": "`page_view` or a custom name"},
            "user_id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "session_id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "timestamp": {
                "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
                "description": "ISO 8601 or epoch seconds; default: now; at most 5 min ahead",
            },
            "site": {"type": "string", "description": "default: host of metadata.page_url"},
            "metadata": {
                "type": "object",
                "description": "page_url, referrer_url, browser, device, user_agent, ip (ip only "
                "with an ingest API key); other keys are kept as props",
                "additionalProperties": True,
            },
        },
    },
    "TrackConversion": {
        "type": "object",
        "required": ["conversion_type"],
        "properties": {
            "conversion_type": {"type": "string"},
            "user_id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "session_id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "timestamp": {"oneOf": [{"type": "string"}, {"type": "number"}]},
            "site": {"type": "string"},
            "metadata": {
                "type": "object",
                "description": "amount and currency become revenue; other keys are props",
                "additionalProperties": True,
            },
        },
    },
}

_DROPPED_HEADER = {
    "X-Footfall-Dropped": {
        "description": "Why nothing was stored: unknown_site, bot, excluded_ip, excluded_path, "
        "hostname_not_allowed",
        "schema": {"type": "string"},
    }
}

PATHS: dict[str, Any] = {
    "/api/event": {
        "post": {
            "tags": ["collection"],
            "summary": "Record a pageview or custom event (tracker script, Plausible-compatible)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/PlausibleEvent"}},
                    "text/plain": {"schema": {"$ref": "#/components/schemas/PlausibleEvent"}},
                },
            },
            "responses": _responses(
                **{
                    "202": {
                        "description": "Accepted (or dropped: see X-Footfall-Dropped)",
                        "headers": _DROPPED_HEADER,
                        "content": {"text/plain": {"schema": {"type": "string", "enum": ["ok"]}}},
                    }
                }
            ),
        }
    },
    "/api/v1/events": {
        "post": {
            "tags": ["collection"],
            "summary": "Track Event API: a pageview (`page_view`) or custom event from a server",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/TrackEvent"}}
                },
            },
            "responses": _responses(
                **{
                    "201": {
                        "description": "Queued",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "status": {"type": "string"},
                                        "event_id": {"type": "string", "format": "uuid"},
                                    },
                                }
                            }
                        },
                    },
                    "401": {"description": "An Authorization header with a bad key"},
                }
            ),
        }
    },
    "/api/v1/conversions": {
        "post": {
            "tags": ["collection"],
            "summary": "Track Conversion API: a conversion with optional revenue",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/TrackConversion"}}
                },
            },
            "responses": _responses(
                **{
                    "201": {
                        "description": "Queued",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "status": {"type": "string"},
                                        "conversion_id": {"type": "string", "format": "uuid"},
                                    },
                                }
                            }
                        },
                    }
                }
            ),
        }
    },
    "/api/v1/events/batch": {
        "post": {
            "tags": ["collection"],
            "summary": "Up to 10,000 Track Event objects as a JSON array or NDJSON",
            "security": [{"bearer": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "maxItems": 10000,
                            "items": {"$ref": "#/components/schemas/TrackEvent"},
                        }
                    },
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            },
            "responses": _responses(
                **{
                    "200": {
                        "description": "Valid items queued; invalid ones listed by index",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "status": {"type": "string"},
                                        "accepted": {"type": "integer"},
                                        "rejected": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "properties": {
                                                    "index": {"type": "integer"},
                                                    "error": {"type": "string"},
                                                },
                                            },
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "401": {"description": "Missing or invalid API key", **_JSON_ERROR},
                    "403": {"description": "The key lacks the ingest scope", **_JSON_ERROR},
                }
            ),
        }
    },
    "/analytics": {
        "post": {
            "tags": ["collection"],
            "summary": "User analytics API: record an event (click, impression, ...) for a user",
            "parameters": [
                {
                    "name": "timestamp",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "integer"},
                    "description": "epoch seconds",
                },
                {"name": "user", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "event", "in": "query", "required": True, "schema": {"type": "string"}},
                {
                    "name": "site",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "default: FOOTFALL_DEFAULT_SITE",
                },
            ],
            "responses": _responses(**{"204": {"description": "Queued"}}),
        }
    },
    "/js/script.js": {
        "get": {
            "tags": ["collection"],
            "summary": "The tracker script (ETag, cacheable, gzip)",
            "responses": {
                "200": {"description": "JavaScript", "content": {"text/javascript": {}}},
                "304": {"description": "Not modified"},
            },
        }
    },
}


def extend(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the collection routes and their schemas to an OpenAPI document in place."""
    schema.setdefault("paths", {}).update(PATHS)
    schema["paths"].update(link_docs.OPENAPI_PATHS)
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    return schema
