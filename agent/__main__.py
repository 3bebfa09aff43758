"""``python -m ofa_bench_agent``: serve the device agent until interrupted.

The token comes from ``--token-file`` (best: it stays out of the process list), ``--token`` or the
environment variable ``OFA_BENCH_AGENT_TOKEN``; it is required unless the agent listens on a
loopback address only (then reach it through an SSH tunnel, or from the device itself). The first
line on standard output is ``ofa-bench agent listening on http://HOST:PORT``, with the port chosen
when ``--port 0`` asks for any free one.
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

from ofa_bench_agent import __version__
from ofa_bench_agent.protocol import DEFAULT_PORT, TOKEN_ENV, Limits

#: Shortest token accepted when the agent listens beyond loopback.
MIN_TOKEN_LENGTH = 16


def _parser() -> argparse.ArgumentParser:
    limits = Limits()
    p = argparse.ArgumentParser(
        prog="python -m ofa_bench_agent",
        description="ofa-bench device agent: time ONNX models sent by an ofa-bench host on this device",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    p.add_argument("--token", help=f"shared token (prefer --token-file or ${TOKEN_ENV}: a flag shows in ps)")
    p.add_argument("--token-file", metavar="FILE", help="file whose first line is the shared token")
    p.add_argument("--max-request-mb", type=float, default=limits.max_request_bytes / 2**20,
                   help="largest request body in MiB (default %(default)g)")  # fmt: skip
    p.add_argument(
        "--cache-mb",
        type=float,
        default=limits.cache_bytes / 2**20,
        help="models kept in memory, in MiB (default %(default)g); one measurement's models must fit",
    )
    p.add_argument("--max-models", type=int, default=limits.max_models,
                   help="models per measurement request (default %(default)s)")  # fmt: skip
    p.add_argument("--deadline-s", type=float, default=limits.deadline_s,
                   help="longest one measurement may run, in seconds (default %(default)g)")  # fmt: skip
    p.add_argument(
        "--io-timeout-s",
        type=float,
        default=30.0,
        help="time for a request to arrive and for each socket read or write (default %(default)g)",
    )
    p.add_argument("--max-connections", type=int, default=4, help="connections served at once (default %(default)s)")
    p.add_argument("--quiet", action="store_true", help="do not log each request on stderr")
    p.add_argument(
        "--write-pyz",
        metavar="FILE",
        help="write this agent as one file a device's Python runs (python3 FILE --host ...), then exit",
    )
    p.add_argument("--version", action="version", version=f"ofa-bench-agent {__version__}")
    return p


def write_pyz(path: str) -> str:
    """Write the agent's modules as a zip application (``python3 FILE`` runs it); returns ``path``.

    One file to copy to a device: the standard library runs it, and numpy and onnxruntime must be
    installed there (they hold compiled code, so they cannot travel inside it).
    """
    package = Path(__file__).resolve().parent
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__main__.py", "import sys\nfrom ofa_bench_agent.__main__ import main\n\nsys.exit(main())\n")
        for module in sorted(package.glob("*.py")):
            archive.write(module, f"ofa_bench_agent/{module.name}")
    return path


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file is not None:
        try:
            with open(args.token_file, encoding="utf-8") as f:
                return f.readline().strip() or None
        except OSError as exc:
            raise ValueError(f"cannot read --token-file {args.token_file!r}: {exc.strerror}") from None
    return args.token or os.environ.get(TOKEN_ENV) or None


def main(argv: list[str] | None = None) -> int:
    """Run the agent; returns the exit status (2 for a bad setting, with one line on stderr)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.write_pyz is not None:
        try:
            print(f"wrote {write_pyz(args.write_pyz)}")
        except OSError as exc:
            parser.exit(2, f"ofa-bench-agent: error: cannot write {args.write_pyz!r}: {exc.strerror or exc}\n")
        return 0
    from ofa_bench_agent.server import Agent, is_loopback, make_server

    try:
        token = _token(args)
        if not is_loopback(args.host) and (token is None or len(token) < MIN_TOKEN_LENGTH):
            raise ValueError(
                f"listening on {args.host} (beyond this machine) needs a token of at least {MIN_TOKEN_LENGTH} characters "
                f"(--token-file or ${TOKEN_ENV}; e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
            )
        for name in ("max_request_mb", "cache_mb", "deadline_s", "io_timeout_s"):
            if not getattr(args, name) > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be positive")
        if args.max_models < 1 or args.max_connections < 1 or not 0 <= args.port <= 65535:
            raise ValueError("--max-models and --max-connections must be at least 1, --port 0 to 65535")
        limits = Limits(
            max_request_bytes=int(args.max_request_mb * 2**20), cache_bytes=int(args.cache_mb * 2**20),
            max_models=args.max_models, deadline_s=args.deadline_s,
        )  # fmt: skip
        agent = Agent(token, limits)
        server = make_server(args.host, args.port, agent, max_connections=args.max_connections,
                             io_timeout_s=args.io_timeout_s, quiet=args.quiet)  # fmt: skip
    except (ValueError, OSError) as exc:
        parser.exit(2, f"ofa-bench-agent: error: {exc}\n")
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"ofa-bench agent listening on http://{shown}:{port}", flush=True)
    device = agent.device
    print(f"{device['cpu']}, onnxruntime {device['onnxruntime']} ({', '.join(device['providers'])}), "
          f"python {device['python']}; token {'required' if token else 'not required (loopback only)'}",
          file=sys.stderr, flush=True)  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
