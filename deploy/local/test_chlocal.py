"""Protocol tests of the local ClickHouse server, over real HTTP."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import subprocess
import sys
import threading
import zlib
from urllib.parse import urlencode

import lz4.frame
import pytest

import chlocal

HERE = os.path.dirname(os.path.abspath(__file__))


class Server:
    def __init__(self, data_dir, *extra):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "chlocal.py"), "--port", "0",
             "--data-dir", str(data_dir), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError("server did not start: " + line + self.proc.stderr.read())
        self.port = int(line.split("http://127.0.0.1:")[1].split()[0])

    def request(self, method="POST", path="/", body=b"", headers=None, **params):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        if params:
            path += "?" + urlencode(params)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp, data

    def sql(self, sql, **params):
        resp, data = self.request(body=sql.encode(), **params)
        assert resp.status == 200, data
        return data.decode()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("ch"))
    yield s
    s.stop()


@pytest.fixture
def table(server, request):
    name = "t_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
    server.sql(f"DROP TABLE IF EXISTS {name}")
    server.sql(f"CREATE TABLE {name} (a UInt32, s String) ENGINE = MergeTree ORDER BY a")
    return name


def test_ping_and_health(server):
    for path in ("/ping", "/replicas_status", "/"):
        resp, data = server.request("GET", path)
        assert (resp.status, data) == (200, b"Ok.\n")


def test_unknown_path_is_404(server):
    resp, _ = server.request("GET", "/nowhere")
    assert resp.status == 404


def test_query_in_post_body(server):
    assert server.sql("SELECT 1 + 1") == "2\n"


def test_query_in_url_with_get(server):
    resp, data = server.request("GET", query="SELECT 'a', 2")
    assert (resp.status, data) == (200, b"a\t2\n")


def test_get_is_read_only(server, table):
    resp, data = server.request("GET", query=f"INSERT INTO {table} VALUES (1, 'x')")
    assert resp.getheader("X-ClickHouse-Exception-Code") == "164"
    assert b"readonly" in data
    assert server.sql(f"SELECT count() FROM {table}") == "0\n"


def test_insert_with_query_in_url_and_data_in_body(server, table):
    resp, _ = server.request(body=b"1\tx\n2\ty\n", query=f"INSERT INTO {table} FORMAT TSV")
    assert resp.status == 200
    summary = json.loads(resp.getheader("X-ClickHouse-Summary"))
    assert summary["written_rows"] == "2"
    assert server.sql(f"SELECT * FROM {table} ORDER BY a") == "1\tx\n2\ty\n"


def test_insert_with_inline_data_in_body(server, table):
    server.sql(f"INSERT INTO {table} (a, s) FORMAT TSV\n3\tz\n4\tw\n")
    assert server.sql(f"SELECT sum(a) FROM {table}") == "7\n"


def test_insert_values_split_between_url_and_body(server, table):
    resp, _ = server.request(body=b"(5, 'v')", query=f"INSERT INTO {table} VALUES")
    assert resp.status == 200
    assert server.sql(f"SELECT s FROM {table}") == "v\n"


def test_rejected_insert_data_is_an_error_and_stores_nothing(server, table):
    resp, data = server.request(body=b"notanumber\tx\n", query=f"INSERT INTO {table} FORMAT TSV")
    assert resp.status == 400
    assert resp.getheader("X-ClickHouse-Exception-Code") is not None
    assert b"Cannot parse" in data or b"CANNOT_PARSE" in data
    assert server.sql(f"SELECT count() FROM {table}") == "0\n"


def test_insert_violating_a_constraint_is_an_error(server, table):
    server.sql(f"ALTER TABLE {table} ADD CONSTRAINT no_x CHECK s != 'x'")
    resp, data = server.request(body=b"1\tok\n2\tx\n", query=f"INSERT INTO {table} FORMAT TSV")
    assert resp.getheader("X-ClickHouse-Exception-Code") == "469", data
    assert b"VIOLATED_CONSTRAINT" in data
    assert server.sql(f"SELECT count() FROM {table}") == "0\n"


def test_insert_deduplication_token(server):
    server.sql("CREATE TABLE dedup (a UInt32) ENGINE = MergeTree ORDER BY a "
               "SETTINGS non_replicated_deduplication_window = 10")
    for _ in range(3):
        resp, _ = server.request(body=b"1\n2\n", query="INSERT INTO dedup FORMAT TSV",
                                 insert_deduplication_token="batch-1")
        assert resp.status == 200
    assert server.sql("SELECT count() FROM dedup") == "2\n"


def test_database_parameter_applies_to_that_request_only(server):
    server.sql("CREATE DATABASE IF NOT EXISTS other")
    server.sql("CREATE TABLE IF NOT EXISTS other.only_here (x UInt8) ENGINE = Memory")
    assert server.sql("SELECT currentDatabase()", database="other") == "other\n"
    assert server.sql("EXISTS TABLE only_here", database="other") == "1\n"
    assert server.sql("SELECT currentDatabase()") == "default\n"


def test_unknown_database_is_404(server):
    resp, _ = server.request(body=b"SELECT 1", database="no_such_db")
    assert resp.status == 404
    assert resp.getheader("X-ClickHouse-Exception-Code") == "81"


def test_default_format_and_format_clause(server):
    resp, data = server.request(body=b"SELECT toUInt8(7) AS n",
                                default_format="RowBinaryWithNamesAndTypes")
    assert data == b"\x01\x01n\x05UInt8\x07"
    assert resp.getheader("X-ClickHouse-Format") == "RowBinaryWithNamesAndTypes"
    resp, data = server.request(body=b"SELECT 7 AS n FORMAT JSONEachRow",
                                default_format="RowBinaryWithNamesAndTypes")
    assert json.loads(data) == {"n": 7}
    assert resp.getheader("X-ClickHouse-Format") == "JSONEachRow"


def test_settings_apply_to_that_request_only(server):
    assert server.sql("SELECT getSetting('max_threads')", max_threads="1") == "1\n"
    assert server.sql("SELECT getSetting('max_threads')") != "1\n"
    server.sql("SET max_block_size = 77")
    assert server.sql("SELECT getSetting('max_block_size')") != "77\n"


def test_a_use_statement_or_a_missing_database_reaches_no_other_request(server):
    server.sql("CREATE DATABASE IF NOT EXISTS other")
    home = server.sql("SELECT currentDatabase()")
    server.sql("USE other")
    assert server.sql("SELECT currentDatabase()") == home
    resp, _ = server.request(body=b"SELECT 1", database="no_such_database")
    assert resp.status == 404
    assert server.sql("SELECT currentDatabase()") == home
    assert server.sql("SELECT currentDatabase()", database="other") == "other\n"
    assert server.sql("SELECT currentDatabase()") == home


def test_settings_change_between_requests(server):
    for threads in ["1", "2", "1"]:
        assert server.sql("SELECT getSetting('max_threads')", max_threads=threads) == f"{threads}\n"
    default = server.sql("SELECT getSetting('max_threads')")
    assert default != "1\n"
    resp, _ = server.request(body=b"SELECT nope", max_threads="1")
    assert resp.status != 200
    assert server.sql("SELECT getSetting('max_threads')") == default


def test_server_defaults_are_those_of_clickhouse_server(server):
    assert server.sql("SELECT getSetting('async_insert')") == "false\n"


def test_unknown_setting_is_an_error(server):
    resp, data = server.request(body=b"SELECT 1", no_such_setting="1")
    assert resp.status == 404
    assert resp.getheader("X-ClickHouse-Exception-Code") == "115"
    assert b"no_such_setting" in data


def test_params_in_url(server):
    out = server.sql("SELECT {n:UInt32} * 2, {s:String}", param_n="21", param_s="l'été")
    assert out == "42\tl\\'été\n"


def test_params_in_multipart_body(server):
    boundary = "mesureBoundary"
    parts = [("query", "SELECT {n:UInt64} + 1, {s:String}"), ("param_n", "41"),
             ("param_s", "hé ho")]
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in parts) + f"--{boundary}--\r\n".encode()
    resp, data = server.request(
        body=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert (resp.status, data.decode()) == (200, "42\thé ho\n")


def test_chunked_body(server, table):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    chunks = iter([b"10\ta\n", b"11\t", b"b\n", b"12\tc\n"])
    conn.request("POST", "/?" + urlencode({"query": f"INSERT INTO {table} FORMAT TSV"}),
                 body=chunks, headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    resp.read()
    conn.close()
    assert server.sql(f"SELECT groupArray(s) FROM (SELECT s FROM {table} ORDER BY a)") \
        == "['a','b','c']\n"


def test_decompress_lz4_blocks(server, table):
    rows = b"".join(f"{i}\tv{i}\n".encode() for i in range(50_000))
    body = chlocal.compress_blocks(rows)
    assert len(body) < len(rows) and rows.count(b"\n") == 50_000
    resp, data = server.request(body=body, decompress="1",
                                query=f"INSERT INTO {table} FORMAT TSV")
    assert resp.status == 200, data
    assert server.sql(f"SELECT count(), max(a) FROM {table}") == "50000\t49999\n"


def test_decompress_uncompressed_block(server, table):
    raw = b"1\tplain\n"
    block = chlocal.BLOCK_HEADER.pack(chlocal.METHOD_NONE, 9 + len(raw), len(raw)) + raw
    resp, data = server.request(body=chlocal.checksum(block) + block, decompress="1",
                                query=f"INSERT INTO {table} FORMAT TSV")
    assert resp.status == 200, data
    assert server.sql(f"SELECT s FROM {table}") == "plain\n"


def test_decompress_rejects_bad_checksum(server, table):
    body = bytearray(chlocal.compress_blocks(b"1\tx\n"))
    body[0] ^= 0xFF
    resp, data = server.request(body=bytes(body), decompress="1",
                                query=f"INSERT INTO {table} FORMAT TSV")
    assert resp.getheader("X-ClickHouse-Exception-Code") == "40"
    assert b"Checksum" in data
    assert server.sql(f"SELECT count() FROM {table}") == "0\n"


def test_decompress_rejects_truncated_block(server, table):
    body = chlocal.compress_blocks(b"1\tx\n")[:-3]
    resp, _ = server.request(body=body, decompress="1", query=f"INSERT INTO {table} FORMAT TSV")
    assert resp.getheader("X-ClickHouse-Exception-Code") == "271"


def test_compress_response_in_block_framing(server):
    resp, data = server.request(body=b"SELECT number FROM numbers(100000)", compress="1")
    assert resp.status == 200
    text = chlocal.decompress_blocks(data)
    assert text.count(b"\n") == 100_000 and text.endswith(b"99999\n")


@pytest.mark.parametrize("accept,expected", [
    ("lz4", "lz4"), ("gzip", "gzip"), ("deflate", "deflate"),
    ("zstd, gzip;q=0.5", "gzip"), ("zstd", None), ("br", None), ("", None)])
def test_accept_encoding(server, accept, expected):
    resp, data = server.request(body=b"SELECT number FROM numbers(1000)",
                                headers={"Accept-Encoding": accept} if accept else {})
    assert resp.status == 200
    assert resp.getheader("Content-Encoding") == expected
    decode = {"lz4": lz4.frame.decompress, "gzip": gzip.decompress,
              "deflate": zlib.decompress, None: bytes}[expected]
    assert decode(data).count(b"\n") == 1000


def test_accept_encoding_ignored_when_http_compression_is_off(server):
    resp, data = server.request(body=b"SELECT 1", headers={"Accept-Encoding": "gzip"},
                                enable_http_compression="0")
    assert resp.getheader("Content-Encoding") is None and data == b"1\n"


def test_compressed_request_body(server):
    resp, data = server.request(body=gzip.compress(b"SELECT 5"),
                                headers={"Content-Encoding": "gzip"})
    assert (resp.status, data) == (200, b"5\n")


@pytest.mark.parametrize("sql,status,code", [
    ("SELECT * FROM missing_table", 404, "60"),
    ("SELEC 1", 400, "62"),
    ("SELECT throwIf(1, 'boom')", 500, "395"),
])
def test_errors_carry_code_and_status(server, sql, status, code):
    resp, data = server.request(body=sql.encode())
    assert resp.status == status
    assert resp.getheader("X-ClickHouse-Exception-Code") == code
    assert data.startswith(f"Code: {code}. DB::Exception:".encode())


def test_oversized_body_is_refused(tmp_path):
    s = Server(tmp_path / "small", "--max-body", "1000")
    try:
        resp, data = s.request(body=b"SELECT 1 -- " + b"x" * 2000)
        assert resp.status == 413
        assert b"(QUERY_IS_TOO_LARGE)" in data
        assert resp.getheader("X-ClickHouse-Exception-Code") in data.decode()
    finally:
        s.stop()


def test_concurrent_requests_keep_their_own_settings_and_database(server):
    server.sql("CREATE DATABASE IF NOT EXISTS conc")
    errors = []

    def worker(i):
        try:
            for _ in range(15):
                database = "conc" if i % 2 else "default"
                out = server.sql("SELECT getSetting('max_threads'), currentDatabase(), "
                                 "sum(number) FROM numbers(10000)",
                                 max_threads=str(i % 3 + 1), database=database)
                assert out == f"{i % 3 + 1}\t{database}\t49995000\n", out
        except Exception as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_data_persists_across_restarts_and_directory_is_exclusive(tmp_path):
    s = Server(tmp_path / "db")
    try:
        s.sql("CREATE TABLE kept (x UInt32) ENGINE = MergeTree ORDER BY x")
        s.sql("INSERT INTO kept VALUES (1), (2), (3)")
        second = subprocess.run(
            [sys.executable, os.path.join(HERE, "chlocal.py"), "--port", "0",
             "--data-dir", str(tmp_path / "db")], capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "cannot open" in second.stderr
    finally:
        s.stop()
    s = Server(tmp_path / "db")
    try:
        assert s.sql("SELECT sum(x) FROM kept") == "6\n"
    finally:
        s.stop()


def test_malformed_request_is_an_error_not_a_dropped_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/")
    conn.putheader("Content-Length", "not-a-number")
    conn.endheaders()
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    assert resp.status == 500
    assert resp.getheader("X-ClickHouse-Exception-Code") is not None
    assert b"STD_EXCEPTION" in data
    assert server.sql("SELECT 1") == "1\n"
