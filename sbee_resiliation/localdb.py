"""The project's own PostgreSQL cluster, for development and tests.

Used when DATABASE_URL is not set. The cluster listens on a Unix socket only (no TCP port, so no
clash with another PostgreSQL on the machine) and keeps its data under ``var/postgres``.

PostgreSQL refuses to run as root. When we are root, the server runs as the unprivileged
``postgres`` user; if that user cannot reach the clone's ``var/`` folder (a clone under /root, for
example), the data and the socket go to ``/var/tmp/sbee-resiliation-<hash>/`` instead. The folder
chosen is written to ``var/localdb.json`` so that the settings find the socket.

Only the server's user may reach the socket (its folder is 0700), and every role logs in with a
password (scram-sha-256, never trust): an unrelated account of the machine cannot connect, and
the application's role cannot become the superuser. The passwords are made at the first start
and kept beside the cluster's data in ``pgpass`` (0600, libpq's password file), which the
settings, the backups and the benchmarks name as their ``passfile``.

Usage: ``python -m sbee_resiliation.localdb start|stop|status|passfile|url [role] [database]``.
No Django import here: this runs before the settings can connect to anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
LOCATION_FILE = VAR / "localdb.json"
DB_NAME = "sbee_resiliation"
DB_USER = "postgres"  # the cluster's superuser: creates the roles and the database
OWNER_USER = "sbee_owner"  # owns the tables; runs the migrations (and the tests' set-up)
APP_USER = "sbee_app"  # the application: owns nothing, may not TRUNCATE
PORT = 5432
SERVER_USER = "postgres"  # used only when we are root
MAX_SOCKET_PATH = 100  # sun_path holds 107 bytes; keep a margin for ".s.PGSQL.5432"
ROLES = (DB_USER, OWNER_USER, APP_USER)
# Who may connect, and how: through the socket only, each role with its password.
HBA = (
    "# Written by sbee_resiliation.localdb: the socket only, every role with its password.\n"
    "local all all scram-sha-256\n"
)

INSTALL_HINT = (
    "Les binaires de PostgreSQL (initdb, pg_ctl, postgres) sont introuvables.\n"
    "Sur Debian/Ubuntu : sudo apt-get install postgresql postgresql-contrib\n"
    "Ou bien indiquez une base existante : export DATABASE_URL=postgres://utilisateur@hote/base"
)


class LocalDbError(RuntimeError):
    pass


def _is_root() -> bool:
    return os.geteuid() == 0


def find_pg_bin() -> Path:
    """The folder holding initdb and pg_ctl: PATH first, then Debian's versioned folders."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if (folder / "pg_ctl").exists() and (folder / "initdb").exists():
            return folder
    raise LocalDbError(INSTALL_HINT)


def _as_server_user(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    if _is_root():
        cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
    return subprocess.run(cmd, **kwargs)


def _server_user_can_use(folder: Path) -> bool:
    """Whether the server's user can write into folder (always true when we are not root)."""
    if not _is_root():
        return True
    result = _as_server_user(["test", "-w", str(folder), "-a", "-x", str(folder)], check=False)
    return result.returncode == 0


def _ensure_server_user() -> None:
    if not _is_root():
        return
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER,
            ],
            check=True,
        )


def _chown_to_server_user(folder: Path) -> None:
    if _is_root():
        entry = pwd.getpwnam(SERVER_USER)
        os.chown(folder, entry.pw_uid, entry.pw_gid)


def _fallback_base() -> Path:
    digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]
    return Path("/var/tmp") / f"sbee-resiliation-{digest}"


def choose_base() -> Path:
    """Pick (and create) the folder that holds the cluster's data and socket."""
    _ensure_server_user()
    preferred = VAR / "postgres"
    preferred.mkdir(parents=True, exist_ok=True)
    _chown_to_server_user(preferred)
    socket_ok = len(str(preferred / "run" / ".s.PGSQL.5432")) <= MAX_SOCKET_PATH
    if socket_ok and _server_user_can_use(preferred):
        return preferred
    base = _fallback_base()
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    _chown_to_server_user(base)
    return base


