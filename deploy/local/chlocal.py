"""A ClickHouse HTTP interface over chdb-core, for development and tests.

chdb-core runs the real ClickHouse engine in-process; this module puts the
HTTP protocol of clickhouse-server in front of it so that Mesure talks to it
with the same `clickhouse` crate calls it uses in production. It is a dev
tool: production runs the official ClickHouse server.

What it serves, as clickhouse-server does:
- SQL in the POST body, or in `query=` with the body as the data (INSERT) or
  as the rest of the SQL; GET `?query=` for read-only queries;
- `database`, `default_format` and any other setting as URL parameters, applied
  to that request only;
- `param_*` query parameters in the URL or in a multipart/form-data body;
- chunked request bodies; `Content-Encoding` request bodies (gzip, deflate, lz4);
- `decompress=1` bodies in ClickHouse's compressed-block framing (LZ4, none),
  checksums verified; `compress=1` responses in the same framing;
- response compression negotiated by `Accept-Encoding` (lz4, gzip, deflate;
  anything else is answered uncompressed) when `enable_http_compression` is on;
- `/ping`, `/replicas_status`;
- errors with ClickHouse's message, the `X-ClickHouse-Exception-Code` header
  and clickhouse-server's status for that code (500 unless it says otherwise);
- concurrent requests (the engine runs one statement at a time).
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import os
import re
import shutil
import signal
import socketserver
import struct
import sys
import tempfile
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from urllib.parse import parse_qsl, urlsplit

import chdb.session
import lz4.block
import lz4.frame
from clickhouse_cityhash.cityhash import CityHash128

# URL parameters that belong to the HTTP interface, not to query settings.
HTTP_PARAMS = {
    "query", "database", "default_format", "compress", "decompress", "query_id",
    "session_id", "session_timeout", "session_check", "user", "password",
    "quota_key", "buffer_size", "wait_end_of_query", "role",
    "enable_http_compression", "http_zlib_compression_level",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms",
}

# clickhouse-server's status for an exception code, by error name
# (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp); everything else is 500.
STATUS_BY_ERROR_NAME = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(
        ["UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED",
         "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"], 403),
    **dict.fromkeys(
        ["BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT",
         "CANNOT_PARSE_ESCAPE_SEQUENCE", "CANNOT_PARSE_QUOTED_STRING",
         "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
         "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4",
         "CANNOT_PARSE_IPV6", "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
         "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
         "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE",
         "THERE_IS_NO_COLUMN", "TOO_DEEP_AST", "TOO_BIG_AST",
         "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA",
         "TYPE_MISMATCH", "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"], 400),
    **dict.fromkeys(
        ["UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER",
         "UNKNOWN_TYPE", "UNKNOWN_STORAGE", "UNKNOWN_DATABASE",
         "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING",
         "UNKNOWN_AGGREGATE_FUNCTION", "UNKNOWN_FORMAT",
         "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE"], 404),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "CANNOT_SCHEDULE_TASK": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}

# Error codes by name, read from the engine at start (errorCodeToName).
ERROR_CODES: dict[str, int] = {}

# Server defaults of clickhouse-server that chdb's embedded defaults differ from.
SERVER_DEFAULTS = {"async_insert": "0", "date_time_input_format": "basic"}

# Inserts parse and write on one thread: the engine shares the machine with
# the collector, which it must not starve with bursts on every core.
INSERT_SETTINGS = " SETTINGS max_threads = 1, max_insert_threads = 1, input_format_parallel_parsing = 0"

# An INSERT whose data follows a FORMAT clause: the statement, the format, the data.
INSERT_FORMAT = re.compile(
    rb"\A\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+([A-Za-z0-9_]+)[ \t]*(?:\r?\n)?",
    re.IGNORECASE | re.DOTALL)
# Statements that change the session itself, after which it is reset.
SESSION_STATEMENT = re.compile(r"\s*(SET|USE)\b", re.IGNORECASE)
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*\Z", re.IGNORECASE)
READ_ONLY_STATEMENT = re.compile(
    r"\A\s*(\(\s*)*(SELECT|WITH|SHOW|DESC|DESCRIBE|EXISTS|EXPLAIN)\b", re.IGNORECASE)
ERROR_CODE = re.compile(r"Code: (\d+)\.")

METHOD_NONE, METHOD_LZ4, METHOD_ZSTD = 0x02, 0x82, 0x90
BLOCK_HEADER = struct.Struct("<BII")  # method, compressed size (with header), raw size
MAX_BLOCK = 1 << 20

CONTENT_TYPES = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8",
    "JSON": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
}


class ClickHouseError(Exception):
    """An error answered the way clickhouse-server answers it."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def server_error(name: str, text: str) -> ClickHouseError:
    """An error this server raises itself, before the engine sees the query."""
    code = ERROR_CODES.get(name, 1001)
    return ClickHouseError(code, f"Code: {code}. DB::Exception: {text}. ({name})")


