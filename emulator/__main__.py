"""`python -m emulator --host 127.0.0.1 --port 8081`: run the WeChat emulator."""

from __future__ import annotations

import argparse
import re

from flask.cli import load_dotenv
from werkzeug.serving import WSGIRequestHandler

from emulator import create_app

_CREDENTIAL = re.compile(r"\b(access_token|secret)=([^&\s]*)")


def mask_credentials(text: str) -> str:
    """Shorten tokens and hide secrets in request lines, as the call log does."""
    return _CREDENTIAL.sub(
        lambda m: f"{m[1]}={m[2][:6]}…" if m[1] == "access_token" else f"{m[1]}=***", text
    )


class MaskingRequestHandler(WSGIRequestHandler):
    """werkzeug's access log would otherwise print every access_token and app secret."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.log("info", '"%s %s" %s %s', self.command, mask_credentials(self.path), code, size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator",
                                     description="Local stand-in for WeChat's server API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    # Same .env as the other processes, loaded before the settings are read.
    load_dotenv()
    # Threaded: the web app and the RQ worker call it concurrently, as they would WeChat.
    create_app().run(host=args.host, port=args.port, threaded=True, use_reloader=False,
                     request_handler=MaskingRequestHandler)


if __name__ == "__main__":
    main()