def location() -> dict:
    """The chosen folders, as recorded by the last start (or the preferred ones)."""
    if LOCATION_FILE.exists():
        return json.loads(LOCATION_FILE.read_text())
    base = VAR / "postgres"
    return {"base": str(base), "data": str(base / "data"), "socket": str(base / "run")}


def database_settings(user: str | None = None) -> dict:
    """Django DATABASES['default'] for the local cluster, as the application's role unless
    another is named (LOCAL_DB_USER=sbee_owner for the migrations)."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DB_NAME,
        "USER": user or APP_USER,
        "HOST": location()["socket"],
        "PORT": PORT,
        "OPTIONS": {"passfile": str(passfile())},
    }


def passfile() -> Path:
    """libpq's password file of the cluster: beside its data, so that the two go together."""
    return Path(location()["base"]) / "pgpass"


def url(user: str = APP_USER, dbname: str = DB_NAME) -> str:
    """A libpq address of the local cluster for that role, its password read from passfile()."""
    socket = quote(location()["socket"], safe="")
    file = quote(str(passfile()), safe="")
    return f"postgresql://{user}@/{dbname}?host={socket}&port={PORT}&passfile={file}"


def passwords() -> dict[str, str]:
    """Each role's password, made once and kept in passfile() (0600, its owner's only)."""
    known: dict[str, str] = {}
    path = passfile()
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split(":")
            if len(parts) == 5 and parts[3] in ROLES:
                known[parts[3]] = parts[4]
    if all(role in known for role in ROLES):
        return known
    for role in ROLES:
        known.setdefault(role, secrets.token_urlsafe(24))  # letters, digits, - and _ only
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(f"*:*:*:{role}:{known[role]}\n" for role in ROLES))
    partial.replace(path)
    return known


def _pg_ctl(bin_dir: Path, data: Path, *args: str, check: bool = True):
    return _as_server_user(
        [str(bin_dir / "pg_ctl"), "-D", str(data), *args],
        check=check,
        cwd=str(data.parent),
        capture_output=True,
        text=True,
    )


def _is_running(bin_dir: Path, data: Path) -> bool:
    if not (data / "PG_VERSION").exists():
        return False
    return _pg_ctl(bin_dir, data, "status", check=False).returncode == 0


def _write_config(data: Path, socket: Path) -> None:
    conf = data / "postgresql.auto.conf"
    lines = [
        "# Written by sbee_resiliation.localdb: Unix socket only, no TCP port.",
        "listen_addresses = ''",
        f"unix_socket_directories = '{socket}'",
        f"port = {PORT}",
        # A development and test cluster: a crash may lose the last transactions, never corrupt.
        "synchronous_commit = off",
        "max_connections = 100",
        # Only the server's user (and root) may open the socket.
        "unix_socket_permissions = 0700",
        "password_encryption = 'scram-sha-256'",
        "",
    ]
    _as_server_user(["sh", "-c", f"cat > '{conf}'"], input="\n".join(lines), text=True, check=True)


def _hba_is_ours(data: Path) -> bool:
    result = _as_server_user(
        ["cat", str(data / "pg_hba.conf")], capture_output=True, text=True, check=False
    )
    return result.returncode == 0 and result.stdout == HBA


def _write_hba(data: Path) -> None:
    _as_server_user(
        ["sh", "-c", f"cat > '{data / 'pg_hba.conf'}'"], input=HBA, text=True, check=True
    )


