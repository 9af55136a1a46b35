"""TLS settings: gRPC channel credentials from PEM files or bytes, and hints that explain a
failed handshake.

TLS is on when an endpoint says ``https://`` or any of ``ca_cert``/``cert``/``key``/
``server_name`` (or ``credentials``) is given. Certificate and host-name verification are
always on; nothing ever falls back to plaintext. Without ``ca_cert`` the system's trusted roots
(gRPC's bundle) are used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Union

import grpc

from .._exceptions import InvalidArgumentError
from .endpoints import parse_endpoints

PemSource = Union[str, bytes, "os.PathLike[str]"]
"""A PEM file's path, or the PEM data itself (``bytes``, or a ``str`` starting with
``-----BEGIN``)."""

_PEM_MARK = b"-----BEGIN"


def load_pem(source: PemSource, what: str) -> bytes:
    """The PEM bytes of ``source``. Errors name the file, never its content."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        where = ""
    elif isinstance(source, str) and source.lstrip().startswith(_PEM_MARK.decode()):
        data = source.encode()
        where = ""
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            with open(path, "rb") as pem:
                data = pem.read()
        except OSError as error:
            raise InvalidArgumentError(
                f"cannot read {what} file {path!r}: {error.strerror or error}"
            ) from None
        where = f" in {path!r}"
    else:
        raise InvalidArgumentError(
            f"{what} must be a file path or PEM bytes, not {type(source).__name__}"
        )
    if _PEM_MARK not in data:
        raise InvalidArgumentError(f"{what} is not PEM data (no '-----BEGIN' line){where}")
    return data


def channel_security(
    endpoints: str | Sequence[str],
    *,
    ca_cert: PemSource | None = None,
    cert: PemSource | None = None,
    key: PemSource | None = None,
    server_name: str | None = None,
    credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> tuple[grpc.ChannelCredentials | None, list[tuple[str, Any]]]:
    """The channel credentials (None: plaintext) and options for these TLS settings.

    Raises InvalidArgumentError for contradictions: ``http://`` endpoints with TLS settings,
    ``http://`` mixed with ``https://``, ``cert`` without ``key`` (or the reverse), or
    ``credentials`` together with ``ca_cert``/``cert``/``key``.
    """
    schemes = {e.secure for e in parse_endpoints(endpoints)}
    pem_given = any(v is not None for v in (ca_cert, cert, key))
    wants_tls = pem_given or server_name is not None or credentials is not None
    if True in schemes and False in schemes:
        raise InvalidArgumentError("endpoints mix http:// and https://; use one scheme")
    if False in schemes and wants_tls:
        raise InvalidArgumentError(
            "TLS settings were given but the endpoints say http://; use https:// (or no scheme)"
        )
    if credentials is not None and pem_given:
        raise InvalidArgumentError("give either credentials= or ca_cert=/cert=/key=, not both")
    if (cert is None) != (key is None):
        raise InvalidArgumentError("a client certificate needs both cert= and key=")
    if server_name is not None and (not isinstance(server_name, str) or not server_name):
        raise InvalidArgumentError(f"server_name must be a non-empty str, not {server_name!r}")
    use_tls = wants_tls or True in schemes
    if use_tls and credentials is None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=load_pem(ca_cert, "ca_cert") if ca_cert is not None else None,
            private_key=load_pem(key, "key") if key is not None else None,
            certificate_chain=load_pem(cert, "cert") if cert is not None else None,
        )
    extra = list(options)
    if server_name is not None:
        extra.append(("grpc.ssl_target_name_override", server_name))
    return credentials, extra


# What gRPC's transport error says -> what to do about it.
_HINTS: tuple[tuple[str, str], ...] = (
    (
        "CERTIFICATE_VERIFY_FAILED",
        "the server's certificate is not signed by a CA this client trusts: "
        "pass ca_cert= the CA that signed it",
    ),
    (
        "Hostname Verification",
        "the server's certificate does not name the host connected to: use an endpoint "
        "named in the certificate, or server_name=",
    ),
    (
        "BAD_CERTIFICATE",
        "the server refused this client's certificate (or wants one): pass cert= and key= "
        "signed by the CA the server trusts",
    ),
    (
        "TSI_DATA_CORRUPTED",
        "the server ended the TLS session; it may require a client certificate (cert= and key=)",
    ),
    (
        "CERTIFICATE_REQUIRED",
        "the server requires a client certificate: pass cert= and key=",
    ),
    (
        "Handshake read failed",
        "the server closed the connection during the TLS handshake: is it serving plain "
        "http (then connect without TLS)?",
    ),
    (
        "WRONG_VERSION_NUMBER",
        "the server does not speak TLS: connect without TLS settings",
    ),
)


def tls_hint(details: str, *, tls: bool) -> str | None:
    """A sentence explaining a connection failure whose gRPC description is ``details``."""
    for needle, hint in _HINTS:
        if needle.lower() in details.lower():
            return hint
    if not tls and "socket closed" in details.lower():
        return "if the server serves TLS, connect with https:// and ca_cert="
    return None
