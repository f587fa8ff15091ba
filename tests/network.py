"""Outbound network guard for the whole suite: loopback only (Zulip's block_internet).

A child process doesn't inherit it: `python -m tests.network manage.py COMMAND …` runs a
command under the same guard.
"""

from __future__ import annotations

import ipaddress
import runpy
import socket
import sys

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


class NetworkBlocked(RuntimeError):
    pass


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):
        return True  # AF_UNIX socket path (PostgreSQL's socket, etc.)
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if not _is_local(address):
        raise NetworkBlocked(f"Test tried to reach {address!r}; only loopback is allowed.")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(address):
        raise NetworkBlocked(f"Test tried to reach {address!r}; only loopback is allowed.")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost") and not _looks_loopback(host):
        raise NetworkBlocked(f"Test tried to resolve {host!r}; only loopback is allowed.")
    return _real_getaddrinfo(host, *args, **kwargs)


def _looks_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def block_outbound_network() -> None:
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.getaddrinfo = _guarded_getaddrinfo


if __name__ == "__main__":
    block_outbound_network()
    script, *arguments = sys.argv[1:]
    sys.argv = [script, *arguments]
    runpy.run_path(script, run_name="__main__")
