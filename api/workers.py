"""Several server processes on one port, each with a listening socket of its own.

``placement serve --workers N`` runs uvicorn's supervisor (it restarts a dead worker and passes
signals on), but each worker listens on its own ``SO_REUSEPORT`` socket: the kernel then spreads
new connections evenly over the workers. With uvicorn's one shared socket, the worker that
accepts first takes a whole burst of connections, and kept-alive connections stay where they
landed: 14 of 16 on one of two workers in ``benchmarks/bench_api.py``, whose p95 was then that
worker's alone.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import multiprocess


class PortTaken(OSError):
    """The address to listen on is taken (or not this machine's)."""


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT`` (not yet listening)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class _OwnSocketProcess(multiprocess.Process):
    """A uvicorn worker that listens on a socket of its own on the shared port (``SO_REUSEPORT``)
    instead of the parent's socket."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # runs in the worker
        for inherited in sockets or ():
            inherited.close()
        super().target([reuse_port_socket(self.config.host, self.config.port)])


def run_balanced(config: uvicorn.Config) -> None:
    """uvicorn's supervisor of ``config.workers`` processes (restarts, signals), each worker
    listening on its own ``SO_REUSEPORT`` socket: the kernel then spreads new connections evenly
    over the workers. With one shared socket (uvicorn's way) the worker that accepts first takes
    a whole burst of connections, and kept-alive connections stay unbalanced: 14 of 16 on one of
    two workers in the benchmark, whose p95 was that worker's. The parent's socket, bound and
    never listening, holds the port. A port already taken fails here, before any worker starts, even
    when what holds it is another server with ``SO_REUSEPORT`` (it would otherwise share its traffic)."""
    with socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET) as probe:
        try:  # fails if anything holds the port, another server included
            probe.bind((config.host, config.port))
        except OSError as err:
            raise PortTaken(f"cannot listen on {config.host}:{config.port}: {err.strerror or err}") from None
    reserved = reuse_port_socket(config.host, config.port)
    original = multiprocess.Process
    multiprocess.Process = _OwnSocketProcess  # type: ignore[misc]  # the supervisor's workers
    try:
        multiprocess.Multiprocess(config, sockets=[reserved]).run()
    finally:
        multiprocess.Process = original  # type: ignore[misc]
        reserved.close()