def _create_database(socket: Path) -> None:
    """The two roles and the database, owned by the owner role; each role's password as
    passfile() says. A cluster made before the roles existed has its tables handed over to the
    owner."""
    import psycopg  # imported here: only needed once the server is up
    from psycopg import sql

    def connect(dbname: str):
        return psycopg.connect(
            host=str(socket),
            port=PORT,
            user=DB_USER,
            dbname=dbname,
            autocommit=True,
            passfile=str(passfile()),
        )

    known = passwords()
    try:
        first = connect("postgres")
    except psycopg.OperationalError as error:
        raise LocalDbError(
            f"Connexion au PostgreSQL local refusée ({error}).\nLes mots de passe de "
            f"{passfile()} ne sont pas ceux du cluster : make stop, puis supprimez "
            f"{location()['base']} pour repartir d'un cluster neuf."
        ) from None
    with first as conn:
        for role, options in ((OWNER_USER, "LOGIN CREATEDB"), (APP_USER, "LOGIN")):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                conn.execute(f'CREATE ROLE "{role}" {options}')
        for role in ROLES:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(known[role])
                )
            )
        # The owner may act as the application (the tests check the refusals that way).
        conn.execute(f'GRANT "{APP_USER}" TO "{OWNER_USER}"')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}" OWNER "{OWNER_USER}"')
        else:
            conn.execute(f'ALTER DATABASE "{DB_NAME}" OWNER TO "{OWNER_USER}"')
    with connect(DB_NAME) as conn:
        conn.execute(f'ALTER SCHEMA public OWNER TO "{OWNER_USER}"')
        owned = conn.execute(
            """
            SELECT 'TABLE', quote_ident(tablename) FROM pg_tables
             WHERE schemaname = 'public' AND tableowner = %(su)s
            UNION ALL
            SELECT 'SEQUENCE', quote_ident(sequencename) FROM pg_sequences
             WHERE schemaname = 'public' AND sequenceowner = %(su)s
            UNION ALL
            SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p
              JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) = %(su)s
               AND NOT EXISTS (
                   SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e'
               )
            """,
            {"su": DB_USER},
        ).fetchall()
        for kind, name in owned:
            conn.execute(f'ALTER {kind} {name} OWNER TO "{OWNER_USER}"')


def _initdb(bin_dir: Path, base: Path, data: Path) -> None:
    """A new cluster whose superuser has its password from the start: no moment of trust."""
    data.mkdir(mode=0o700, exist_ok=True)
    _chown_to_server_user(data)
    pwfile = base / "superuser-password"
    pwfile.write_text(passwords()[DB_USER] + "\n")
    pwfile.chmod(0o600)
    _chown_to_server_user(pwfile)
    try:
        result = _as_server_user(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                DB_USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            cwd=str(base),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise LocalDbError(f"initdb a échoué :\n{result.stdout}\n{result.stderr}")


def start() -> dict:
    bin_dir = find_pg_bin()
    base = choose_base()
    data, socket = base / "data", base / "run"
    socket.mkdir(exist_ok=True)
    _chown_to_server_user(socket)
    socket.chmod(0o700)  # the server's user (and root) only
    loc = {"base": str(base), "data": str(data), "socket": str(socket)}
    VAR.mkdir(exist_ok=True)
    LOCATION_FILE.write_text(json.dumps(loc, indent=2) + "\n")
    if not (data / "PG_VERSION").exists():
        _initdb(bin_dir, base, data)
    _write_config(data, socket)
    running = _is_running(bin_dir, data)
    if not running:
        result = _pg_ctl(
            bin_dir, data, "-l", str(base / "postgres.log"), "-w", "start", check=False
        )
        if result.returncode != 0:
            log = base / "postgres.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise LocalDbError(
                f"PostgreSQL n'a pas démarré :\n{result.stdout}{result.stderr}{tail}"
            )
    # A cluster made when it trusted every local account keeps that trust until its roles have
    # their passwords: set them first, then the rule that asks for them.
    _create_database(socket)
    if not _hba_is_ours(data):
        _write_hba(data)
        _pg_ctl(bin_dir, data, "reload")
    return loc


def stop() -> None:
    loc = location()
    data = Path(loc["data"])
    bin_dir = find_pg_bin()
    if _is_running(bin_dir, data):
        _pg_ctl(bin_dir, data, "-m", "fast", "-w", "stop")
        print(f"PostgreSQL arrêté ({data}).")
    else:
        print("PostgreSQL local : déjà arrêté.")


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    try:
        if command == "start":
            loc = start()
            print(f"PostgreSQL local prêt : données {loc['data']}, socket {loc['socket']}")
        elif command == "stop":
            stop()
        elif command == "passfile":
            print(passfile())
        elif command == "url":
            print(url(*argv[2:4]))
        elif command == "status":
            loc = location()
            running = _is_running(find_pg_bin(), Path(loc["data"]))
            print(f"PostgreSQL local {'en marche' if running else 'arrêté'} : {loc['data']}")
        else:
            print(f"usage: {argv[0]} start|stop|status|passfile|url [rôle] [base]", file=sys.stderr)
            return 2
    except LocalDbError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
