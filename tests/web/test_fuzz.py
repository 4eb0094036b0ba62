"""Fuzzing the GraphQL API of a real `oprun webserver` with bad inputs: whatever
a client sends, the answer is JSON, never a 500, and never an internal error.

Three sources of requests, all deterministic (hypothesis derandomized, no
example database) so CI is stable:

- schemathesis, from the server's introspected schema: every root query and
  mutation with generated arguments, valid ones and (negative mode) ones of the
  wrong type;
- a generator of our own over the same introspection: a random root field with
  hostile argument values (10**400, 1e400, 20,000-character and unpaired
  surrogate strings, deep lists and objects, wrong types, null), inline and as
  variables;
- fixed hostile documents and bodies (deep selections, alias floods, fragment
  cycles, a JSON body nested 100,000 deep, a 5,000-digit number), and compute
  log keys that climb out of the run's log folder.

An answer is internal when it is a 5xx, is not a JSON object, has a top-level
error raised inside a resolver (an error with a `path`: a user's mistake is a
union member, DESIGN.md) or an error message that is a traceback or "Internal
server error", or carries a `PythonError` whose message is a bare Python error
(`TypeError: ...`, `KeyError: ...`): the marks of a bug, not of bad input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from tests.web.test_server import Server, start

WEB_JOBS = str(Path(__file__).parents[1] / "fixtures" / "web_jobs.py")

FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # failures are collected, not raised: nothing to shrink
)

# Python's own exception classes at the start of a message: an unexpected
# exception surfaced as a PythonError or an error message.
_BARE_PYTHON_ERROR = re.compile(
    r"^(TypeError|AttributeError|KeyError|IndexError|NameError|UnboundLocalError|AssertionError|RecursionError|"
    r"ZeroDivisionError|NotImplementedError|OverflowError|ValueError|UnicodeEncodeError|UnicodeDecodeError|"
    r"OperationalError|IntegrityError|ProgrammingError|sqlalchemy\.\S+)\b"
)
_INTERNAL_TEXT = ("Traceback (most recent call last)", "Internal server error")


def _strings(value: Any) -> list[tuple[str, str]]:
    """(key, string) for every string in a JSON value, with the key it is under."""
    found: list[tuple[str, str]] = []

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str):
            found.append((key, node))

    walk(value, "")
    return found


def internal_problem(status: int, text: str) -> str | None:
    """Why this answer shows an internal error, or None when it is a proper answer."""
    if status >= 500:
        return f"HTTP {status}: {text[:300]}"
    try:
        body = json.loads(text)
    except ValueError:
        return f"not JSON (HTTP {status}): {text[:300]}"
    if not isinstance(body, dict):
        return f"not a JSON object: {text[:300]}"
    for error in body.get("errors") or ():
        message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
        if isinstance(error, dict) and error.get("path"):
            return f"a resolver raised (error with a path): {message[:300]} at {error['path']}"
        if any(mark in message for mark in _INTERNAL_TEXT) or _BARE_PYTHON_ERROR.match(message):
            return f"internal error message: {message[:300]}"
    for key, value in _strings(body.get("data")):
        if any(mark in value for mark in _INTERNAL_TEXT):
            return f"internal text under {key!r}: {value[:300]}"
        if key == "message" and _BARE_PYTHON_ERROR.match(value):
            return f"a bare Python error as a message: {value[:300]}"
    return None


# ---------- the server ----------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    running = start(tmp_path_factory.mktemp("fuzz"), "-f", WEB_JOBS)
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def _post(server: Server, document: dict[str, Any] | str) -> httpx.Response:
    body = document if isinstance(document, str) else json.dumps(document)
    return server.post(body)


def _assert_no_problems(problems: list[str], server: Server) -> None:
    assert server.process.poll() is None, "the server died:\n" + server.log.read_text()[-3000:]
    assert not problems, f"{len(problems)} internal answers, e.g.:\n" + "\n".join(problems[:15])


# ---------- schemathesis ----------


def test_schemathesis_every_root_field(server: Server) -> None:
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.graphql.from_url(f"{server.url}/graphql")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    problems: list[str] = []
    for operation in operations:
        for mode, examples in ((GenerationMode.POSITIVE, 5), (GenerationMode.NEGATIVE, 4)):
            try:
                strategy = operation.as_strategy(generation_mode=mode)
            except Exception as exc:  # e.g. no negative case exists for an operation without arguments
                if "Impossible to generate negative" in str(exc) or type(exc).__name__ == "SkipTest":
                    continue
                raise
            _probe(strategy, examples, operation.label, problems)()
    _assert_no_problems(problems, server)


def _probe(strategy: Any, examples: int, label: str, problems: list[str]) -> Any:
    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(case=strategy)
    def probe(case: Any) -> None:
        response = case.call(timeout=60)
        problem = internal_problem(response.status_code, response.text)
        if problem:
            problems.append(f"{label}: {problem}\n  query: {str(case.body)[:400]}")

    return probe


# ---------- our own hostile generator ----------

INTROSPECTION = """
query Roots {
  __schema {
    queryType { name } mutationType { name }
    types {
      kind name
      possibleTypes { name }
      inputFields { name type { ...T } }
      fields { name args { name type { ...T } } type { ...T } }
    }
  }
}
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
"""

BIG_INT = "1" + "0" * 400
LONG = "x" * 20_000


def _nested_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _nested_object(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


# Hostile JSON values for variables, and the same as GraphQL literals.
HOSTILE_VALUES: list[Any] = [
    None, 0, -1, 2**31, 2**63, -(2**63) - 1, 10**400, 1e308, -0.0, True, False, "", " ", LONG, "\ud800", "\u0000",
    "../../etc/passwd", "'; DROP TABLE runs; --", "%s%n{0}", "NOT_AN_ENUM", "QUEUED", "*", "a*b+", "__repository__",
    "web_jobs.py", "hello_job", [], [None], [1, "a", {}], _nested_list(200), {}, {"a": 1}, _nested_object(200),
    {"path": ["a"]}, [{"key": "k", "value": LONG}], {"ops": {"x": {"config": 10**400}}}, "ops: [unclosed",
]
HOSTILE_LITERALS: list[str] = [
    "null", "0", "-1", "2147483648", BIG_INT, "1e400", "-1e400", "true", '""', json.dumps(LONG), '"\\ud800"', '"\\u0000"',
    "NOT_AN_ENUM", "QUEUED", "[]", "[null]", "[1, \"a\", {}]", "[" * 150 + "1" + "]" * 150, "{}", "{a: 1}",
    "{" + "a: {" * 100 + "b: 1" + "}" * 101, '{path: ["a"]}', '{key: "k", value: "v"}', '"ops: [unclosed"',
]


def _named(type_ref: dict[str, Any]) -> dict[str, Any]:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return type_ref


def _type_text(type_ref: dict[str, Any]) -> str:
    if type_ref["kind"] == "NON_NULL":
        return _type_text(type_ref["ofType"]) + "!"
    if type_ref["kind"] == "LIST":
        return "[" + _type_text(type_ref["ofType"]) + "]"
    return str(type_ref["name"])


class Introspected:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.types = {t["name"]: t for t in schema["types"]}
        self.roots: list[tuple[str, dict[str, Any]]] = []
        for keyword, root in (("query", schema["queryType"]), ("mutation", schema["mutationType"])):
            if root:
                self.roots += [(keyword, field) for field in self.types[root["name"]]["fields"] or ()]

    def selection(self, type_ref: dict[str, Any]) -> str:
        """`__typename` and the first level of scalar fields (of each member, for a union)."""
        named = self.types[_named(type_ref)["name"]]
        if named["kind"] in ("SCALAR", "ENUM"):
            return ""
        members = [self.types[p["name"]] for p in named.get("possibleTypes") or ()] or [named]
        parts = ["__typename"]
        for member in members:
            scalars = [
                f["name"] for f in member.get("fields") or ()
                if self.types[_named(f["type"])["name"]]["kind"] in ("SCALAR", "ENUM")
                and not any(a["type"]["kind"] == "NON_NULL" for a in f["args"])
            ]
            if scalars:
                parts.append(f"... on {member['name']} {{ {' '.join(scalars)} }}")
        return "{ " + " ".join(parts) + " }"


@pytest.fixture(scope="module")
def introspected(server: Server) -> Introspected:
    answer = _post(server, {"query": INTROSPECTION}).json()
    assert "errors" not in answer, answer
    return Introspected(answer["data"]["__schema"])


@st.composite
def hostile_requests(draw: st.DrawFn, introspected: Introspected) -> dict[str, Any]:
    keyword, field = draw(st.sampled_from(introspected.roots))
    selection = introspected.selection(field["type"])
    args = field["args"]
    if draw(st.booleans()) or not args:  # literals in the document
        chosen = draw(st.lists(st.sampled_from(args), unique_by=lambda a: a["name"])) if args else []
        inline = ", ".join(f"{a['name']}: {draw(st.sampled_from(HOSTILE_LITERALS))}" for a in chosen)
        call = f"{field['name']}({inline})" if inline else field["name"]
        return {"query": f"{keyword} {{ {call} {selection} }}"}
    # variables, declared with the argument's own type (the value is what is hostile)
    declared = ", ".join(f"${a['name']}: {_type_text(a['type'])}" for a in args)
    call = ", ".join(f"{a['name']}: ${a['name']}" for a in args)
    variables = {a["name"]: draw(st.sampled_from(HOSTILE_VALUES)) for a in args if draw(st.integers(0, 4))}
    return {"query": f"{keyword} Fuzz({declared}) {{ {field['name']}({call}) {selection} }}", "variables": variables}


def test_hostile_arguments_on_random_root_fields(server: Server, introspected: Introspected) -> None:
    problems: list[str] = []

    @settings(FUZZ_SETTINGS, max_examples=200)
    @given(data=st.data())
    def probe(data: st.DataObject) -> None:
        document = data.draw(hostile_requests(introspected))
        response = _post(server, document)
        problem = internal_problem(response.status_code, response.text)
        if problem:
            problems.append(f"{problem}\n  request: {json.dumps(document)[:400]}")

    probe()
    _assert_no_problems(problems, server)


# ---------- fixed hostile documents and bodies ----------


def _deep_selection(depth: int) -> str:
    return "{ repositoriesOrError { ... on RepositoryConnection { nodes { " + "location { repositories { " * depth + "name" + " } }" * depth + " } } } }"


HOSTILE_DOCUMENTS: list[dict[str, Any] | str] = [
    {"query": _deep_selection(30)},  # past the depth limit
    {"query": "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType "
              "{ ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } } } } } } } } } } }"},
    {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(5000)) + " }"},  # an alias flood
    {"query": "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"},  # a fragment cycle
    {"query": "{" * 5000 + "}" * 5000},
    {"query": "{ __typename }" * 20_000},  # many anonymous operations
    {"query": "query A { __typename } query B { __typename }"},  # which one? no operationName
    {"query": "query A { __typename }", "operationName": "Nope"},
    {"query": "mutation { __typename }", "operationName": None},
    {"query": "subscription { pipelineRunLogs(runId: \"x\") { __typename } }"},  # a subscription over POST
    {"query": "query($v: Int) { __typename }", "variables": {"v": 10**400}},
    {"query": "query($v: String!) { pipelineRunOrError(runId: $v) { __typename } }", "variables": {"v": None}},
    {"query": "query($v: ID!) { pipelineRunOrError(runId: $v) { __typename } }", "variables": {"v": {"nested": [1]}}},
    {"query": "{ pipelineRunOrError(runId: \"" + "r" * 1_000_000 + "\") { __typename } }"},
    {"query": "{ __typename @skip(if: true) @include(if: 1) }"},
    {"query": "{ __typename(arg: 1) }"},
    {"query": "\u0000\ud800"},
    # an unpaired surrogate reaching storage (SQLite cannot encode it), or echoed in an error message
    {"query": "mutation($id: String!, $p: TerminateRunPolicy) { terminateRun(runId: $id, terminatePolicy: $p) { __typename } }",
     "variables": {"id": "r", "p": "\ud800"}},
    {"query": "mutation($id: String!) { terminateRun(runId: $id) { __typename } }", "variables": {"id": "\ud800"}},
    {"query": "query($id: ID!) { pipelineRunOrError(runId: $id) { __typename } }", "variables": {"id": "\ud800"}},
    {"query": "query($v: String!) { runsOrError(filter: {tags: [{key: \"k\", value: $v}]}) { __typename } }", "variables": {"v": "\ud800"}},
    {"query": "{ __typename }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "x" * 64}}},
]


def test_hostile_documents(server: Server) -> None:
    problems = []
    for document in HOSTILE_DOCUMENTS:
        response = _post(server, document)
        problem = internal_problem(response.status_code, response.text)
        if problem:
            problems.append(f"{problem}\n  request: {json.dumps(document)[:300]}")
    _assert_no_problems(problems, server)


HOSTILE_BODIES: list[str | bytes] = [
    '{"query": "{ __typename }", "variables": {"v": 1' + "0" * 5000 + "}}",  # past Python's int digit limit
    '{"query": "{ __typename }", "variables": ' + "[" * 100_000 + "]" * 100_000 + "}",  # deeper than the JSON parser recurses
    '{"query": "{ __typename }", "variables": ' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "}",
    '{"query": "{ __typename }", "variables": {"v": NaN}}',
    '{"query": "{ __typename }", "variables": {"v": Infinity}}',
    '{"query": "{ __typename }", "query": 1}',
    '{"query": "{ __typename }"}\x00',
    "\ufeff" + '{"query": "{ __typename }"}',
    '{"query": "{ __typename }"' + " " * 1_000_000 + "}",
    b"\xff\xfe{}",  # not UTF-8
    "",
    "null",
    '"a string"',
    '[{"query": "{ __typename }"}]',
]


def test_hostile_json_bodies(server: Server) -> None:
    problems = []
    for body in HOSTILE_BODIES:
        response = server.post(body if isinstance(body, bytes) else body.encode())
        problem = internal_problem(response.status_code, response.text)
        if problem:
            problems.append(f"{problem}\n  body: {body[:120]!r}")  # type: ignore[index]
    _assert_no_problems(problems, server)


def test_log_keys_never_leave_the_run_folder(server: Server) -> None:
    """A compute log key or download path that climbs out of the run's log
    folder finds nothing (and is no 500)."""
    params = {
        "selector": {"repositoryLocationName": "web_jobs.py", "repositoryName": "__repository__", "pipelineName": "hello_job"},
        "runConfigData": {}, "mode": "default", "executionMetadata": {},
    }
    launched = _post(server, {
        "query": "mutation($p: ExecutionParams!) { launchPipelineExecution(executionParams: $p) { __typename ... on LaunchRunSuccess { run { runId } } } }",
        "variables": {"p": params},
    }).json()["data"]["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    climbs = ["../../../../../../etc/passwd", "/etc/passwd", "..", "../" + run_id, "..\\..\\etc\\passwd", "%2e%2e/%2e%2e/etc/passwd"]
    for key in climbs:
        for field in ("capturedLogs(logKey: $k) { stdout stderr }", "capturedLogsMetadata(logKey: $k) { stdoutLocation stdoutDownloadUrl }"):
            response = _post(server, {"query": f"query($k: [String!]!) {{ {field} }}", "variables": {"k": [run_id, "compute_logs", key]}})
            assert internal_problem(response.status_code, response.text) is None, response.text
            assert "root:" not in response.text, response.text
    for path in (f"/download/{run_id}/..%2F..%2F..%2Fetc%2Fpasswd/stdout", f"/download/{run_id}/%2e%2e/stdout", f"/api/runs/{run_id}/logs/..%2F..%2Fetc"):
        response = httpx.get(server.url + path, timeout=30)
        assert response.status_code < 500 and "root:" not in response.text, (path, response.status_code, response.text[:300])


WEBSOCKET_FRAMES: list[str | bytes] = [
    "not json", "[]", "null", '{"type": 1}', '{"type": "subscribe", "id": "1", "payload": {"query": "subscription { x }"}}',  # before init
    '{"type": "connection_init", "payload": ' + "[" * 50_000 + "]" * 50_000 + "}",
    b"\xff\xfe binary",
    '{"type": "connection_init", "payload": {"x": 1' + "0" * 5000 + "}}",
]


def test_hostile_websocket_frames(server: Server) -> None:
    """Garbage over the websocket closes that connection at worst: the server
    keeps serving."""
    client = pytest.importorskip("websockets.sync.client")
    url = server.url.replace("http://", "ws://") + "/graphql"
    for protocol in ("graphql-transport-ws", "graphql-ws"):
        for frame in WEBSOCKET_FRAMES:
            try:
                with client.connect(url, subprotocols=[protocol], open_timeout=30, max_size=None) as ws:
                    ws.send(frame)
                    ws.recv(timeout=0.5)
            except Exception:  # a close or a time-out is the answer here; the server must live on
                pass
    nested = "subscription { pipelineRunLogs(runId: \"x\") { " + "__typename " * 3 + "} }"
    with client.connect(url, subprotocols=["graphql-transport-ws"], open_timeout=30) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=30))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": nested}}))
        answer = json.loads(ws.recv(timeout=30))
        assert answer["type"] in ("next", "error"), answer
        assert internal_problem(200, json.dumps(answer.get("payload") or {})) is None, answer
    assert server.process.poll() is None
    assert _post(server, {"query": "{ __typename }"}).json() == {"data": {"__typename": "Query"}}
