"""`nemo-local serve | compose | token create`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from nemo_local.config import FaultSwitches, ServerConfig
from nemo_local.limits import Limits
from nemo_local.limits import add_arguments as add_limit_arguments

DEFAULT_DATA_DIR = Path(os.environ.get("NEMO_LOCAL_DATA_DIR", "~/.nemo_local")).expanduser()


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the API-compatible server")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (0 = any free port; the real one is printed)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="SQLite database and files")
    p.add_argument(
        "--admin-token", default=os.environ.get("NEMO_LOCAL_ADMIN_TOKEN"), help="enables /admin/faults"
    )
    p.add_argument(
        "--allow-private-urls", action="store_true", help="let URL uploads reach loopback/private hosts"
    )
    p.add_argument("--anon-ip-limit", type=int, default=1000, help="new anonymous tokens per IP per hour")
    p.add_argument(
        "--silent-edit-share", type=float, default=0.3, help="share of edits answered with no text"
    )
    p.add_argument(
        "--keepalive-seconds", type=float, default=5.0, help="SSE keep-alive interval while working"
    )
    p.add_argument("--render-workers", type=int, default=1, help="renders run at the same time")
    p.add_argument("--compose-workers", type=int, default=2, help="composer processes")
    add_limit_arguments(p)
    f = p.add_argument_group("fault injection (off by default; also POST /admin/faults)")
    f.add_argument("--fault-429-burst", type=int, default=0, help="the next N API requests answer 429")
    f.add_argument("--fault-5xx-rate", type=float, default=0.0, help="share of API requests answered 503")
    f.add_argument("--fault-slow-ms", type=int, default=0, help="delay before every API request")
    f.add_argument("--fault-sse-cut-after", type=int, default=0, help="cut /run_sse streams after N events")
    f.add_argument("--fault-render-fail", action="store_true", help="renders fail")
    f.add_argument("--fault-render-stuck", action="store_true", help="renders stay processing")
    f.add_argument("--fault-errors-in-200", action="store_true", help="errors as HTTP 200 + envelope code")
    f.add_argument("--fault-render-shape-b", action="store_true", help="render polls in the older shape B")
    f.add_argument("--fault-expire-tokens", action="store_true", help="expire every existing token at start")
    f.add_argument("--fault-lose-sessions", action="store_true", help="lose every existing session at start")


def _serve(args: argparse.Namespace) -> int:
    from nemo_local.server import serve

    faults = FaultSwitches(
        burst_429=args.fault_429_burst,
        error_rate=args.fault_5xx_rate,
        slow_ms=args.fault_slow_ms,
        sse_cut_after=args.fault_sse_cut_after,
        render_fail=args.fault_render_fail,
        render_stuck=args.fault_render_stuck,
        errors_in_200=args.fault_errors_in_200,
        render_shape_b=args.fault_render_shape_b,
    )
    try:
        limits = Limits.from_args(args)
    except ValueError as exc:
        print(f"nemo-local: {exc}", file=sys.stderr)
        return 2
    config = ServerConfig(
        data_dir=args.data_dir.expanduser().resolve(),
        host=args.host,
        port=args.port,
        admin_token=args.admin_token,
        allow_private_urls=args.allow_private_urls,
        anon_ip_limit=args.anon_ip_limit,
        silent_edit_share=args.silent_edit_share,
        keepalive_s=args.keepalive_seconds,
        render_workers=args.render_workers,
        compose_workers=args.compose_workers,
        limits=limits,
        faults=faults,
    )
    if args.fault_expire_tokens or args.fault_lose_sessions:
        from nemo_local.store import Store

        store = Store(config.data_dir)
        if args.fault_expire_tokens:
            store.tokens.expire_all()
        if args.fault_lose_sessions:
            store.sessions.lose_all()
        store.close()
    return serve(config)


def _token(args: argparse.Namespace) -> int:
    from nemo_local.store import Store

    store = Store(args.data_dir.expanduser().resolve())
    issued = store.tokens.create_named(args.name, args.credits, args.days * 86400)
    store.close()
    print(issued.token)
    print(f"user {issued.user_id}, {args.credits} credits, valid {args.days:g} days", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compose"]:
        from nemo_local.composer.cli import compose_command

        return int(compose_command(argv[1:]) or 0)
    parser = argparse.ArgumentParser(prog="nemo-local", description="Offline, API-compatible Nemo server")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    sub.add_parser("compose", help="compose a track from a prompt (see `nemo-local compose --help`)")
    token = sub.add_parser("token", help="manage tokens")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="issue a named token (printed once on stdout)")
    create.add_argument("--credits", type=int, default=1000)
    create.add_argument("--name", default="cli")
    create.add_argument("--days", type=float, default=365.0)
    create.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _token(args)


if __name__ == "__main__":
    raise SystemExit(main())
