"""Run several ASGI server processes (Daphne, or uvicorn) on one port of one machine.

One process runs its event loop on one core; a machine with more cores
serves more charge points with more processes. Each process gets its own
listening socket on the same address (SO_REUSEPORT), so the kernel spreads
new connections over them without a load balancer in front. The processes
share nothing but PostgreSQL and Redis, as the nodes of a cluster do: a
command reaches a charge point on whichever process holds its socket through
the Redis channel layer, which is why more than one process needs REDIS_URL.

The launcher keeps the sockets open itself, so connections that arrive while
a process restarts wait in that socket's backlog instead of being refused. A
process that dies is started again (after a pause if it keeps dying); SIGTERM
or SIGINT stop them all.

Daphne is the default server. uvicorn with its sans-I/O WebSocket
implementation (`--server uvicorn`) answers about 1.6 times as many OCPP
messages per core (bench/results); it always runs with `--no-proxy-headers`,
so that, as under Daphne, only OCPP_TRUSTED_PROXIES decides whose forwarded
headers are believed.

    python -m csms_project.launcher --processes 4 --port 8000 -- --ping-interval 20
    python -m csms_project.launcher --server uvicorn --processes 4 -- --ws-ping-interval 20
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

APPLICATION = "csms_project.asgi:application"
RESTART_PAUSE_SECONDS = 1.0
QUICK_DEATH_SECONDS = 5.0


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def daphne_command(sock: socket.socket, options: list[str]) -> list[str]:
    # Twisted adopts an IPv4 socket unless told otherwise.
    endpoint = f"fd:fileno={sock.fileno()}"
    if sock.family == socket.AF_INET6:
        endpoint += ":domain=INET6"
    return [sys.executable, "-m", "daphne", "-e", endpoint, *options, APPLICATION]


def uvicorn_command(sock: socket.socket, options: list[str]) -> list[str]:
    fixed = ["--fd", str(sock.fileno()), "--ws", "websockets-sansio", "--lifespan", "off"]
    fixed.append("--no-proxy-headers")
    # A consumer closed while it held channels-redis's receive lock can stay in
    # its Redis read after the socket is gone (redis-py shields the command);
    # Daphne kills such an instance after 10 s, uvicorn would wait for it
    # forever on shutdown.
    fixed += ["--timeout-graceful-shutdown", "10"]
    return [sys.executable, "-m", "uvicorn", *fixed, *options, APPLICATION]


SERVER_COMMANDS = {"daphne": daphne_command, "uvicorn": uvicorn_command}


class Supervisor:
    def __init__(self, sockets: list[socket.socket], server: str, server_options: list[str]):
        self.sockets = sockets
        self.command = SERVER_COMMANDS[server]
        self.server_options = server_options
        self.children: dict[int, tuple[subprocess.Popen, float]] = {}
        self.stopping = False

    def start(self, index: int) -> None:
        sock = self.sockets[index]
        env = dict(os.environ, CSMS_PROCESS_INDEX=str(index))
        child = subprocess.Popen(
            self.command(sock, self.server_options), pass_fds=(sock.fileno(),), env=env
        )
        self.children[index] = (child, time.monotonic())

    def stop(self, signum: int, _frame=None) -> None:
        self.stopping = True
        for child, _ in self.children.values():
            if child.poll() is None:
                child.send_signal(signum)

    def run(self) -> int:
        for index in range(len(self.sockets)):
            self.start(index)
        while not self.stopping:
            time.sleep(0.5)
            for index, (child, started) in list(self.children.items()):
                if child.poll() is None or self.stopping:
                    continue
                print(
                    f"launcher: process {index} (pid {child.pid}) exited with "
                    f"{child.returncode}; starting it again",
                    file=sys.stderr,
                    flush=True,
                )
                if time.monotonic() - started < QUICK_DEATH_SECONDS:
                    time.sleep(RESTART_PAUSE_SECONDS)
                self.start(index)
        for child, _ in self.children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return 0


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    own, server_options = _split(argv)
    parser = argparse.ArgumentParser(
        prog="python -m csms_project.launcher",
        description="Run several ASGI processes on one port (options after -- go to the server).",
    )
    parser.add_argument(
        "--server",
        choices=sorted(SERVER_COMMANDS),
        default=os.environ.get("CSMS_ASGI_SERVER", "daphne") or "daphne",
        help="the ASGI server (default: CSMS_ASGI_SERVER, else daphne)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=int(os.environ.get("CSMS_PROCESSES", "0") or 0) or os.cpu_count() or 1,
        help="how many server processes (default: CSMS_PROCESSES, else one per core)",
    )
    parser.add_argument("--host", default=os.environ.get("CSMS_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CSMS_PORT", "8000")))
    parser.add_argument(
        "--backlog", type=int, default=int(os.environ.get("CSMS_LISTEN_BACKLOG", "1024"))
    )
    args = parser.parse_args(own)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.processes > 1 and not os.environ.get("REDIS_URL"):
        parser.error(
            "more than one process needs REDIS_URL: the in-process channel layer cannot "
            "reach a charge point connected to another process"
        )
    return args, server_options


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """The launcher's own options, and the server's options after `--`."""
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, []


def main(argv: list[str] | None = None) -> int:
    args, server_options = parse(sys.argv[1:] if argv is None else argv)
    sockets = [listening_socket(args.host, args.port, args.backlog) for _ in range(args.processes)]
    supervisor = Supervisor(sockets, args.server, server_options)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    print(
        f"launcher: {args.processes} {args.server} processes on {args.host}:{args.port}",
        file=sys.stderr,
        flush=True,
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
