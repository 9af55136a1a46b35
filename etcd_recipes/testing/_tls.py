"""A throw-away certificate authority for tests: a CA, a server and a client certificate.

Generated at run time with the ``cryptography`` package (``pip install cryptography``; it is in
etcd-recipes' ``dev`` extra), so no key material is ever committed::

    from etcd_recipes.testing import EtcdServer, make_tls_files

    tls = make_tls_files(tmp_path)                              # ~10 ms, ECDSA P-256
    with EtcdServer(tls=tls.server_files(client_cert_auth=True)) as server:
        client = Client(server.endpoints, **tls.client_kwargs())   # mutual TLS

The server certificate is valid for ``127.0.0.1``, ``::1`` and ``localhost`` (plus any
``hosts`` given), so clients verify the host name as they would in production.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._server import TlsFiles

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["TlsBundle", "make_tls_files"]

_DEFAULT_HOSTS = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class TlsBundle:
    """Paths of a generated CA and of certificates it signed (PEM files in one directory).

    Attributes:
        directory: where the files are.
        ca_cert: the CA certificate (what clients and servers trust).
        ca_key: the CA's private key (to sign more certificates with :meth:`issue`).
        server_cert: server certificate (``serverAuth`` and ``clientAuth`` usage).
        server_key: its private key.
        client_cert: client certificate whose common name is ``client_name``.
        client_key: its private key.
        client_name: the client certificate's common name (etcd can map it to a user).
    """

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_name: str

    def server_files(self, *, client_cert_auth: bool = False) -> TlsFiles:
        """:class:`TlsFiles` for :class:`EtcdServer` / :class:`EtcdCluster` (``tls=``).

        Without ``client_cert_auth`` clients need no certificate (server-side TLS only).
        """
        return TlsFiles(
            ca=self.ca_cert,
            cert=self.server_cert,
            key=self.server_key,
            client_cert_auth=client_cert_auth,
            client_cert=self.client_cert if client_cert_auth else None,
            client_key=self.client_key if client_cert_auth else None,
        )

    def client_kwargs(self, *, client_cert: bool = True) -> dict[str, Any]:
        """Keyword arguments for ``Client``/``AsyncClient``: the CA, and the client
        certificate and key unless ``client_cert`` is False."""
        kwargs: dict[str, Any] = {"ca_cert": str(self.ca_cert)}
        if client_cert:
            kwargs.update(cert=str(self.client_cert), key=str(self.client_key))
        return kwargs

    def issue(
        self,
        name: str,
        *,
        hosts: Sequence[str] = (),
        client: bool = True,
        server: bool = False,
    ) -> tuple[Path, Path]:
        """Sign one more certificate with this CA; returns ``(cert_path, key_path)``.

        ``name`` is the common name (and the file name stem); ``hosts`` are its subject
        alternative names (IP addresses or DNS names).
        """
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
        return _issue(
            self.directory, name, ca_cert, ca_key, hosts=hosts, client=client, server=server
        )


def _cryptography() -> None:
    try:
        import cryptography  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "make_tls_files needs the 'cryptography' package: pip install cryptography "
            "(it is part of etcd-recipes[dev])"
        ) from None


def _new_key() -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _write_cert(path: Path, cert: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _san(hosts: Sequence[str]) -> list[Any]:
    from cryptography import x509

    names: list[Any] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _validity() -> tuple[datetime.datetime, datetime.datetime]:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now - datetime.timedelta(hours=1), now + datetime.timedelta(days=7)


def _issue(
    directory: Path,
    name: str,
    ca_cert: Any,
    ca_key: Any,
    *,
    hosts: Sequence[str],
    client: bool,
    server: bool,
) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = _new_key()
    not_before, not_after = _validity()
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(_san(hosts)), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}-key.pem"
    _write_cert(cert_path, cert)
    _write_key(key_path, key)
    return cert_path, key_path


def make_tls_files(
    directory: str | os.PathLike[str],
    *,
    hosts: Sequence[str] = _DEFAULT_HOSTS,
    client_name: str = "client",
    ca_name: str = "etcd-recipes test CA",
) -> TlsBundle:
    """Create a CA, a server certificate for ``hosts`` and a client certificate in ``directory``.

    Keys are ECDSA P-256, certificates are valid from an hour ago for a week. Private keys are
    written with mode 0600. Returns the paths as a :class:`TlsBundle`.
    """
    _cryptography()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    ca_key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    not_before, not_after = _validity()
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_cert_path, ca_key_path = out / "ca.pem", out / "ca-key.pem"
    _write_cert(ca_cert_path, ca_cert)
    _write_key(ca_key_path, ca_key)
    server_cert, server_key = _issue(
        out, "server", ca_cert, ca_key, hosts=hosts, client=True, server=True
    )
    client_cert, client_key = _issue(
        out, client_name, ca_cert, ca_key, hosts=(), client=True, server=False
    )
    return TlsBundle(
        directory=out,
        ca_cert=ca_cert_path,
        ca_key=ca_key_path,
        server_cert=server_cert,
        server_key=server_key,
        client_cert=client_cert,
        client_key=client_key,
        client_name=client_name,
    )
