"""Where webhooks may go: http(s) URLs without credentials; in production (``DEBUG`` off)
never a private, loopback, link-local or otherwise internal address, unless the setting
``WEBHOOKS_ALLOW_PRIVATE_HOSTS`` is true. Checked when an endpoint is saved and again before
every POST (a host name may resolve elsewhere later), and once more on the connection
itself: the address the socket reached must be public too, so a name that resolves to a
public address for the check and to an internal one for the connection (DNS rebinding) is
cut off before a byte of the request is sent."""

import http.client
import ipaddress
import socket
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings


def _private_allowed() -> bool:
    return settings.DEBUG or getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_HOSTS", False)


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def destination_refusal(url: str, *, resolve: bool = True) -> str | None:
    """Why a webhook may not be sent to ``url``, or None when it may."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Only http:// and https:// URLs can receive webhooks."
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "Leave credentials out of the URL: the signature proves who sends."
    host = parts.hostname
    if not host:
        return "The URL has no host."
    if _private_allowed():
        return None
    try:
        addresses = [ipaddress.ip_address(host).compressed]
    except ValueError:
        if host.lower() == "localhost" or host.lower().endswith((".localhost", ".local")):
            return "Webhooks cannot go to this server's own network."
        if not resolve:
            return None
        try:
            found = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return f"The host {host} cannot be resolved."
        addresses = [info[4][0] for info in found]
    if any(_internal(address) for address in addresses):
        return "Webhooks cannot go to private, loopback or link-local addresses."
    return None


class InternalAddressError(OSError):
    """The connection reached an address webhooks may not go to."""


def _peer_check(sock) -> None:
    if _private_allowed():
        return
    address = sock.getpeername()[0]
    if _internal(address):
        sock.close()
        raise InternalAddressError(f"{address} is a private, loopback or link-local address")


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def connect(self):
        super().connect()
        _peer_check(self.sock)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self):
        # The TCP part first (HTTPConnection.connect), checked before the TLS handshake.
        http.client.HTTPConnection.connect(self)
        _peer_check(self.sock)
        server_hostname = self._tunnel_host or self.host
        self.sock = self._context.wrap_socket(self.sock, server_hostname=server_hostname)


class CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_CheckedHTTPConnection, req)


class CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_CheckedHTTPSConnection, req, context=self._context)
