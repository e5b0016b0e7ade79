"""collector/query.py against a real influxd 1.6 with authentication on (results, bound parameters, every kind
of error); the `Authorization: Token` header of 2.x/3.x, which 1.6 does not know, against a local HTTP server
that only records the request (no 2.x/3.x server can run here)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from homeshore.collector.query import QueryClient, QueryError, Series, quote_ident
from tests.references.influxd import InfluxServer, closed_port

T0 = 1_700_000_000 * 10**9


@pytest.fixture(scope="module")
def influx():
    with InfluxServer(auth=True) as server:
        server.query('CREATE DATABASE "q"')
        server.query("CREATE USER reader WITH PASSWORD 'reader-secret'")
        server.query('GRANT READ ON "q" TO reader')
        server.query("CREATE USER writer WITH PASSWORD 'writer-secret'")
        server.query('GRANT WRITE ON "q" TO writer')
        assert server.write([f"host,agent=a1,conn=wired cpu_pct=10 {T0}", f"host,agent=a1,conn=wired cpu_pct=20 {T0 + 1}",
                             f"host,agent=b2,conn=wifi cpu_pct=70 {T0}",
                             f"host,agent=x'y,conn=wifi cpu_pct=5 {T0}"], "q").status == 204
        yield server


def reader(server: InfluxServer, **kwargs) -> QueryClient:
    return QueryClient(server.url, database="q", username="reader", password="reader-secret", **kwargs)


def test_results_are_series_with_tags_and_ns_times(influx: InfluxServer) -> None:
    series = reader(influx).query('SELECT cpu_pct FROM host WHERE agent = \'a1\' OR agent = \'b2\' GROUP BY agent')
    assert [s.tags for s in series] == [{"agent": "a1"}, {"agent": "b2"}]
    assert series[0] == Series("host", {"agent": "a1"}, ("time", "cpu_pct"), [(T0, 10.0), (T0 + 1, 20.0)])
    assert series[1].rows() == [{"agent": "b2", "time": T0, "cpu_pct": 70.0}]
    both = reader(influx).query("SELECT count(cpu_pct) FROM host; SHOW MEASUREMENTS")
    assert [s.name for s in both] == ["host", "measurements"] and both[0].values == [(0, 4)]


def test_bound_parameters_never_become_influxql(influx: InfluxServer) -> None:
    client = reader(influx)
    assert [r["cpu_pct"] for s in client.query("SELECT cpu_pct FROM host WHERE agent = $a", params={"a": "b2"})
            for r in s.rows()] == [70.0]
    # A quote in a bound value is data, not syntax: it finds the agent named x'y and nothing else.
    rows = [r for s in client.query("SELECT * FROM host WHERE agent = $a", params={"a": "x'y"}) for r in s.rows()]
    assert [(r["agent"], r["cpu_pct"]) for r in rows] == [("x'y", 5.0)]
    assert client.query("SELECT * FROM host WHERE agent = $a", params={"a": "a1' OR agent =~ /.*/ OR agent='"}) == []
    assert [s.values for s in client.query("SELECT cpu_pct FROM host WHERE cpu_pct > $v", params={"v": 15})] \
        == [[(T0, 70.0), (T0 + 1, 20.0)]]  # time order, across series
    with pytest.raises(QueryError, match="missing parameter: v") as caught:
        client.query("SELECT * FROM host WHERE cpu_pct > $v")
    assert caught.value.kind == "statement"


def test_quote_ident() -> None:
    assert quote_ident('we"ird\\name') == '"we\\"ird\\\\name"'


@pytest.mark.parametrize("statement, database, fragment", [
    ("SELEKT * FROM host", "q", "error parsing query"),
    ("SELECT * FROM host", "nosuchdb", "database not found: nosuchdb"),
])
def test_statement_errors(influx: InfluxServer, statement: str, database: str, fragment: str) -> None:
    client = QueryClient(influx.url, database=database, username="admin", password="admin-password")
    with pytest.raises(QueryError) as caught:
        client.query(statement)
    assert caught.value.kind == "statement" and fragment in str(caught.value)
    assert "\n" not in str(caught.value) and "admin-password" not in str(caught.value)


def test_refused_credentials_and_the_write_only_user(influx: InfluxServer) -> None:
    with pytest.raises(QueryError) as wrong:
        QueryClient(influx.url, database="q", username="reader", password="not-it").query("SELECT * FROM host")
    assert wrong.value.kind == "unauthorized" and wrong.value.status == 401 and "not-it" not in str(wrong.value)
    writer = QueryClient(influx.url, database="q", username="writer", password="writer-secret")
    with pytest.raises(QueryError) as refused:
        writer.query("SELECT * FROM host")
    assert refused.value.kind == "forbidden" and refused.value.status == 403
    assert "not authorized" in str(refused.value) and "writer-secret" not in str(refused.value)
    assert "writer-secret" not in repr(writer)


def test_unreachable_names_the_url() -> None:
    with closed_port() as port, pytest.raises(QueryError) as caught:
        url = f"http://127.0.0.1:{port}"
        QueryClient(url, database="q", timeout_s=5).query("SHOW DATABASES")
    assert caught.value.kind == "unreachable" and url in str(caught.value)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        QueryClient("collector:8086", database="q")
    with pytest.raises(ValueError, match="not both"):
        QueryClient("http://c", database="q", username="u", password="p", token="t")


def test_a_token_is_sent_as_authorization_token() -> None:
    """A recording HTTP server stands in for 2.x/3.x, which cannot run here: it checks the request's form."""
    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen["authorization"] = self.headers.get("Authorization")
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"])).decode()
            body = json.dumps({"results": [{"statement_id": 0}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = QueryClient(f"http://127.0.0.1:{server.server_port}", database="homeshore",
                             retention_policy="hourly", token="tok-123")
        assert client.query("SELECT * FROM host WHERE agent = $a", params={"a": "a1"}) == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert seen["authorization"] == "Token tok-123"
    from urllib.parse import parse_qs
    form = parse_qs(seen["body"])
    assert form["db"] == ["homeshore"] and form["rp"] == ["hourly"] and form["epoch"] == ["ns"]
    assert json.loads(form["params"][0]) == {"a": "a1"}
