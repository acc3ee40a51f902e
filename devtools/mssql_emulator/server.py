"""The TDS server: accepts connections, logs clients in, runs their requests on the engine.

One thread per connection. A connection's life: PRELOGIN, LOGIN7, then requests (SQL batch,
RPC, transaction manager) until the client leaves. Responses are streamed: rows are encoded and
sent in large writes while the engine produces them, and an ATTENTION from the client stops the
stream at the next write.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import itertools
import logging
import math
import re
import select
import socket
import struct
import threading
import time
import uuid
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass

from devtools.mssql_emulator import faults as fault_commands
from devtools.mssql_emulator import packets, tokens
from devtools.mssql_emulator.faults import FaultRegistry, ResultFaults
from devtools.mssql_emulator.packets import (
    ConnectionClosed,
    Message,
    PacketReader,
    PacketWriter,
    ProtocolError,
)
from devtools.mssql_emulator.results import (
    EnvChange,
    ResultSet,
    RowCount,
    Session,
    SqlServerError,
    StatementDone,
)

log = logging.getLogger("devtools.mssql_emulator")

SERVER_NAME = "emulator"
PRODUCT_NAME = "Microsoft SQL Server"
PRODUCT_VERSION = (16, 0, 1000)  # SQL Server 2022 RTM, as the engine's @@VERSION says (16.0.1000.6)
FLUSH_BYTES = 256 * 1024  # bytes of encoded rows gathered before one sendall
CACHE_CHUNK_ROWS = 2048  # rows joined into one cached chunk
DEFAULT_CACHE_BYTES = 512 * 1024 * 1024


class Attention(Exception):
    """The client sent ATTENTION: stop the current response and acknowledge with DONE_ATTN."""


class ClientGone(Exception):
    """Stop serving this connection (client left, or a fault closed it)."""


# --- cache of encoded result sets -------------------------------------------------------------
@dataclass
class CachedResult:
    chunks: list[bytes]  # COLMETADATA, then ROW/NBCROW tokens in chunks
    row_count: int
    size: int


class ResultCache:
    """Encoded result sets by ``ResultSet.cache_key``, least recently used dropped first."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._entries: collections.OrderedDict[Hashable, CachedResult] = collections.OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> CachedResult | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Hashable, entry: CachedResult) -> None:
        if entry.size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= old.size
            self._entries[key] = entry
            self._size += entry.size
            while self._size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._size -= dropped.size


