"""The server's security rules over real HTTP against `oprun webserver` in a
subprocess: a browser's cross-origin POST is refused (CSRF), every response
carries the security headers (no framing, no sniffing, a content policy), and a
query nested past the depth limit is refused before it runs."""

from __future__ import annotations

import json

from oprun.web.schema import MAX_QUERY_DEPTH
from tests.web.test_server import Server, server  # noqa: F401 - the fixture


def test_a_cross_origin_post_is_refused_and_a_same_origin_one_served(server: Server) -> None:  # noqa: F811
    body = json.dumps({"query": "{ __typename }"})
    foreign = server.post(body, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert "Cross-origin request refused" in foreign.json()["errors"][0]["message"]
    assert server.post(body, headers={"origin": "null"}).status_code == 403  # a sandboxed page or a file: URL
    host = server.url.removeprefix("http://")
    same = server.post(body, headers={"origin": f"http://{host}"})
    assert same.status_code == 200 and same.json() == {"data": {"__typename": "Query"}}
    assert server.post(body).status_code == 200  # a script's client sends no Origin


def test_every_response_carries_the_security_headers(server: Server) -> None:  # noqa: F811
    import httpx

    for response in (
        server.post(json.dumps({"query": "{ __typename }"})),
        server.post("not json"),
        httpx.get(f"{server.url}/server_info", timeout=30),
        httpx.get(f"{server.url}/nowhere", timeout=30),
    ):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "access-control-allow-origin" not in response.headers


def _tower(levels: int) -> str:
    """repositoriesOrError's repositories' locations' repositories' ..., `levels` deep."""
    inner = "name"
    for _ in range(levels):
        inner = f"location {{ repositories {{ {inner} }} }}"
    return "{ repositoriesOrError { ... on RepositoryConnection { nodes { " + inner + " } } } }"


def test_a_query_nested_past_the_depth_limit_is_refused(server: Server) -> None:  # noqa: F811
    within = server.post(json.dumps({"query": _tower(3)})).json()
    assert "errors" not in within and within["data"]["repositoriesOrError"]["nodes"]
    refused = server.post(json.dumps({"query": _tower(MAX_QUERY_DEPTH)}))
    assert refused.status_code == 200
    errors = refused.json()["errors"]
    assert any("exceeds maximum operation depth" in e["message"] for e in errors), errors
    assert refused.json().get("data") is None


def test_with_a_token_every_request_but_health_needs_it(tmp_path) -> None:
    import httpx

    from tests.web.test_server import start

    running = start(tmp_path, "--token", "s3cret-token")
    try:
        body = json.dumps({"query": "{ __typename }"})
        refused = running.post(body)
        assert refused.status_code == 401 and "needs its token" in refused.json()["errors"][0]["message"]
        assert running.post(body, headers={"authorization": "Bearer wrong"}).status_code == 401
        assert running.post(body, headers={"authorization": "Bearer s3cret-token"}).json() == {"data": {"__typename": "Query"}}
        assert httpx.get(f"{running.url}/health", timeout=30).status_code == 200  # liveness probes need no token
        assert httpx.get(f"{running.url}/server_info", timeout=30).status_code == 401
        assert httpx.get(f"{running.url}/login?token=nope", timeout=30).status_code == 401
        login = httpx.get(f"{running.url}/login?token=s3cret-token", timeout=30)
        assert login.status_code == 303 and login.headers["location"] == "/graphql"
        cookie = login.headers["set-cookie"].lower()
        assert "oprun_token=s3cret-token" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        with_cookie = running.post(body, headers={"cookie": "oprun_token=s3cret-token"})
        assert with_cookie.json() == {"data": {"__typename": "Query"}}
    finally:
        running.process.kill()
        running.process.wait()


def test_listening_beyond_loopback_without_a_token_is_refused(tmp_path) -> None:
    import os
    import subprocess
    import sys

    from tests.web.test_server import FIXTURE

    env = {**os.environ, "OPRUN_HOME": str(tmp_path / "home")}
    env.pop("OPRUN_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "oprun", "webserver", "-f", FIXTURE, "-h", "0.0.0.0", "-p", "0"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "give a token" in done.stderr and "Traceback" not in done.stderr


def test_the_read_only_flag_refuses_a_launch_over_http(tmp_path) -> None:
    from tests.web.test_graphql_contract import SUBMIT_RUN, launch_variables
    from tests.web.test_server import start

    running = start(tmp_path, "--read-only")
    try:
        variables = launch_variables("hello_job", location="web_server_jobs.py")
        answer = running.post(json.dumps({"query": SUBMIT_RUN, "variables": variables})).json()
        assert answer["data"]["launchPipelineExecution"]["__typename"] == "UnauthorizedError", answer
    finally:
        running.process.kill()
        running.process.wait()
