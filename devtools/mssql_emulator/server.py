"""The TDS server: accepts connections, logs clients in, runs their requests on the engine.

One thread per connection. A connection's life: PRELOGIN, LOGIN7, then requests (SQL batch,
RPC, transaction manager) until the client leaves. Responses are streamed: rows are encoded and
sent in large writes while the engine produces them, and an ATTENTION from the client stops the
stream at the next write.
"""

from __future__ import annotations

import itertools
import logging
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterable, Iterator

from devtools.mssql_emulator import (
    client_messages,
    dm_exec_connections,
    dm_exec_sessions,
    errors,
    login_policy,
    packets,
    sp_executesql,
    textsize,
    tls,
    tokens,
    waitfor,
)
from devtools.mssql_emulator import faults as fault_commands
from devtools.mssql_emulator.faults import FaultRegistry, ResultFaults
from devtools.mssql_emulator.login_policy import Encryption
from devtools.mssql_emulator.packets import (
    ConnectionClosed,
    Message,
    PacketReader,
    PacketWriter,
    ProtocolError,
)
from devtools.mssql_emulator.result_cache import (
    CACHE_CHUNK_ROWS,
    DEFAULT_CACHE_BYTES,
    CachedResult,
    ResultCache,
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


class Attention(waitfor.Interrupted):
    """The client sent ATTENTION: stop the current response and acknowledge with DONE_ATTN."""


class ClientGone(Exception):
    """Stop serving this connection (client left, or a fault closed it)."""


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
        server_tls: tls.ServerTls | None = None,
        force_encryption: bool = False,
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
        # A real SQL Server always offers TLS, with a self-signed certificate if none is set.
        self.tls = server_tls if server_tls is not None else tls.ServerTls()
        self.force_encryption = force_encryption
        self.connections_view = dm_exec_connections.ConnectionsView(engine)
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
        if connection.session is not None:
            self.connections_view.remove(connection.spid)

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
        self.tls.close()


# --- one client connection ----------------------------------------------------------------------


# Kept across any reset: the isolation level ("isolation levels are not reset", MS-TDS
# 2.2.3.1.2). RESETCONNECTIONSKIPTRAN also keeps the engine's own state (the options whose names
# start with "__", which hold the open transaction).
_KEPT_AT_RESET = ("transaction",)


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
        self.login_textsize = textsize.DEFAULT  # what sp_reset_connection goes back to
        self._transaction_ids = itertools.count(1)
        self.transaction: bytes | None = None  # current transaction descriptor (8 bytes)
        self.encryption = Encryption.NONE

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
            if self.session is not None:
                self.server.engine.end_session(self.session)
            self.server.forget(self)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def _use_stream(self, stream) -> None:
        """Read and write TDS packets on ``stream`` (the socket, or TLS over it) from now on."""
        writer = PacketWriter(stream, self.writer.packet_size)
        writer.spid = self.spid
        self.reader = PacketReader(stream)
        self.writer = writer

    def _send_prelogin_packet(self, payload: bytes) -> None:
        self.writer.write(payload)
        self.writer.end_message(packets.PKT_PRELOGIN)

    # -- login (2.2.6.5 PRELOGIN, 2.2.6.4 LOGIN7) --
    def _login(self) -> bool:
        server = self.server
        if tls.starts_with_tls(self.sock):
            try:
                channel = tls.accept_direct(self.sock, server.tls.strict_context)
            except ssl.SSLError as exc:
                log.info("spid %d: TDS 8.0 TLS handshake failed: %s", self.spid, exc)
                raise ClientGone() from exc
            self._use_stream(channel)
            self.encryption = Encryption.STRICT
            log.debug(
                "spid %d: TDS 8.0 TLS (%s, ALPN %s)",
                self.spid,
                channel.version,
                channel.tls.selected_alpn_protocol(),
            )
        message = self.reader.read_message()
        login_only = False
        if message.type == packets.PKT_PRELOGIN:
            options = client_messages.parse_prelogin(message.payload)
            log.debug("spid %d: PRELOGIN options %s", self.spid, {k: v.hex() for k, v in options.items()})
            client_value = (
                options.get(client_messages.PL_ENCRYPTION) or bytes([client_messages.ENCRYPT_NOT_SUP])
            )[0]
            if self.encryption is Encryption.STRICT:
                choice = login_policy.EncryptionChoice(
                    login_policy.strict_prelogin_answer(), Encryption.STRICT
                )
            else:
                choice = login_policy.choose_encryption(client_value, force=server.force_encryption)
            self.writer.write(tokens.prelogin_response(PRODUCT_VERSION, choice.answer))
            self.writer.end_message()
            if choice.refuse:
                log.info(
                    "spid %d: client cannot encrypt and the server forces encryption: closing", self.spid
                )
                raise ClientGone()
            if server.faults.take("drop_connections"):
                log.info("fault drop_connections: closing spid %d after PRELOGIN", self.spid)
                raise ClientGone()
            if choice.encryption in (Encryption.LOGIN_ONLY, Encryption.FULL):
                try:
                    channel = tls.accept_in_prelogin(
                        self.reader, self._send_prelogin_packet, server.tls.prelogin_context
                    )
                except ssl.SSLError as exc:
                    log.info("spid %d: TLS handshake failed: %s", self.spid, exc)
                    raise ClientGone() from exc
                self._use_stream(channel)
                login_only = choice.encryption is Encryption.LOGIN_ONLY
            self.encryption = choice.encryption
            message = self.reader.read_message()
        elif server.force_encryption and self.encryption is not Encryption.STRICT:
            log.info(
                "spid %d: LOGIN7 without PRELOGIN while the server forces encryption: closing", self.spid
            )
            raise ClientGone()
        if message.type != packets.PKT_LOGIN7:
            raise ProtocolError(f"expected LOGIN7, got packet type {message.type:#x}")
        if login_only:
            # Only the LOGIN7 packet travels in TLS; the client drops TLS once it has sent it
            # ([MS-TDS] 2.2.6.5: "Encrypt login packet only").
            self._use_stream(self.sock)
        login = client_messages.parse_login7(message.payload)
        log.info("spid %d: %r (encryption: %s)", self.spid, login, self.encryption.value)
        login.tds_version = login_policy.token_stream_version(login.tds_version, self.encryption)
        refusal = login_policy.version_refusal(login.tds_version)
        if refusal is not None:
            log.info("spid %d: login refused: %s", self.spid, refusal)
            self.writer.write(tokens.pre_72_login_refusal(refusal, SERVER_NAME))
            self.writer.end_message()
            return False
        self.tds_version = min(login.tds_version, tokens.TDS74)
        packet_size = login.packet_size or packets.DEFAULT_PACKET_SIZE
        packet_size = max(packets.MIN_PACKET_SIZE, min(packets.MAX_PACKET_SIZE, packet_size))

        fault = server.faults.take("delay_login")
        if fault:
            time.sleep(fault.params["ms"] / 1000)

        user = login.user_name
        database = login.database or server.database
        failure = login_policy.login_failures(
            login,
            user=server.user,
            password=server.password,
            database=database,
            database_exists=server.engine.database_exists,
        )
        if failure:
            log.info("spid %d: login refused: %s", self.spid, failure[-1])
            for err in failure:
                self.writer.write(tokens.error(err, SERVER_NAME))
            self.writer.write(tokens.done(tokens.DONE_ERROR))
            self.writer.end_message()
            return False

        self.session = Session(user=user, database=database, spid=self.spid)
        self.login_textsize = textsize.at_login(login.option_flags2, self.tds_version)
        self.session.options[textsize.OPTION] = self.login_textsize
        self.login_state = (database, self.session.language, dict(self.session.options))
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
        server.connections_view.add(
            dm_exec_connections.ConnectionRow(
                session_id=self.spid,
                protocol_version=self.tds_version,
                encrypted=self.encryption.session_encrypted,
                packet_size=packet_size,
                client_address=self.address[:2],
                local_address=self.sock.getsockname()[:2],
            )
        )
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
        reset = message.first_status & (
            packets.STATUS_RESET_CONNECTION | packets.STATUS_RESET_CONNECTION_SKIP_TRAN
        )
        if reset and message.type in (
            packets.PKT_SQL_BATCH,
            packets.PKT_RPC,
            packets.PKT_TRANSACTION_MANAGER,
        ):
            # "Reset this connection before processing event" (MS-TDS 2.2.3.1.2), as Microsoft's
            # drivers do for a pooled connection: ENVCHANGE type 18 acknowledges it, then come
            # the changes the reset made (the documentation gives no order; this one is ours).
            self.writer.write(tokens.envchange_reset_ack())
            self._reset_connection(keep_transaction=bool(reset & packets.STATUS_RESET_CONNECTION_SKIP_TRAN))
        if message.type == packets.PKT_SQL_BATCH:
            sql = client_messages.parse_sql_batch(message.payload, self.tds_version)
            log.debug("spid %d: batch %r", self.spid, sql[:500])
            self._run_batch(sql)
        elif message.type == packets.PKT_RPC:
            try:
                rpc = client_messages.parse_rpc_request(message.payload, self.tds_version)
            except ProtocolError as error:
                # A whole, well-framed message holding a parameter type the emulator cannot
                # decode (a table-valued parameter, 0xF3: MS-TDS 2.2.5.5.5) is a refused
                # request, not a broken stream: answer it and keep the connection.
                if "is not supported by the emulator" not in str(error):
                    raise
                log.info("spid %d: %s", self.spid, error)
                self._send_error_response(
                    SqlServerError(40517, f"{error}.", 16, 1), token=tokens.TOKEN_DONEPROC
                )
                return
            self._run_rpc(rpc)
        elif message.type == packets.PKT_TRANSACTION_MANAGER:
            self._run_transaction_request(
                client_messages.parse_transaction_request(message.payload, self.tds_version)
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
    def _run_rpc(self, rpc: client_messages.RpcRequest) -> None:
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
        if name in ("sp_reset_connection", "sys.sp_reset_connection"):
            # What python-tds' connection pool calls before reuse (an RPC, not the status bit).
            self._reset_connection(keep_transaction=False)
            self.writer.write(tokens.return_status(0))
            self.writer.write(tokens.done(token=tokens.TOKEN_DONEPROC))
            self.writer.end_message()
            return
        if name not in ("sp_executesql", "sys.sp_executesql"):
            self._send_error_response(
                errors.unsupported(
                    f"The procedure '{rpc.proc_name}' called over RPC (only sp_executesql is)"
                ),
                token=tokens.TOKEN_DONEPROC,
            )
            return
        try:
            sql = sp_executesql.bind_parameters(rpc.parameters)
        except SqlServerError as err:
            self._send_error_response(err, token=tokens.TOKEN_DONEPROC)
            return
        injected = self.server.faults.take_query_error(self.spid, self.session.database)
        if injected:
            self._send_error_response(injected, token=tokens.TOKEN_DONEPROC)
            return
        self._stream_outcomes(lambda: self.server.engine.execute_batch(self.session, sql), in_proc=True)

    # -- 2.2.6.9 transaction manager requests (python-tds begin/commit/rollback) --
    def _run_transaction_request(self, request: client_messages.TransactionRequest) -> None:
        statements = {
            client_messages.TM_BEGIN_XACT: "BEGIN TRANSACTION",
            client_messages.TM_COMMIT_XACT: "COMMIT TRANSACTION",
            client_messages.TM_ROLLBACK_XACT: "ROLLBACK TRANSACTION",
        }
        sql = statements.get(request.request_type)
        if sql is None:
            self._send_error_response(
                errors.unsupported(f"Transaction manager request {request.request_type}")
            )
            return
        if request.begin_new:
            sql += "; BEGIN TRANSACTION"
        level = dm_exec_sessions.ISOLATION_NAMES.get(request.isolation_level)
        if level:  # the transaction begun runs at the request's IsolationLevel (2.2.6.9)
            sql = f"SET TRANSACTION ISOLATION LEVEL {level}; {sql}"
        try:
            changes = [
                o for o in self.server.engine.execute_batch(self.session, sql) if isinstance(o, EnvChange)
            ]
        except SqlServerError as err:
            self._send_error_response(err)
            return
        # The response: the ENVCHANGE of each transaction begun or ended (types 8, 9, 10 of
        # MS-TDS 2.2.7.9), then DONE. A nested BEGIN or an inner COMMIT changes none.
        for change in changes:
            self._send_envchange(change)
        self.writer.write(tokens.done())
        self.writer.end_message()

    def _begin_transaction(self) -> None:
        self.transaction = struct.pack("<Q", (self.spid << 32) | next(self._transaction_ids))
        self.writer.write(tokens.envchange_transaction(tokens.ENV_BEGIN_TRAN, self.transaction))

    def _reset_connection(self, keep_transaction: bool) -> None:
        """Back to the state of the login: "clean up the environment state of the connection
        back to the default environment setting, effectively simulating a logout and a
        subsequent login" (MS-TDS 2.2.3.1.2, RESETCONNECTION; sp_reset_connection does the
        same). The open transaction is rolled back unless RESETCONNECTIONSKIPTRAN keeps it;
        "isolation levels are not reset". SET options, TEXTSIZE, the language and the current
        database go back to the login's, each change announced with its ENVCHANGE.
        """
        database, language, options = self.login_state
        if not keep_transaction:
            self.server.engine.end_session(self.session)
            if self.transaction is not None:
                self._end_transaction(tokens.ENV_ROLLBACK_TRAN)
        kept = {key: value for key, value in self.session.options.items() if key in _KEPT_AT_RESET}
        if keep_transaction:
            kept.update((k, v) for k, v in self.session.options.items() if k.startswith("__"))
        self.session.options.clear()
        self.session.options.update({**options, **kept})
        if self.session.database.lower() != database.lower():
            old, self.session.database = self.session.database, database
            self.writer.write(tokens.envchange_text(tokens.ENV_DATABASE, database, old))
        if self.session.language != language:
            old, self.session.language = self.session.language, language
            self.writer.write(tokens.envchange_text(tokens.ENV_LANGUAGE, language, old))

    def _end_transaction(self, env_type: int) -> None:
        self.writer.write(tokens.envchange_transaction(env_type, self.transaction or b"\x00" * 8))
        self.transaction = None

    def _transaction_ended_by_error(self) -> None:
        """An error that rolled the transaction back (XACT_ABORT ON, an update conflict) ends
        the client's transaction descriptor too: a rollback ENVCHANGE before the final DONE."""
        if self.transaction is not None and not self.server.engine.in_transaction(self.session):
            self._end_transaction(tokens.ENV_ROLLBACK_TRAN)

    # -- streaming a batch's outcomes --
    def _stream_outcomes(self, start_batch, in_proc: bool) -> None:
        """Send every outcome of a batch; DONE (or DONEINPROC) after each, final DONE last.

        The DONE of a statement is written only once the next outcome is known, so that the
        last one goes out without DONE_MORE, as SQL Server does.
        """
        w = self.writer.write
        self.session.options[waitfor.WAIT_OPTION] = self._wait_for_attention  # WAITFOR DELAY
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
            # The traceback is in the emulator's log; the client gets SQL Server's shape of error,
            # never Python's text.
            failed = errors.unsupported(f"Something in this batch ({type(exc).__name__} in the emulator)")
        finally:
            _close_rows(outcomes)
        if failed is not None:
            log.info("spid %d: %s", self.spid, failed)
            if pending is not None:
                done_with_more()
            w(tokens.error(failed, SERVER_NAME))
            self._transaction_ended_by_error()
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
        elif change.kind == "begin_transaction":
            self._begin_transaction()
        elif change.kind in ("commit_transaction", "rollback_transaction"):
            self._end_transaction(
                tokens.ENV_COMMIT_TRAN if change.kind == "commit_transaction" else tokens.ENV_ROLLBACK_TRAN
            )
        elif change.kind == "language":
            self.session.language = change.new
            w(tokens.envchange_text(tokens.ENV_LANGUAGE, change.new, change.old))
            w(tokens.info(5703, f"Changed language setting to {change.new}.", SERVER_NAME, 1))
        else:
            raise TypeError(f"unknown EnvChange kind {change.kind!r}")

    def _send_result_set(self, result: ResultSet) -> int:
        """COLMETADATA and every row; returns the row count. Uses and fills the cache."""
        row_faults = self.server.faults.take_result_faults(result.columns)
        text_limit = textsize.byte_limit(self.session.options)
        cache_key = None
        # Connection rows change without a catalog version bump (see dm_exec_connections).
        if (
            result.cache_key is not None
            and not row_faults.any
            and not dm_exec_connections.mentioned_in(result.cache_key)
        ):
            # Two queries may run the same DuckDB SQL yet declare other types (CAST to text or to
            # varchar(max)): the encoded COLMETADATA belongs to the declared columns too.
            cache_key = (result.cache_key, tuple(result.columns), self.tds_version, text_limit)
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
        compiled = tokens.compile_columns(result.columns, self.tds_version, text_limit)
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
                if count == row_faults.stall_after_rows and self.server.faults.claim(row_faults.stall):
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