# --- the server ---------------------------------------------------------------------------------
class EmulatorServer:
    """A TDS listener. ``start()`` binds and serves in background threads; ``stop()`` ends it."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str,
        password: str,
        database: str,
        engine=None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ):
        if engine is None:
            from devtools.mssql_emulator.engine import Engine

            engine = Engine()
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.engine = engine
        self.faults = FaultRegistry()
        self.cache = ResultCache(cache_bytes)
        self._listener: socket.socket | None = None
        self._connections: set[ClientConnection] = set()
        self._lock = threading.Lock()
        self._spids = itertools.count(51)
        self._stopping = threading.Event()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept_loop, name="tds-accept", daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, address = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                log.exception("accept failed")
                time.sleep(0.05)
                continue
            if self.faults.take("refuse_connections"):
                log.info("fault refuse_connections: closing connection from %s", address)
                sock.close()
                continue
            connection = ClientConnection(self, sock, address, next(self._spids))
            with self._lock:
                self._connections.add(connection)
            threading.Thread(target=connection.run, name=f"tds-spid-{connection.spid}", daemon=True).start()

    def forget(self, connection: ClientConnection) -> None:
        with self._lock:
            self._connections.discard(connection)

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._connections)

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            try:
                self._listener.close()
            except OSError:
                pass
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close()


# --- one client connection ----------------------------------------------------------------------


class ClientConnection:
    def __init__(self, server: EmulatorServer, sock: socket.socket, address, spid: int):
        self.server = server
        self.sock = sock
        self.address = address
        self.spid = spid
        self.reader = PacketReader(sock)
        self.writer = PacketWriter(sock)
        self.writer.spid = spid
        self._poller = select.poll()  # poll, not select: select fails on descriptors above 1023
        self._poller.register(sock, select.POLLIN)
        self.tds_version = tokens.TDS74
        self.session: Session | None = None
        self._transaction_ids = itertools.count(1)
        self.transaction: bytes | None = None  # current transaction descriptor (8 bytes)

    # -- lifecycle --
    def run(self) -> None:
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if self._login():
                self._serve_requests()
        except (ConnectionClosed, ClientGone, ConnectionError, BrokenPipeError):
            log.debug("spid %d: connection closed", self.spid)
        except ProtocolError as exc:
            log.warning("spid %d: protocol error from %s: %s", self.spid, self.address, exc)
        except OSError as exc:
            log.debug("spid %d: socket error: %s", self.spid, exc)
        except Exception:
            log.exception("spid %d: unexpected error; closing the connection", self.spid)
        finally:
            self.close()
            self.server.forget(self)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # -- login (2.2.6.5 PRELOGIN, 2.2.6.4 LOGIN7) --
    def _login(self) -> bool:
        message = self.reader.read_message()
        if message.type == packets.PKT_PRELOGIN:
            options = packets.parse_prelogin(message.payload)
            client_encryption = options.get(packets.PL_ENCRYPTION, b"\x02")[:1] or b"\x02"
            log.debug(
                "spid %d: PRELOGIN options %s",
                self.spid,
                {k: v.hex() for k, v in options.items()},
            )
            self.writer.write(packets.build_prelogin_response(PRODUCT_VERSION, packets.ENCRYPT_NOT_SUP))
            self.writer.end_message()
            if client_encryption[0] in (packets.ENCRYPT_ON, packets.ENCRYPT_REQ):
                log.info(
                    "spid %d: client requires encryption, which the emulator does not offer",
                    self.spid,
                )
            if self.server.faults.take("drop_connections"):
                log.info("fault drop_connections: closing spid %d after PRELOGIN", self.spid)
                raise ClientGone()
            message = self.reader.read_message()
        if message.type != packets.PKT_LOGIN7:
            raise ProtocolError(f"expected LOGIN7, got packet type {message.type:#x}")
        login = packets.parse_login7(message.payload)
        log.info("spid %d: %r", self.spid, login)
        if login.tds_version < tokens.TDS72:
            refusal = SqlServerError(
                50000,
                f"The emulator speaks TDS 7.2 to 7.4; this client offered TDS version "
                f"{login.tds_version:#010x}. Connect with TDS 7.4 (pymssql: tds_version='7.4').",
                16,
                1,
            )
            log.info("spid %d: login refused: %s", self.spid, refusal)
            self.writer.write(tokens.pre_72_login_refusal(refusal, SERVER_NAME))
            self.writer.end_message()
            return False
        self.tds_version = min(login.tds_version, tokens.TDS74)
        packet_size = login.packet_size or packets.DEFAULT_PACKET_SIZE
        packet_size = max(packets.MIN_PACKET_SIZE, min(packets.MAX_PACKET_SIZE, packet_size))

        fault = self.server.faults.take("delay_login")
        if fault:
            time.sleep(fault.params["ms"] / 1000)

        user = login.user_name
        failure: list[SqlServerError] = []
        database = login.database or self.server.database
        if login.integrated_security:
            failure.append(
                SqlServerError(
                    18452,
                    "Login failed. The login is from an untrusted domain and cannot be used "
                    "with Integrated authentication.",
                    14,
                    1,
                )
            )
        elif user != self.server.user or login.password != self.server.password:
            failure.append(SqlServerError(18456, f"Login failed for user '{user}'.", 14, 1))
        elif not self.server.engine.database_exists(database):
            failure.append(
                SqlServerError(
                    4060,
                    f'Cannot open database "{database}" requested by the login. The login failed.',
                    11,
                    1,
                )
            )
            failure.append(SqlServerError(18456, f"Login failed for user '{user}'.", 14, 1))
        if failure:
            log.info("spid %d: login refused: %s", self.spid, failure[-1])
            for err in failure:
                self.writer.write(tokens.error(err, SERVER_NAME))
            self.writer.write(tokens.done(tokens.DONE_ERROR))
            self.writer.end_message()
            return False

        self.session = Session(user=user, database=database, spid=self.spid)
        w = self.writer.write
        w(tokens.envchange_text(tokens.ENV_DATABASE, database, "master"))
        w(tokens.info(5701, f"Changed database context to '{database}'.", SERVER_NAME, 2))
        w(tokens.envchange_collation())
        w(tokens.envchange_text(tokens.ENV_LANGUAGE, self.session.language, ""))
        w(
            tokens.info(
                5703,
                f"Changed language setting to {self.session.language}.",
                SERVER_NAME,
                1,
            )
        )
        w(tokens.loginack(self.tds_version, PRODUCT_NAME, PRODUCT_VERSION))
        w(tokens.envchange_text(tokens.ENV_PACKET_SIZE, str(packet_size), str(packet_size)))
        w(tokens.done())
        self.writer.end_message()
        self.writer.packet_size = packet_size
        return True

    # -- requests --
    def _serve_requests(self) -> None:
        while True:
            message = self.reader.read_message()
            if message.status & packets.STATUS_IGNORE:
                continue
            try:
                if message.type == packets.PKT_ATTENTION:
                    raise Attention()  # arrived after its response ended: acknowledge anyway
                self._handle(message)
            except Attention:
                self._acknowledge_attention()

    def _handle(self, message: Message) -> None:
        if message.type == packets.PKT_SQL_BATCH:
            sql = packets.parse_sql_batch(message.payload, self.tds_version)
            log.debug("spid %d: batch %r", self.spid, sql[:500])
            self._run_batch(sql)
        elif message.type == packets.PKT_RPC:
            self._run_rpc(packets.parse_rpc_request(message.payload, self.tds_version))
        elif message.type == packets.PKT_TRANSACTION_MANAGER:
            self._run_transaction_request(
                packets.parse_transaction_request(message.payload, self.tds_version)
            )
        else:
            raise ProtocolError(f"unsupported request packet type {message.type:#x}")

    def _acknowledge_attention(self) -> None:
        log.debug("spid %d: ATTENTION acknowledged", self.spid)
        self.writer.flush_all_without_eom()
        self.writer.write(tokens.done(tokens.DONE_ATTN))
        self.writer.end_message()

    def _run_batch(self, sql: str) -> None:
        try:
            commands = fault_commands.parse_emulator_batch(sql)
        except SqlServerError as err:
            self._send_error_response(err)
            return
        if commands is not None:
            self._run_emulator_commands(commands)
            return
        if not fault_commands.is_housekeeping(sql):
            injected = self.server.faults.take_query_error(self.spid, self.session.database)
            if injected:
                self._send_error_response(injected)
                return
        self._stream_outcomes(lambda: self.server.engine.execute_batch(self.session, sql), in_proc=False)

    def _run_emulator_commands(self, commands) -> None:
        w = self.writer.write
        for i, command in enumerate(commands):
            try:
                fault_commands.run_command(self.server.faults, command)
            except SqlServerError as err:
                log.info("spid %d: emulator.%s refused: %s", self.spid, command.name, err)
                w(tokens.error(err, SERVER_NAME, command.name))
                w(tokens.return_status(-6))
                w(tokens.done(tokens.DONE_ERROR, token=tokens.TOKEN_DONEPROC))
                self.writer.end_message()
                return
            log.info("spid %d: emulator.%s %s", self.spid, command.name, command.params)
            more = tokens.DONE_MORE if i < len(commands) - 1 else 0
            w(tokens.return_status(0))
            w(tokens.done(more, tokens.CMD_EXECUTE, token=tokens.TOKEN_DONEPROC))
        self.writer.end_message()

    def _send_error_response(self, err: SqlServerError, token: int = tokens.TOKEN_DONE) -> None:
        self.writer.write(tokens.error(err, SERVER_NAME))
        self.writer.write(tokens.done(tokens.DONE_ERROR, token=token))
        self.writer.end_message()
        if err.severity >= 20:
            raise ClientGone()

    # -- 2.2.6.6 RPC --
    def _run_rpc(self, rpc: packets.RpcRequest) -> None:
        name = rpc.proc_name.lower()
        log.debug(
            "spid %d: RPC %s (%d parameters)",
            self.spid,
            rpc.proc_name,
            len(rpc.parameters),
        )
        if fault_commands.is_emulator_proc(rpc.proc_name):
            params = {p.name.lstrip("@").lower(): p.value for p in rpc.parameters}
            command_name = rpc.proc_name.replace("[", "").replace("]", "").split(".", 1)[1]
            self._run_emulator_commands([fault_commands.EmulatorCommand(command_name.lower(), params)])
            return
        if name not in ("sp_executesql", "sys.sp_executesql"):
            self._send_error_response(
                SqlServerError(
                    50000,
                    f"The emulator runs only sp_executesql over RPC; '{rpc.proc_name}' is "
                    f"not supported. Send the statement as a SQL batch.",
                    16,
                    1,
                ),
                token=tokens.TOKEN_DONEPROC,
            )
            return
        try:
            sql = _bind_sp_executesql(rpc.parameters)
        except SqlServerError as err:
            self._send_error_response(err, token=tokens.TOKEN_DONEPROC)
            return
        injected = self.server.faults.take_query_error(self.spid, self.session.database)
        if injected:
            self._send_error_response(injected, token=tokens.TOKEN_DONEPROC)
            return
        self._stream_outcomes(lambda: self.server.engine.execute_batch(self.session, sql), in_proc=True)

    # -- 2.2.6.9 transaction manager requests (python-tds begin/commit/rollback) --
    def _run_transaction_request(self, request: packets.TransactionRequest) -> None:
        statements = {
            packets.TM_BEGIN_XACT: "BEGIN TRANSACTION",
            packets.TM_COMMIT_XACT: "COMMIT TRANSACTION",
            packets.TM_ROLLBACK_XACT: "ROLLBACK TRANSACTION",
        }
        sql = statements.get(request.request_type)
        if sql is None:
            self._send_error_response(
                SqlServerError(
                    50000,
                    f"Transaction manager request {request.request_type} is not supported by the emulator.",
                    16,
                    1,
                )
            )
            return
        if request.begin_new:
            sql += "; BEGIN TRANSACTION"
        try:
            for _ in self.server.engine.execute_batch(self.session, sql):
                pass
        except SqlServerError as err:
            self._send_error_response(err)
            return
        w = self.writer.write
        if request.request_type == packets.TM_BEGIN_XACT:
            self._begin_transaction()
        else:
            kind = (
                tokens.ENV_COMMIT_TRAN
                if request.request_type == packets.TM_COMMIT_XACT
                else tokens.ENV_ROLLBACK_TRAN
            )
            w(tokens.envchange_transaction(kind, self.transaction or b"\x00" * 8))
            self.transaction = None
            if request.begin_new:
                self._begin_transaction()
        w(tokens.done())
        self.writer.end_message()

    def _begin_transaction(self) -> None:
        self.transaction = struct.pack("<Q", (self.spid << 32) | next(self._transaction_ids))
        self.writer.write(tokens.envchange_transaction(tokens.ENV_BEGIN_TRAN, self.transaction))

    # -- streaming a batch's outcomes --
    def _stream_outcomes(self, start_batch, in_proc: bool) -> None:
        """Send every outcome of a batch; DONE (or DONEINPROC) after each, final DONE last.

        The DONE of a statement is written only once the next outcome is known, so that the
        last one goes out without DONE_MORE, as SQL Server does.
        """
        w = self.writer.write
        done_token = tokens.TOKEN_DONEINPROC if in_proc else tokens.TOKEN_DONE
        pending: tuple[int, int, int] | None = None  # (status, cur_cmd, row count) of the last statement
        failed: SqlServerError | None = None
        outcomes: Iterator | None = None

        def done_with_more() -> None:
            status, cur_cmd, count = pending
            w(tokens.done(status | tokens.DONE_MORE, cur_cmd, count, done_token))

        try:
            outcomes = iter(start_batch())
            for outcome in outcomes:
                if pending is not None:
                    done_with_more()
                if isinstance(outcome, ResultSet):
                    pending = (tokens.DONE_COUNT, tokens.CMD_SELECT, self._send_result_set(outcome))
                elif isinstance(outcome, RowCount):
                    pending = (tokens.DONE_COUNT, 0, outcome.count)
                elif isinstance(outcome, EnvChange):
                    self._send_envchange(outcome)
                    pending = (0, 0, 0)
                elif isinstance(outcome, StatementDone):
                    pending = (0, 0, 0)
                else:
                    raise TypeError(f"engine yielded {outcome!r}")
                self._check_client()
        except SqlServerError as err:
            failed = err
        except (Attention, ClientGone, ConnectionError, ProtocolError, ConnectionClosed):
            raise
        except Exception as exc:  # an engine bug must not take the connection down
            log.exception("spid %d: engine failure", self.spid)
            failed = SqlServerError(50000, f"Internal emulator error: {exc}", 16, 1)
        finally:
            _close_rows(outcomes)
        if failed is not None:
            log.info("spid %d: %s", self.spid, failed)
            if pending is not None:
                done_with_more()
            w(tokens.error(failed, SERVER_NAME))
            pending = (tokens.DONE_ERROR, 0, 0)
        status, cur_cmd, count = pending or (0, 0, 0)
        if in_proc:
            w(tokens.done(status | tokens.DONE_MORE, cur_cmd, count, done_token))
            w(tokens.return_status(0 if failed is None else -6))
            w(tokens.done(tokens.DONE_ERROR if failed else 0, token=tokens.TOKEN_DONEPROC))
        else:
            w(tokens.done(status, cur_cmd, count))
        self.writer.end_message()
        if failed is not None and failed.severity >= 20:
            raise ClientGone()

    def _send_envchange(self, change: EnvChange) -> None:
        w = self.writer.write
        if change.kind == "database":
            self.session.database = change.new
            w(tokens.envchange_text(tokens.ENV_DATABASE, change.new, change.old))
            w(tokens.info(5701, f"Changed database context to '{change.new}'.", SERVER_NAME, 1))
        elif change.kind == "language":
            self.session.language = change.new
            w(tokens.envchange_text(tokens.ENV_LANGUAGE, change.new, change.old))
            w(tokens.info(5703, f"Changed language setting to {change.new}.", SERVER_NAME, 1))
        else:
            raise TypeError(f"unknown EnvChange kind {change.kind!r}")

    def _send_result_set(self, result: ResultSet) -> int:
        """COLMETADATA and every row; returns the row count. Uses and fills the cache."""
        row_faults = self.server.faults.take_result_faults(result.columns)
        cache_key = None
        if result.cache_key is not None and not row_faults.any:
            cache_key = (result.cache_key, self.tds_version)
            cached = self.server.cache.get(cache_key)
            if cached is not None:
                _close_rows(result.rows)
                self._replay(cached)
                return cached.row_count
        # Ask for the first row before sending anything: a query that fails when it starts
        # (a cached-key query runs only now) must fail at the statement, not after COLMETADATA.
        rows = iter(result.rows)
        try:
            first = next(rows, None)
        except BaseException:
            _close_rows(rows)
            raise
        rows = _after_first(first, rows) if first is not None else iter(())
        compiled = tokens.compile_columns(result.columns, self.tds_version)
        encode_row = tokens.row_encoder(compiled, self.tds_version)
        self.writer.write(compiled.colmetadata)
        if row_faults.any:
            return self._send_rows_with_faults(rows, encode_row, row_faults)
        return self._send_rows(rows, encode_row, compiled.colmetadata, cache_key, result)

    def _send_rows(
        self, rows: Iterable[tuple], encode_row, colmetadata: bytes, cache_key, result: ResultSet
    ) -> int:
        writer = self.writer
        recording: list[bytes] | None = [colmetadata] if cache_key is not None else None
        recorded_size = len(colmetadata)
        limit = self.server.cache.max_bytes
        count = 0
        batch: list[bytes] = []
        batch_size = 0
        try:
            for row in rows:
                data = encode_row(row)
                batch.append(data)
                batch_size += len(data)
                count += 1
                if len(batch) >= CACHE_CHUNK_ROWS or batch_size >= FLUSH_BYTES:
                    chunk = b"".join(batch)
                    batch.clear()
                    batch_size = 0
                    writer.write(chunk)
                    if recording is not None:
                        recorded_size += len(chunk)
                        if recorded_size > limit:
                            recording = None
                        else:
                            recording.append(chunk)
                    self._send_if_full()
        finally:
            _close_rows(rows)
        if batch:
            chunk = b"".join(batch)
            writer.write(chunk)
            if recording is not None:
                recording.append(chunk)
                recorded_size += len(chunk)
        # The engine withdraws the key when the data changed before its query ran.
        if recording is not None and recorded_size <= limit and result.cache_key is not None:
            self.server.cache.put(cache_key, CachedResult(recording, count, recorded_size))
        return count

    def _replay(self, cached: CachedResult) -> None:
        writer = self.writer
        for chunk in cached.chunks:
            writer.write(chunk)
            self._send_if_full()

    def _send_rows_with_faults(self, rows: Iterable[tuple], encode_row, row_faults: ResultFaults) -> int:
        writer = self.writer
        count = 0
        try:
            for row in rows:
                if row_faults.malformed:
                    row = list(row)
                    for index, value in row_faults.malformed.items():
                        row[index] = value
                    row = tuple(row)
                writer.write(encode_row(row))
                count += 1
                if count == row_faults.disconnect_after_rows:
                    writer.flush_all_without_eom()
                    log.info(
                        "fault disconnect_after_rows: closing spid %d after %d rows",
                        self.spid,
                        count,
                    )
                    raise ClientGone()
                if count == row_faults.stall_after_rows:
                    writer.flush_all_without_eom()
                    log.info(
                        "fault stall_after_rows: spid %d pauses %d ms after %d rows",
                        self.spid,
                        row_faults.stall_ms,
                        count,
                    )
                    self._wait_for_attention(row_faults.stall_ms / 1000)
                self._send_if_full()
        finally:
            _close_rows(rows)
        if row_faults.disconnect_after_rows is not None and count < row_faults.disconnect_after_rows:
            writer.flush_all_without_eom()
            raise ClientGone()
        return count

    # -- watching the client while a response streams --
    def _send_if_full(self) -> None:
        """Send the buffered packets once there are enough, then look for an ATTENTION."""
        if self.writer.buffered >= FLUSH_BYTES:
            self.writer.flush_full_packets()
            self._check_client()

    def _check_client(self) -> None:
        """Raise Attention if the client sent ATTENTION (or ClientGone if it left)."""
        self._wait_for_attention(0)

    def _wait_for_attention(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            remaining_ms = max(0, round((deadline - time.monotonic()) * 1000))
            if not self.reader.buffered and not self._poller.poll(remaining_ms):
                return
            ptype, _status, _payload = self.reader.read_packet()
            if ptype == packets.PKT_ATTENTION:
                raise Attention()
            raise ProtocolError(
                f"packet type {ptype:#x} received while a response was streaming (MARS is not offered)"
            )


def _after_first(first: tuple, rows: Iterator[tuple]) -> Iterator[tuple]:
    """``first``, then the rest of ``rows``; closing this closes ``rows``."""
    try:
        yield first
        yield from rows
    finally:
        _close_rows(rows)


def _close_rows(rows) -> None:
    """Close an engine iterator (a generator's close runs its cleanup, e.g. the DuckDB cursor)."""
    close = getattr(rows, "close", None)
    if close is not None:
        close()


# --- sp_executesql parameters as literals -------------------------------------------------------
_SQL_TOKENS = re.compile(
    r"(?P<skip>N?'(?:[^']|'')*'|\[[^\]]*\]|\"[^\"]*\"|--[^\n]*|/\*.*?\*/)|(?P<param>@@?\w+)",
    re.DOTALL,
)
_DECLARATION = re.compile(
    r"\s*(@\w+)\s+((?:[^,(]|\([^)]*\))+?)(?:\s+(?:OUTPUT|OUT))?\s*(?:,|$)", re.IGNORECASE
)


def _bind_sp_executesql(parameters: list[packets.RpcParameter]) -> str:
    """sp_executesql @stmt, @params, @p1 = v1...: the statement with typed literals for parameters.

    The engine takes plain T-SQL text, so each parameter reference (outside strings, comments and
    quoted identifiers) becomes ``CAST(<literal> AS <declared type>)``, the type coming from
    @params, so a bit stays a bit and a NULL keeps its type.
    """
    if not parameters or not isinstance(parameters[0].value, str):
        raise SqlServerError(
            214, "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'.", 16, 2
        )
    statement = parameters[0].value
    declared = [
        (name.lower(), sql_type.strip())
        for name, sql_type in _DECLARATION.findall(
            (parameters[1].value if len(parameters) > 1 else None) or ""
        )
    ]
    types = dict(declared)
    values = {}
    positional = [p for p in parameters[2:] if not p.name]
    for (name, _), p in zip(declared, positional, strict=False):
        values[name] = p.value
    for p in parameters[2:]:
        if p.name:
            values[p.name.lower()] = p.value

    def substitute(match: re.Match) -> str:
        name = match.group("param")
        if name is None or name.startswith("@@"):
            return match.group(0)
        key = name.lower()
        if key not in values:
            raise SqlServerError(137, f'Must declare the scalar variable "{name}".', 15, 2)
        if key in types:
            return f"CAST({_plain_literal(values[key])} AS {types[key]})"
        return sql_literal(values[key])

    return _SQL_TOKENS.sub(substitute, statement)


def _plain_literal(value) -> str:
    """A T-SQL literal that CAST turns into the parameter's declared type."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SqlServerError(50000, "The emulator cannot bind a NaN or infinite float.", 16, 1)
        return repr(value)
    if isinstance(value, str):
        return "N'" + value.replace("'", "''") + "'"
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat(sep=' ')}'"
    if isinstance(value, (dt.date, dt.time, uuid.UUID)):
        return f"'{value}'"
    raise SqlServerError(
        50000, f"The emulator cannot bind a parameter of type {type(value).__name__}.", 16, 1
    )


def sql_literal(value) -> str:
    """A T-SQL literal carrying its own type, for a parameter @params does not declare."""
    if isinstance(value, float):
        return f"CAST({_plain_literal(value)} AS float)"
    if isinstance(value, uuid.UUID):
        return f"CAST('{value}' AS uniqueidentifier)"
    if isinstance(value, dt.datetime):
        kind = "datetimeoffset" if value.tzinfo is not None else "datetime2"
        return f"CAST({_plain_literal(value)} AS {kind})"
    if isinstance(value, dt.date):
        return f"CAST('{value.isoformat()}' AS date)"
    if isinstance(value, dt.time):
        return f"CAST('{value.isoformat()}' AS time)"
    return _plain_literal(value)
