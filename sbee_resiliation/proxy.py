"""nginx (Debian's package) in front of several application stacks on this machine, standing
for the proxy in front of several application machines: the upstream is the one of
deploy/nginx/sbee.conf, the proxying deploy/nginx/sbee-app.conf itself; plain HTTP, no TLS.

Usage: ``python -m sbee_resiliation.proxy HOST:PORT UPSTREAM [UPSTREAM ...]`` (``make proxy``);
nginx runs in the foreground, its files under var/run/nginx/."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_CONF = ROOT / "deploy" / "nginx" / "sbee-app.conf"


def config(listen: str, upstreams: list[str], folder: Path) -> str:
    servers = "".join(f"        server {u} max_fails=1 fail_timeout=10s;\n" for u in upstreams)
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    return (
        f"# Written by sbee_resiliation.proxy: nginx in front of {len(upstreams)} stack(s).\n"
        f"{user}worker_processes 1;\n"
        f"pid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        f"    access_log {folder / 'access.log'};\n"
        f"    client_body_temp_path {folder / 'body'};\n"
        f"    proxy_temp_path {folder / 'proxy'};\n"
        f"    fastcgi_temp_path {folder / 'fastcgi'};\n"
        f"    uwsgi_temp_path {folder / 'uwsgi'};\n"
        f"    scgi_temp_path {folder / 'scgi'};\n"
        "    upstream sbee_app {\n"
        f"{servers}"
        "        keepalive 16;\n"
        "    }\n"
        "    server {\n"
        f"        listen {listen};\n"
        f"        include {APP_CONF};\n"
        "    }\n"
        "}\n"
    )


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise SystemExit("nginx est absent : sudo apt-get install nginx-light (ou nginx)")
    return found


def prepare(listen: str, upstreams: list[str], folder: Path | None = None) -> list[str]:
    """Writes the configuration; returns the command that runs nginx in the foreground."""
    folder = folder or ROOT / "var" / "run" / "nginx"
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(config(listen, upstreams, folder))
    return [nginx_binary(), "-c", str(conf), "-e", str(folder / "error.log"), "-g", "daemon off;"]


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(f"usage: {argv[0]} HÔTE:PORT AMONT [AMONT ...]", file=sys.stderr)
        return 2
    command = prepare(argv[1], argv[2:])
    print(f"nginx sur http://{argv[1]}/ devant {', '.join(argv[2:])}")
    os.execv(command[0], command)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
