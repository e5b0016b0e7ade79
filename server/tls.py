"""The TLS context of `homeshore serve --tls-cert FILE --tls-key FILE`: HTTPS on the HTTP port.

Everything is checked before anything listens, one reason at a time, so the operator reads which file is wrong:
a file that cannot be read; a certificate file that holds no PEM certificate; a key file that holds no PEM key,
or one locked with a passphrase (the server starts unattended, so it never asks for one: a terminal prompt
would hang a service); a key that is not the certificate's. The certificate file may carry the chain after the
server's certificate (intermediates), as load_cert_chain reads it. TLS 1.2 at least, the ssl module's defaults
otherwise.
"""

from __future__ import annotations

import ssl
from pathlib import Path


class TlsError(Exception):
    """The certificate or key cannot be used; one line naming the option and the file."""


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    for option, path in (("--tls-cert", cert_path), ("--tls-key", key_path)):
        try:
            path.read_bytes()
        except OSError as error:
            raise TlsError(f"{option}: cannot read {path}: {error.strerror}") from None
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(cert_path))
    except (ssl.SSLError, ValueError):
        raise TlsError(f"--tls-cert: {cert_path} holds no PEM certificate") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_path), str(key_path), password=_no_passphrase(key_path))
    except ssl.SSLError as error:
        if error.reason == "KEY_VALUES_MISMATCH":
            raise TlsError(f"--tls-key: {key_path} is not the key of the certificate in {cert_path}") from None
        raise TlsError(f"--tls-key: {key_path} holds no PEM private key") from None
    return context


def _no_passphrase(key_path: Path):
    def refuse() -> bytes:
        raise TlsError(f"--tls-key: {key_path} is locked with a passphrase; the server starts unattended, so give "
                       "it a key without one (openssl pkey -in KEY -out KEY.plain, kept 0600)")
    return refuse
