"""`oprun webserver` as a real process, spoken to over real HTTP (httpx): the
GraphQL endpoint, the health route, and the secure defaults of docs/web.md."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.waiting import wait_for

FIXTURE = str(Path(__file__).parent.parent / "fixtures" / "web_server_jobs.py")

REPOSITORIES_QUERY = """
query GraphQLClientGetJobNames {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } pipelines { name } } }
    ... on PythonError { message }
  }
}
"""


class Server:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    def post(self, body: bytes | str, **kw: object) -> httpx.Response:
        headers = {"content-type": "application/json", **kw.pop("headers", {})}  # type: ignore[dict-item]
        return httpx.post(f"{self.url}/graphql", content=body, headers=headers, timeout=30, **kw)  # type: ignore[arg-type]


def start(tmp_path: Path, *args: str) -> Server:
    out = tmp_path / "server.out"
    err = tmp_path / "server.err"
    env = {**os.environ, "OPRUN_HOME": str(tmp_path / "home")}
    env.pop("DAGSTER_HOME", None)
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "oprun", "webserver", "-f", FIXTURE, "-p", "0", *args], stdout=stdout, stderr=stderr, env=env
        )

    def bound() -> str | None:
        assert process.poll() is None, err.read_text()
        for line in out.read_text().splitlines():
            if line.startswith("Serving oprun on "):
                return line.removeprefix("Serving oprun on ")
        return None

    return Server(process, wait_for(bound, 30), err)


@pytest.fixture
def server(tmp_path: Path):
    running = start(tmp_path)
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def test_answers_graphql_over_post(server: Server) -> None:
    response = server.post('{"query": "{ __typename }"}')
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


def test_answers_the_client_repositories_query(server: Server) -> None:
    import json

    response = server.post(json.dumps({"query": REPOSITORIES_QUERY}))
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    # The shape the client reads (graphql-client-contract.md §3.1).
    result = body["data"]["repositoriesOrError"]
    assert result["__typename"] == "RepositoryConnection", result
    jobs = [(node["location"]["name"], pipeline["name"]) for node in result["nodes"] for pipeline in node["pipelines"]]
    assert ("web_server_jobs.py", "hello_job") in jobs


def test_server_info(server: Server) -> None:
    for path in ("/server_info", "/health"):
        response = httpx.get(server.url + path)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
        assert "oprun_version" in response.json()
        assert "access-control-allow-origin" not in response.headers


def test_get_graphql_is_405_outside_dev(server: Server) -> None:
    response = httpx.get(f"{server.url}/graphql", headers={"accept": "text/html"})
    assert response.status_code == 405
    assert "oprun dev" in response.json()["errors"][0]["message"]
    # no query over GET either
    assert httpx.get(f"{server.url}/graphql", params={"query": "{ __typename }"}).status_code == 405


def test_client_mistakes_are_4xx_graphql_errors(server: Server) -> None:
    for body in ("{not json", "[1, 2]", '{"variables": {}}', '{"query": "{ __typename }", "variables": [1]}'):
        response = server.post(body)
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["message"]
    # a query the schema rejects: GraphQL errors, not a 500
    response = server.post('{"query": "{ noSuchField }"}')
    assert response.status_code in (200, 400)
    assert response.json()["errors"]
    # not JSON at all (what a cross-site form would send)
    response = httpx.post(f"{server.url}/graphql", content="query={__typename}", headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert response.json()["errors"]


def test_wrong_host_header_is_refused(server: Server) -> None:
    response = server.post('{"query": "{ __typename }"}', headers={"host": "attacker.example"})
    assert response.status_code == 400
    assert "Host" in response.json()["errors"][0]["message"]
    port = server.url.rsplit(":", 1)[1]
    assert server.post('{"query": "{ __typename }"}', headers={"host": f"localhost:{port}"}).status_code == 200


def test_oversize_body_is_413(server: Server) -> None:
    big = '{"query": "{ __typename }", "pad": "' + "x" * (11 * 1024 * 1024) + '"}'
    response = server.post(big)
    assert response.status_code == 413
    assert response.json()["errors"]


def test_sigterm_stops_with_status_0(server: Server) -> None:
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5


def test_path_prefix_and_allowed_host(tmp_path: Path) -> None:
    running = start(tmp_path, "--path-prefix", "/oprun/", "--allowed-host", "oprun.internal")
    try:
        ok = httpx.post(f"{running.url}/oprun/graphql", json={"query": "{ __typename }"}, headers={"host": "oprun.internal"})
        assert ok.json() == {"data": {"__typename": "Query"}}
        assert httpx.post(f"{running.url}/graphql", json={"query": "{ __typename }"}).status_code == 404
        assert httpx.get(f"{running.url}/oprun/server_info").json()["status"] == "ok"
    finally:
        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(timeout=10) == 0


def test_a_failing_resolver_is_a_graphql_error_not_a_500(tmp_path: Path) -> None:
    """In process, with a stand-in schema whose resolver raises."""
    import asyncio

    import strawberry

    from oprun.daemon.base import Workspace
    from oprun.instance import DagsterInstance
    from oprun.web.app import create_app
    from oprun.web.context import WebContext

    @strawberry.type
    class Query:
        @strawberry.field
        def boom(self) -> str:
            raise RuntimeError("resolver failed")

        @strawberry.field
        def dev(self, info: strawberry.Info) -> bool:
            return bool(info.context.dev)

    async def ask(app: object, query: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.post("/graphql", json={"query": query})

    instance = DagsterInstance.from_directory(str(tmp_path))
    try:
        context = WebContext(instance=instance, workspace=Workspace([]), dev=False)
        app = create_app(context, schema=strawberry.Schema(query=Query))
        response = asyncio.run(ask(app, "{ boom dev }"))
        assert response.status_code == 200
        body = response.json()
        assert body["errors"][0]["message"] == "resolver failed"
        assert body["errors"][0]["path"] == ["boom"]
        assert asyncio.run(ask(app, "{ dev }")).json() == {"data": {"dev": False}}
    finally:
        instance.dispose()


def test_a_storage_that_cannot_be_opened_stops_the_server_with_a_clear_error(tmp_path: Path) -> None:
    # The storage opens after the port is bound: its failure still ends the
    # command (status 2) with oprun's message, the password masked, no traceback.
    home = tmp_path / "home"
    home.mkdir()
    (home / "oprun.yaml").write_text(
        "storage:\n  postgres:\n    postgres_db:\n      username: u\n      password: hunter2\n"
        "      hostname: 127.0.0.1\n      port: 1\n      db_name: x\n"
    )
    env = {**os.environ, "OPRUN_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    done = subprocess.run(
        [sys.executable, "-m", "oprun", "webserver", "-f", FIXTURE, "-p", "0"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "Cannot connect to PostgreSQL at 127.0.0.1:1" in done.stderr
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr


def test_a_bad_instance_config_file_stops_the_server_before_it_binds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "oprun.yaml").write_text("storage:\n  sqlite:\n    base_dirr: here\n")
    env = {**os.environ, "OPRUN_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    done = subprocess.run(
        [sys.executable, "-m", "oprun", "webserver", "-f", FIXTURE, "-p", "0"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2 and "Serving" not in done.stdout
    assert "base_dirr" in done.stderr and "Traceback" not in done.stderr


def test_a_clients_mistake_is_answered_not_logged_by_the_server(server: Server) -> None:
    response = server.post('{"query": "{ noSuchField }"}')
    assert "noSuchField" in response.json()["errors"][0]["message"]
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=30)
    assert "noSuchField" not in server.log.read_text()
