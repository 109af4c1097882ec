"""A tiny HTTP or HTTPS server in a thread of the test process: every request gets one chosen answer, and
the headers of each request are kept. For checking what a client does with 401, 403, 404, 5xx or a
self-signed certificate, without starting a real server."""
from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Answer:
    status: int = 200
    body: str = '{"experiments": []}'
    content_type: str = "application/json"


@dataclass
class HttpStub:
    url: str
    answer: Answer
    headers: list[dict[str, str]] = field(default_factory=list)
    cert: Path | None = None  # the self-signed certificate (PEM) of an HTTPS stub

    def answer_with(self, status: int, body: str, content_type: str = "text/html") -> None:
        self.answer.status, self.answer.body, self.answer.content_type = status, body, content_type


def _handler(stub_of: list[HttpStub]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            stub = stub_of[0]
            stub.headers.append(dict(self.headers))
            body = stub.answer.body.encode()
            self.send_response(stub.answer.status)
            self.send_header("Content-Type", stub.answer.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, *args) -> None:  # quiet
            pass

    return Handler


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key; returns (certificate, key) PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "stub-cert.pem", folder / "stub-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


@contextmanager
def http_stub(tls_folder: Path | None = None) -> Iterator[HttpStub]:
    """An HTTP stub, or an HTTPS one with a self-signed certificate written to `tls_folder`."""
    holder: list[HttpStub] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    cert = None
    if tls_folder is not None:
        cert, key = self_signed_certificate(tls_folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    scheme = "https" if cert else "http"
    holder.append(HttpStub(f"{scheme}://127.0.0.1:{server.server_address[1]}", Answer(), cert=cert))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