# --- ClickHouse's compressed-block framing ---------------------------------

def checksum(block: bytes) -> bytes:
    """CityHash128 v1.0.2 with its 64-bit halves in the order ClickHouse writes them."""
    h = CityHash128(block)
    return ((h & ((1 << 64) - 1)) << 64 | h >> 64).to_bytes(16, "little")


def decompress_blocks(body: bytes) -> bytes:
    """Decodes a sequence of compressed blocks, verifying each checksum."""
    out, pos = [], 0
    while pos < len(body):
        if len(body) - pos < 16 + BLOCK_HEADER.size:
            raise server_error("CANNOT_DECOMPRESS",
                               "Truncated compressed block header")
        expected = body[pos:pos + 16]
        method, size, raw_size = BLOCK_HEADER.unpack_from(body, pos + 16)
        if size < BLOCK_HEADER.size or pos + 16 + size > len(body):
            raise server_error("CANNOT_DECOMPRESS",
                               f"Truncated compressed block: {size} bytes announced")
        block = body[pos + 16:pos + 16 + size]
        if checksum(block) != expected:
            raise server_error("CHECKSUM_DOESNT_MATCH",
                               "Checksum doesn't match: corrupted data")
        payload = block[BLOCK_HEADER.size:]
        if method == METHOD_LZ4:
            try:
                out.append(lz4.block.decompress(payload, uncompressed_size=raw_size))
            except lz4.block.LZ4BlockError as e:
                raise server_error("CANNOT_DECOMPRESS",
                                   f"Cannot decompress LZ4 block: {e}") from e
        elif method == METHOD_NONE:
            out.append(payload)
        else:
            raise server_error("UNKNOWN_COMPRESSION_METHOD",
                               f"Unknown compression method: {method:#04x}")
        pos += 16 + size
    return b"".join(out)


def compress_blocks(data: bytes) -> bytes:
    """Encodes data as LZ4 compressed blocks of at most 1 MiB each."""
    out = []
    for start in range(0, len(data), MAX_BLOCK):
        raw = data[start:start + MAX_BLOCK]
        payload = lz4.block.compress(raw, store_size=False)
        block = BLOCK_HEADER.pack(METHOD_LZ4, BLOCK_HEADER.size + len(payload), len(raw)) + payload
        out.append(checksum(block) + block)
    return b"".join(out)


# --- HTTP body codings -----------------------------------------------------

