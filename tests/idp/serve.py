"""Run the test identity provider: `python -m tests.idp.serve FOLDER`.

Binds a free loopback port itself, makes an RS256 key and a fresh database in FOLDER, then prints
`listening <issuer>` once it serves, so the starting fixture knows where it is without a race.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:
        sys.stderr.write("idp: " + format % args + "\n")


def rsa_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def main(folder: Path) -> None:
    server = make_server(
        "127.0.0.1", 0, lambda e, s: [], server_class=ThreadingServer, handler_class=QuietHandler
    )
    issuer = f"http://127.0.0.1:{server.server_port}/o"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.idp.settings",
            "IDP_DATABASE": str(folder / "idp.sqlite3"),
            "IDP_RSA_PRIVATE_KEY": rsa_private_key_pem(),
            "IDP_ISSUER": issuer,
            "IDP_SECRET_KEY": secrets.token_urlsafe(32),
        }
    )
    import django
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    server.set_app(get_wsgi_application())
    print(f"listening {issuer}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
