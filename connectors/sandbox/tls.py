"""TLS for the fake vendor APIs: a self-signed certificate for 127.0.0.1 and an HTTPS server.

The vendors' SDKs speak ``https://`` only (simple-salesforce builds its URLs itself), so the
fakes serve HTTPS with a certificate made here. Clients trust it by pointing
``requests.Session.verify`` at :attr:`TlsFiles.cert` (and setting ``trust_env = False``, since
``REQUESTS_CA_BUNDLE`` would otherwise override ``verify``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import logging
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class TlsFiles:
    """Where a certificate and its private key were written (PEM)."""

    cert: Path
    key: Path


def make_certificate(directory: Path | None = None, *, days: int = 7) -> TlsFiles:
    """Write a self-signed certificate for ``127.0.0.1`` and ``localhost`` into ``directory``.

    The certificate is its own trust anchor (CA), so ``verify=<cert path>`` accepts it.

    Args:
        directory: Where to write ``cert.pem`` and ``key.pem``; a new temporary directory
            when ``None``.
        days: Validity from now.

    Returns:
        The two paths.
    """
    out = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="revops-tls-"))
    out.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "revops sandbox 127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(cert=out / "cert.pem", key=out / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    return files


class _TlsThreadingServer(ThreadingHTTPServer):
    """A threading HTTP server that does each TLS handshake in the connection's own thread."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext) -> None:
        super().__init__((LOOPBACK, 0), handler)
        self.context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
        # and the client's delayed ACK add ~40 ms to every response.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            # typeshed types the handler's server argument as Self, which mypy does not bind
            # to this subclass when the attribute is read through self.
            self.RequestHandlerClass(conn, client_address, self)  # type: ignore[arg-type]
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def shutdown_request(self, request: Any) -> None:
        # The plain socket was detached into the TLS socket, which finish_request closed.
        with contextlib.suppress(OSError):
            request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("fake API connection from %s ended with an error", client_address, exc_info=True)


class HttpsServer:
    """Run a request handler class over HTTPS on ``127.0.0.1`` (free port) in a thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: TlsFiles | None = None):
        self.tls = tls or make_certificate()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        self._server = _TlsThreadingServer(handler, context)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` (no trailing slash)."""
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def cert(self) -> str:
        """Path of the certificate clients must trust."""
        return str(self.tls.cert)

    @property
    def server(self) -> ThreadingHTTPServer:
        """The underlying server (handlers reach their fake through ``self.server``)."""
        return self._server

    def start(self) -> HttpsServer:
        """Serve in a daemon thread; returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"fake-api-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> HttpsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class QuietHandler(BaseHTTPRequestHandler):
    """Request handler base for the fakes: HTTP/1.1 keep-alive, JSON and text replies, no
    access log on stderr (requests go to the ``logging`` debug level instead)."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections end after this many seconds

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def read_body(self) -> bytes:
        """The request body (by ``Content-Length``; empty when there is none)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a complete response with ``Content-Length`` (keep-alive safe)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """Send ``payload`` as compact JSON."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_body(status, body, "application/json;charset=UTF-8", headers)