def decode_content(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity"):
            return body
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "lz4":
            return lz4.frame.decompress(body)
    except (OSError, zlib.error, RuntimeError, EOFError) as e:
        raise server_error("CANNOT_DECOMPRESS",
                           f"Cannot decode {encoding} request body: {e}") from e
    raise server_error("UNKNOWN_COMPRESSION_METHOD",
                       f"Unknown HTTP compression method: {encoding}")


def choose_encoding(accept: str) -> str | None:
    """The first coding of Accept-Encoding that this server can produce."""
    for item in accept.split(","):
        name = item.split(";")[0].strip().lower()
        if name in ("lz4", "gzip", "deflate"):
            return name
    return None


def encode_content(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data, compresslevel=3)
    if encoding == "deflate":
        return zlib.compress(data, 3)
    return lz4.frame.compress(data)


def parse_multipart(content_type: str, body: bytes) -> dict[str, str]:
    message = BytesParser(policy=HTTP_POLICY).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise server_error("SYNTAX_ERROR", "Malformed multipart body")
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        if part.get_filename() is not None:
            raise server_error("NOT_IMPLEMENTED",
                               "External tables are not supported by the local server")
        fields[name] = part.get_payload(decode=True).decode("utf-8")
    return fields


# --- The engine --------------------------------------------------------------

@dataclass
class Request:
    sql: str
    data: bytes | None = None  # rows of an INSERT ... FORMAT, in that format
    insert_prefix: str = ""
    insert_format: str = ""
    database: str | None = None
    default_format: str = "TabSeparated"
    settings: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    body: bytes
    format: str
    summary: dict[str, str]


def quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


class Engine:
    """One chdb session; statements run one at a time so that a request's
    database and settings never leak into another request."""

    def __init__(self, path: str):
        self.tmp = os.path.join(path, "tmp-inserts")
        os.makedirs(self.tmp, exist_ok=True)
        try:
            self.session = chdb.session.Session(path)
        except Exception as e:  # another process holds the directory, most often
            raise engine_error(e) from e
        self.lock = threading.Lock()
        for name, value in SERVER_DEFAULTS.items():
            self._run(f"SET {name} = {quote(value)}")
        self.defaults = dict(self._rows("SELECT name, value FROM system.settings"))
        self.home = self._rows("SELECT currentDatabase()")[0][0]
        # What the session holds now beyond the defaults: set again only
        # when a request asks for something else (each call costs time).
        self.database = self.home
        self.applied: dict[str, str] = {}
        self.error_names = {int(code): name for code, name in self._rows(
            "SELECT number, errorCodeToName(number) FROM numbers(2000) "
            "WHERE errorCodeToName(number) != ''")}
        ERROR_CODES.update({name: code for code, name in self.error_names.items()})

    def _run(self, sql: str, fmt: str = "TabSeparated", params=None):
        try:
            return self.session.query(sql, fmt, params=params or None)
        except Exception as e:  # chdb raises ChdbError or RuntimeError
            raise engine_error(e) from e

    def _rows(self, sql: str) -> list[list]:
        return json.loads(bytes(self._run(sql, "JSONCompact").bytes()))["data"]

    def status(self, code: int) -> int:
        return STATUS_BY_ERROR_NAME.get(self.error_names.get(code, ""), 500)

    def execute(self, req: Request) -> Result:
        started = time.monotonic_ns()
        with self.lock:
            try:
                self._prepare(req.database or self.home, req.settings)
                if req.data is not None:
                    result = self._insert(req)
                    fmt = req.insert_format
                else:
                    fmt = req.default_format
                    result = self._run(req.sql, fmt, req.params)
            except BaseException:
                self._reset()
                raise
            if req.data is None and SESSION_STATEMENT.match(req.sql):
                self._reset()
        body = bytes(result.bytes()) if req.data is None else b""
        match = TRAILING_FORMAT.search(req.sql) if req.data is None else None
        read_rows = stat(result, "rows_read")
        summary = {
            "read_rows": read_rows, "read_bytes": stat(result, "bytes_read"),
            "written_rows": stat(result, "rows_written"),
            "written_bytes": stat(result, "bytes_written"),
            "total_rows_to_read": read_rows, "result_rows": 0, "result_bytes": len(body),
            "elapsed_ns": time.monotonic_ns() - started,
        }
        return Result(body, match.group(1) if match else fmt,
                      {k: str(v) for k, v in summary.items()})

    def _insert(self, req: Request):
        # INSERT ... FROM INFILE, not chdb's streaming insert, which silently
        # drops rows that violate a constraint instead of failing.
        with tempfile.NamedTemporaryFile(prefix="insert-", dir=self.tmp, delete=False) as f:
            f.write(req.data)
            path = f.name
        try:
            return self._run(
                f"{req.insert_prefix} FROM INFILE {quote(path)}{INSERT_SETTINGS} FORMAT {req.insert_format}")
        finally:
            os.unlink(path)

    def _prepare(self, database: str, settings: dict[str, str]):
        """Gives the session a request's database and URL settings, and the
        defaults for everything else: what one request sets never reaches
        the next. Only what differs from the session's state is sent."""
        if database != self.database:
            self.database = ""  # unknown until USE succeeds
            self._run(f"USE {identifier(database)}")
            self.database = database
        for name in [n for n in self.applied if n not in settings]:
            self._set(name, self.defaults.get(name, ""))
            del self.applied[name]
        for name, value in settings.items():
            if self.applied.get(name) != value:
                self.applied.pop(name, None)
                self._set(name, value)
                self.applied[name] = value

    def _set(self, name: str, value: str):
        self._run(f"SET {identifier(name)} = {quote(value)}")

    def _reset(self):
        """Puts the session back as the server started, after a statement
        that may have changed it (SET, USE) or a failure."""
        self.applied.clear()
        self.database = ""
        changed = self._rows(
            "SELECT name, value FROM system.settings WHERE changed OR name IN ("
            + ", ".join(quote(n) for n in SERVER_DEFAULTS) + ")")
        for name, value in changed:
            default = self.defaults.get(name)
            if default is not None and value != default:
                self._run(f"SET {identifier(name)} = {quote(default)}")
        self._run(f"USE {identifier(self.home)}")
        self.database = self.home

    def close(self):
        with self.lock:
            self.session.close()


def stat(result, name: str) -> int:
    """A counter of a query or insert result (methods on one, attributes on the other)."""
    value = getattr(result, name, 0)
    return int(value() if callable(value) else value)


def engine_error(e: Exception) -> ClickHouseError:
    text = str(e)
    start = text.find("Code: ")
    if start > 0:  # chdb prefixes some messages with its own words
        text = text[start:]
    match = ERROR_CODE.match(text)
    return ClickHouseError(int(match.group(1)) if match else 1001, text.strip())


# --- HTTP ----------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "chlocal"
    # Headers and body go out in two writes: without this, a kept-alive
    # connection waits for the client's delayed ACK (40 ms) between them.
    disable_nagle_algorithm = True
    engine: Engine
    max_body: int
    verbose: bool

    def log_message(self, format, *args):
        if self.verbose:
            sys.stderr.write("chlocal: " + (format % args) + "\n")

    def do_GET(self):
        self._handle(read_only=True)

    def do_POST(self):
        self._handle(read_only=False)

    def do_HEAD(self):
        self._reply(200, b"", {}, head=True)

    def _handle(self, read_only: bool):
        url = urlsplit(self.path)
        if url.path in ("/ping", "/replicas_status"):
            self._drain()
            return self._reply(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
        if url.path not in ("/", ""):
            self._drain()
            return self._reply(404, b"There is no handle " + url.path.encode() + b"\n",
                               {"Content-Type": "text/plain; charset=UTF-8"})
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = query.get("query_id") or str(uuid.uuid4())
        headers = {"X-ClickHouse-Query-Id": query_id,
                   "X-ClickHouse-Server-Display-Name": "chlocal",
                   "X-ClickHouse-Timezone": "UTC"}
        try:
            body = self._read_body()
            if read_only and "query" not in query and not body:
                return self._reply(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            req = self._build(query, body, read_only)
            result = self.engine.execute(req)
        except Exception as e:
            error = e if isinstance(e, ClickHouseError) else server_error(
                "STD_EXCEPTION", f"{type(e).__name__}: {e}")  # a malformed request
            if not isinstance(e, ClickHouseError):
                self.close_connection = True
            if self.verbose:
                sys.stderr.write(f"chlocal: error {error.code}: {error.message}\n")
            headers["X-ClickHouse-Exception-Code"] = str(error.code)
            headers["Content-Type"] = "text/plain; charset=UTF-8"
            return self._reply(self.engine.status(error.code), error.message.encode() + b"\n",
                               headers)
        payload = result.body
        headers["X-ClickHouse-Format"] = result.format
        headers["X-ClickHouse-Summary"] = json.dumps(result.summary, separators=(",", ":"))
        headers["Content-Type"] = CONTENT_TYPES.get(result.format, "application/octet-stream")
        if query.get("compress") == "1":
            payload = compress_blocks(payload)
        elif self._http_compression(query, req):
            encoding = choose_encoding(self.headers.get("Accept-Encoding", ""))
            if encoding:
                payload = encode_content(payload, encoding)
                headers["Content-Encoding"] = encoding
        self._reply(200, payload, headers)

    def _http_compression(self, query: dict[str, str], req: Request) -> bool:
        value = query.get("enable_http_compression",
                          self.engine.defaults.get("enable_http_compression", "0"))
        return value.lower() in ("1", "true")

    def _build(self, query: dict[str, str], body: bytes, read_only: bool) -> Request:
        params = {k[len("param_"):]: v for k, v in query.items() if k.startswith("param_")}
        content_type = self.headers.get("Content-Type", "")
        sql = query.get("query")
        if content_type.lower().startswith("multipart/form-data"):
            fields = parse_multipart(content_type, body)
            params.update({k[len("param_"):]: v for k, v in fields.items()
                           if k.startswith("param_")})
            sql = fields.get("query", sql)
            body = b""
        if query.get("decompress") == "1" and body:
            body = decompress_blocks(body)
        settings = {k: v for k, v in query.items()
                    if k not in HTTP_PARAMS and not k.startswith("param_")}
        req = Request(sql="", database=query.get("database") or None,
                      default_format=query.get("default_format") or "TabSeparated",
                      settings=settings, params=params)
        if sql is None:
            # The whole body is the statement, possibly followed by INSERT data.
            sql_bytes, body = body, b""
        else:
            sql_bytes = sql.encode()
        insert = INSERT_FORMAT.match(sql_bytes)
        if insert and (body or len(sql_bytes) > insert.end()):
            req.insert_prefix = insert.group(1).decode()
            req.insert_format = insert.group(2).decode()
            req.data = sql_bytes[insert.end():] + body
            req.sql = req.insert_prefix
        else:
            req.sql = (sql_bytes + (b"\n" + body if body else b"")).decode("utf-8", "replace")
        if not req.sql.strip():
            raise server_error("SYNTAX_ERROR", "Empty query")
        if read_only and (req.data is not None or not READ_ONLY_STATEMENT.match(req.sql)):
            raise server_error("READONLY",
                               "Cannot execute query in readonly mode. "
                               "For queries over HTTP, method GET implies readonly")
        return req

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length > self.max_body:
                self.close_connection = True
                raise server_error("QUERY_IS_TOO_LARGE",
                                   f"Request body of {length} bytes is over the limit")
            body = self.rfile.read(length) if length else b""
        return decode_content(body, self.headers.get("Content-Encoding", ""))

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise server_error("CANNOT_READ_ALL_DATA",
                                   "Malformed chunked body")
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > self.max_body:
                self.close_connection = True
                raise server_error("QUERY_IS_TOO_LARGE",
                                   "Request body is over the limit")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _drain(self):
        try:
            self._read_body()
        except ClickHouseError:
            self.close_connection = True

    def _reply(self, status: int, body: bytes, headers: dict[str, str], head: bool = False):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that left before its answer (a stopped service) is not
        # the server's fault: no traceback for it.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Local ClickHouse HTTP server over chdb-core (development and tests only).")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8123,
                        help="port to bind, 0 for any free port (default 8123)")
    parser.add_argument("--data-dir", default=".data/clickhouse",
                        help="where tables are kept (default .data/clickhouse)")
    parser.add_argument("--max-body", type=int, default=1 << 30,
                        help="largest request body in bytes (default 1 GiB)")
    parser.add_argument("--temporary", action="store_true",
                        help="keep data in a new temporary directory, removed on exit")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the process that started this one ends (tests)")
    parser.add_argument("--verbose", action="store_true", help="log requests and errors")
    args = parser.parse_args(argv)

    if args.temporary:
        args.data_dir = tempfile.mkdtemp(prefix="chlocal-")
    os.makedirs(args.data_dir, exist_ok=True)
    try:
        engine = Engine(os.path.abspath(args.data_dir))
    except ClickHouseError as e:
        print(f"chlocal: cannot open {args.data_dir}: {e.message} "
              "(is another server using this directory?)", file=sys.stderr)
        return 1
    handler = type("BoundHandler", (Handler,),
                   {"engine": engine, "max_body": args.max_body, "verbose": args.verbose})
    server = Server((args.host, args.port), handler)
    host, port = server.server_address[:2]
    print(f"chlocal: listening on http://{host}:{port} (data in {args.data_dir})", flush=True)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_with_parent:
        threading.Thread(target=watch_parent, args=(os.getppid(), stop), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        engine.close()
        if args.temporary:
            shutil.rmtree(args.data_dir, ignore_errors=True)
    return 0


def watch_parent(parent: int, stop):
    while os.getppid() == parent:
        time.sleep(0.5)
    stop()


if __name__ == "__main__":
    sys.exit(main())
