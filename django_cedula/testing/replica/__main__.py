"""Run the replica in the foreground: ``python -m django_cedula.testing.replica --port 8765``.

Faults can be switched on from the command line with ``--fault MODE[:CEDULA[:TIMES]]``, e.g.
``--fault get500::1`` (the next page GET answers 500) or ``--fault slow:1020304050`` (that number
is always slow). The first line printed is ``django-cedula replica running at <url>``; then come
the sources' addresses, the settings that point a site at it, and the numbers to look up with what
each answers (the outcome table, also listed by ``--help``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .control import (
    DEFAULT_BOMB_BYTES,
    DEFAULT_DEEP_JSON_DEPTH,
    DEFAULT_HUGE_BYTES,
    DEFAULT_SLOW_SECONDS,
    Replica,
)
from .faults import FaultMode
from .outcome_text import outcome_lines
from .tokens import TOKEN_MAX_AGE

#: The heading of the outcome list in ``--help`` and in the start-up banner.
OUTCOMES_HEADING = "numbers and what the replica answers (details: docs/scraper.rst):"

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _fault(spec: str) -> tuple[FaultMode, str | None, int | None]:
    """Parse ``MODE[:CEDULA[:TIMES]]`` (an empty CEDULA means every request)."""
    parts = spec.split(":")
    if len(parts) > 3:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected MODE[:CEDULA[:TIMES]]")
    try:
        mode = FaultMode(parts[0])
    except ValueError:
        names = ", ".join(m.value for m in FaultMode)
        raise argparse.ArgumentTypeError(f"{parts[0]!r} is not a fault mode ({names})") from None
    cedula = parts[1] if len(parts) > 1 and parts[1] else None
    times: int | None = None
    if len(parts) > 2 and parts[2]:
        try:
            times = int(parts[2])
        except ValueError:
            raise argparse.ArgumentTypeError(f"{spec!r}: TIMES must be a whole number") from None
        if times < 1:
            raise argparse.ArgumentTypeError(f"{spec!r}: TIMES must be at least 1")
    return mode, cedula, times


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m django_cedula.testing.replica``."""
    parser = argparse.ArgumentParser(
        prog="python -m django_cedula.testing.replica",
        description="Serve a local replica of the Registraduría census lookup (Source A and Source B).",
        epilog="\n".join([OUTCOMES_HEADING, *outcome_lines("  ")]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8765, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--form-delay", type=float, default=0.0, help="seconds each page GET takes")
    parser.add_argument(
        "--token-max-age",
        type=float,
        default=TOKEN_MAX_AGE,
        help="seconds a captcha token is accepted after its solve (default: Google's 120)",
    )
    parser.add_argument(
        "--valid-token",
        default=None,
        help="also accept this fixed captcha token, on every use (default: only the solver stand-ins' "
        "tokens, once each)",
    )
    parser.add_argument(
        "--slow-seconds", type=float, default=DEFAULT_SLOW_SECONDS, help="seconds a slow answer takes"
    )
    parser.add_argument(
        "--huge-bytes", type=int, default=DEFAULT_HUGE_BYTES, help="bytes of a huge answer (fault huge)"
    )
    parser.add_argument(
        "--bomb-bytes",
        type=int,
        default=DEFAULT_BOMB_BYTES,
        help="bytes a gzip bomb expands to (fault gzip_bomb)",
    )
    parser.add_argument(
        "--deep-json-depth",
        type=int,
        default=DEFAULT_DEEP_JSON_DEPTH,
        help="nesting of a deep JSON answer (fault deep_json)",
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="MODE[:CEDULA[:TIMES]]",
        help="switch a fault on (repeatable); modes: " + ", ".join(m.value for m in FaultMode),
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return parser


def banner_tail(replica: Replica) -> list[str]:
    """The banner's last part: the settings that point a site at ``replica``, then the numbers."""
    return [
        "  a site's settings for it (docs/installation.rst, 'Try it on the replica'):",
        "    CEDULA_SOURCES = [",
        '        {"BACKEND": "django_cedula.scrapers.wsp.WspScraper",',
        f'         "OPTIONS": {{"url": "{replica.wsp_url}"}}}},',
        "    ]",
        '    CEDULA_CAPTCHA_SOLVER = {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"}',
        "  " + OUTCOMES_HEADING,
        *outcome_lines("    "),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted (Ctrl+C or SIGTERM)."""
    args = build_parser().parse_args(argv)
    replica = Replica(
        port=args.port,
        host=args.host,
        form_delay=args.form_delay,
        token_max_age=args.token_max_age,
        valid_token=args.valid_token,
        slow_seconds=args.slow_seconds,
        verbose=not args.quiet,
        huge_bytes=args.huge_bytes,
        bomb_bytes=args.bomb_bytes,
        deep_json_depth=args.deep_json_depth,
    )
    for mode, cedula, times in args.fault:
        replica.set_fault(mode, cedula=cedula, times=times)
    if args.host not in _LOOPBACK:
        print(f"warning: listening on {args.host}, not only on this machine", file=sys.stderr)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    # SIGINT too, not left to KeyboardInterrupt: a process started with SIGINT ignored (from a
    # background job of a script, say) would otherwise not stop on it. demo.py does the same.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    replica.start()
    try:
        print(f"django-cedula replica running at {replica.url}")
        print(f"  Source A (wsp):           {replica.wsp_url}")
        print(f"  Source B (consultacenso): {replica.censo_url}")
        print(f"  Source B API:             {replica.censo_api_url}")
        print(f"  captcha tokens:           the solver stand-ins', once each, {replica.token_max_age:g} s")
        if replica.valid_token is not None:
            print("  fixed captcha token:      the --valid-token string, on every use")
        for fault in replica.faults:
            target = f"number {fault.cedula}" if fault.cedula else "every request"
            count = "until stopped" if fault.remaining is None else f"{fault.remaining} time(s)"
            print(f"  fault: {fault.mode} for {target}, {count}")
        for line in banner_tail(replica):
            print(line)
        print("Press Ctrl+C to stop.", flush=True)
        # Wake up now and then: a plain wait may not return on a signal on every platform.
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        replica.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
