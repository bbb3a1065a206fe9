"""Trust X-Forwarded-* only from the reverse proxies we configured.

Behind a proxy every request comes from the proxy's address, so per-address limits would put
the whole city into one bucket; trusting the headers from anyone would let a client pick its
own address. Werkzeug's ProxyFix takes the last ``TRUSTED_PROXY_COUNT`` hops of each header;
``TRUSTED_PROXIES`` (addresses or networks) further limits that to requests whose immediate
peer is one of our proxies: from anyone else the headers are dropped, not believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

_FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
              "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` → networks; ValueError names the entry at fault."""
    networks = []
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an address or network") from None
    return tuple(networks)


class TrustedProxies:
    """WSGI middleware: ProxyFix for requests from a trusted peer, headers dropped otherwise."""

    def __init__(self, app: Any, count: int, networks: Iterable[Network]) -> None:
        self.direct = app
        self.fixed = ProxyFix(app, x_for=count, x_proto=count, x_host=count, x_port=count,
                              x_prefix=count)
        self.networks = tuple(networks)

    def _trusted_peer(self, environ: dict[str, Any]) -> bool:
        if not self.networks:
            return True
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        return any(peer in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._trusted_peer(environ):
            return self.fixed(environ, start_response)
        for name in _FORWARDED:
            environ.pop(name, None)
        return self.direct(environ, start_response)


def install(app: Any, count: int, trusted: str) -> None:
    """Wrap the app when proxies are configured; with none, forwarded headers are ignored
    (Flask reads only the socket's address)."""
    if count < 0:
        raise ValueError("TRUSTED_PROXY_COUNT must be 0 or more")
    if count:
        app.wsgi_app = TrustedProxies(app.wsgi_app, count, parse_networks(trusted))
