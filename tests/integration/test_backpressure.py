"""A full queue is answered 503 with Retry-After on every collection route, never a silent 2xx."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

from tests.support.app import running_app

REJECTED = "footfall_events_rejected_total"


def _rejected(endpoint: str) -> float:
    # Counters are process-wide: other tests in this worker may have counted refusals already.
    labels = {"endpoint": endpoint, "status": "503"}
    return REGISTRY.get_sample_value(REJECTED, labels) or 0.0


def test_full_spool_answers_503_with_retry_after(tmp_path: Path) -> None:
    # A spool bound smaller than one event: nothing can be queued, and nothing may be accepted.
    with running_app(tmp_path, spool_max_bytes=64) as (client, app):
        before = {endpoint: _rejected(endpoint) for endpoint in ("api_event", "analytics")}
        event = {"n": "pageview", "u": "https://example.com/", "d": "example.com"}
        answers = [
            client.post("/api/event", json=event),
            client.post("/api/v1/events", json={"event_type": "x", "site": "example.com"}),
            client.post(
                "/api/v1/conversions", json={"conversion_type": "x", "site": "example.com"}
            ),
            client.post("/analytics?timestamp=1779999990&user=1&event=click"),
        ]
        for response in answers:
            assert response.status_code == 503, response.text
            assert int(response.headers["retry-after"]) > 0
            assert response.json()["error"]["code"] == "queue_unavailable"
        metrics = client.get("/metrics").text
        assert f'{REJECTED}{{endpoint="api_event",status="503"}}' in metrics
        assert {endpoint: _rejected(endpoint) - before[endpoint] for endpoint in before} == {
            "api_event": 1.0,
            "analytics": 1.0,
        }
        assert app.state.store.execute("SELECT count(*) FROM events")[0][0] == 0
