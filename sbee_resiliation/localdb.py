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

Beyond one machine, on the same engines (README, "Beyond one machine"): ``replica start`` makes a
hot standby of this cluster (``pg_basebackup -R``, streaming from a replication slot) listening on
the same socket folder, port 5433; ``pooler start`` puts PgBouncer (transaction pooling) in front
of the primary on port 6432. Both run as the server's user, like the cluster.

Usage: ``python -m sbee_resiliation.localdb start|stop|status|passfile|url [role] [database]``,
``replica start|stop|status|url [role] [database]``, ``pooler start|stop|status|url [role]
[database]``. No Django import here: this runs before the settings can connect to anything.
"""

from __future__ import annotations

import fcntl
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
REPLICATION_USER = "sbee_replicator"  # the replica's link: may stream WAL, nothing else
PORT = 5432
REPLICA_PORT = 5433
POOLER_PORT = 6432
REPLICATION_SLOT = "sbee_replica"
SERVER_USER = "postgres"  # used only when we are root
MAX_SOCKET_PATH = 100  # sun_path holds 107 bytes; keep a margin for ".s.PGSQL.5432"
ROLES = (DB_USER, OWNER_USER, APP_USER, REPLICATION_USER)
# Who may connect, and how: through the socket only, each role with its password; the replica's
# link streams WAL and reads no database.
HBA = (
    "# Written by sbee_resiliation.localdb: the socket only, every role with its password.\n"
    f"local replication {REPLICATION_USER} scram-sha-256\n"
    "local all all scram-sha-256\n"
)
# The planner's settings of every session of the application's roles, whatever the path (a
# pooler in transaction mode forwards no startup option): see settings.py.
ROLE_SETTINGS = {"join_collapse_limit": "4", "jit": "off"}

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


def _write_config(data: Path, socket: Path, port: int = PORT, extra: tuple = ()) -> None:
    conf = data / "postgresql.auto.conf"
    lines = [
        "# Written by sbee_resiliation.localdb: Unix socket only, no TCP port.",
        "listen_addresses = ''",
        f"unix_socket_directories = '{socket}'",
        f"port = {port}",
        # A development and test cluster: a crash may lose the last transactions, never corrupt.
        "synchronous_commit = off",
        "max_connections = 100",
        # Only the server's user (and root) may open the socket.
        "unix_socket_permissions = 0700",
        "password_encryption = 'scram-sha-256'",
        # A replica streams from a slot; a replica gone for good holds at most this much WAL.
        "wal_level = replica",
        "max_slot_wal_keep_size = '2GB'",
        *extra,
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
        for role, options in (
            (OWNER_USER, "LOGIN CREATEDB"),
            (APP_USER, "LOGIN"),
            (REPLICATION_USER, "LOGIN REPLICATION"),
        ):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                conn.execute(f'CREATE ROLE "{role}" {options}')
        for role in (OWNER_USER, APP_USER):
            (current,) = conn.execute(
                "SELECT coalesce((SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r"
                " ON r.oid = s.setrole WHERE r.rolname = %s AND s.setdatabase = 0), '{}')",
                [role],
            ).fetchone()
            for name, value in ROLE_SETTINGS.items():
                if f"{name}={value}" not in current:
                    conn.execute(f'ALTER ROLE "{role}" SET {name} = {value}')
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
    """The cluster, with its pooler and its replica when they run."""
    loc = location()
    data = Path(loc["data"])
    bin_dir = find_pg_bin()
    stop_pooler(quiet=True)
    if replica_is_running():
        stop_replica()
    if _is_running(bin_dir, data):
        _pg_ctl(bin_dir, data, "-m", "fast", "-w", "stop")
        print(f"PostgreSQL arrêté ({data}).")
    else:
        print("PostgreSQL local : déjà arrêté.")


# --- The replica: a hot standby of this cluster, on the same socket folder, port 5433. ---


def replica_data() -> Path:
    return Path(location()["base"]) / "replica"


def replica_url(user: str = APP_USER, dbname: str = DB_NAME) -> str:
    return url(user, dbname).replace(f"&port={PORT}&", f"&port={REPLICA_PORT}&")


def replica_is_running() -> bool:
    return _is_running(find_pg_bin(), replica_data())


def _admin(dbname: str = "postgres", port: int = PORT):
    import psycopg

    return psycopg.connect(
        host=location()["socket"],
        port=port,
        user=DB_USER,
        dbname=dbname,
        autocommit=True,
        passfile=str(passfile()),
        connect_timeout=30,
    )


def start_replica() -> Path:
    """The primary started if need be, then its replica: copied the first time (pg_basebackup
    from a replication slot, so that the primary keeps the WAL it has not received), started,
    and waited for until it accepts reads. Returns its data folder."""
    loc = start()
    bin_dir, data, socket = find_pg_bin(), replica_data(), Path(loc["socket"])
    if not (data / "PG_VERSION").exists():
        with _admin() as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [REPLICATION_SLOT]
            ).fetchone():
                conn.execute("SELECT pg_create_physical_replication_slot(%s)", [REPLICATION_SLOT])
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(mode=0o700)
        _chown_to_server_user(data)
        result = _as_server_user(
            [
                str(bin_dir / "pg_basebackup"),
                "-D",
                str(data),
                "-h",
                str(socket),
                "-p",
                str(PORT),
                "-U",
                REPLICATION_USER,
                "-X",
                "stream",
                "-S",
                REPLICATION_SLOT,
                "-R",
                "-c",
                "fast",
            ],
            env={**os.environ, "PGPASSWORD": passwords()[REPLICATION_USER]},
            cwd=str(data.parent),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(data, ignore_errors=True)
            raise LocalDbError(f"pg_basebackup a échoué :\n{result.stdout}{result.stderr}")
    link = (
        f"host={socket} port={PORT} user={REPLICATION_USER} "
        f"password={passwords()[REPLICATION_USER]} application_name={REPLICATION_SLOT}"
    )
    _write_config(
        data,
        socket,
        REPLICA_PORT,
        (
            "hot_standby = on",
            # The primary keeps the rows a long export on the replica still reads.
            "hot_standby_feedback = on",
            f"primary_conninfo = '{link}'",
            f"primary_slot_name = '{REPLICATION_SLOT}'",
        ),
    )
    if not replica_is_running():
        log = data.parent / "replica.log"
        result = _pg_ctl(bin_dir, data, "-l", str(log), "-w", "-t", "300", "start", check=False)
        if result.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise LocalDbError(f"Le réplica n'a pas démarré :\n{result.stderr}{tail}")
    return data


def stop_replica() -> None:
    data = replica_data()
    if replica_is_running():
        _pg_ctl(find_pg_bin(), data, "-m", "fast", "-w", "stop")
        print(f"Réplica arrêté ({data}).")
    else:
        print("Réplica local : déjà arrêté.")


# --- The pooler: PgBouncer in transaction mode in front of the primary, port 6432. ---


def pooler_folder() -> Path:
    return Path(location()["base"]) / "pgbouncer"


def pooler_url(user: str = APP_USER, dbname: str = DB_NAME) -> str:
    return url(user, dbname).replace(f"&port={PORT}&", f"&port={POOLER_PORT}&")


def _pooler_pid() -> int | None:
    pidfile = pooler_folder() / "pgbouncer.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def pooler_config(pool_size: int = 20, databases: tuple[str, ...] = ()) -> str:
    socket = location()["socket"]
    folder = pooler_folder()
    return "\n".join(
        [
            "; Written by sbee_resiliation.localdb: PgBouncer in front of the local cluster.",
            "[databases]",
            *databases,
            f"* = host={socket} port={PORT}",
            "[pgbouncer]",
            "listen_addr =",
            f"listen_port = {POOLER_PORT}",
            f"unix_socket_dir = {socket}",
            "auth_type = scram-sha-256",
            f"auth_file = {folder / 'userlist.txt'}",
            "pool_mode = transaction",
            "max_client_conn = 900",
            f"default_pool_size = {pool_size}",
            "reserve_pool_size = 5",
            "reserve_pool_timeout = 3",
            "server_lifetime = 3600",
            "server_idle_timeout = 300",
            f"stats_users = {APP_USER}, {OWNER_USER}",
            f"admin_users = {DB_USER}",
            f"logfile = {folder / 'pgbouncer.log'}",
            f"pidfile = {folder / 'pgbouncer.pid'}",
            "log_connections = 0",
            "log_disconnections = 0",
            "",
        ]
    )


def start_pooler(pool_size: int = 20, databases: tuple[str, ...] = ()) -> Path:
    """PgBouncer, as the server's user, on the cluster's socket folder (port 6432), every role
    with its password (the users' file holds them, 0600, like pgpass). Left as it is when it
    runs with the same configuration; restarted with a new one."""
    start()
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise LocalDbError("PgBouncer est absent : sudo apt-get install pgbouncer")
    folder = pooler_folder()
    config = pooler_config(pool_size, databases)
    if _pooler_pid() is not None:
        current = _as_server_user(
            ["cat", str(folder / "pgbouncer.ini")], capture_output=True, text=True, check=False
        )
        if current.stdout == config:
            return folder  # running as asked: a second stack shares it
        stop_pooler(quiet=True)
    folder.mkdir(mode=0o700, exist_ok=True)
    _chown_to_server_user(folder)
    users = "".join(f'"{role}" "{pw}"\n' for role, pw in passwords().items())
    for name, text in (("userlist.txt", users), ("pgbouncer.ini", config)):
        path = folder / name
        _as_server_user(
            ["sh", "-c", f"umask 077; cat > '{path}'"], input=text, text=True, check=True
        )
    result = _as_server_user(
        [binary, "-d", str(folder / "pgbouncer.ini")], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise LocalDbError(f"PgBouncer n'a pas démarré :\n{result.stdout}{result.stderr}")
    import time

    deadline = time.monotonic() + 60
    while not (Path(location()["socket"]) / f".s.PGSQL.{POOLER_PORT}").exists():
        if time.monotonic() > deadline:
            raise LocalDbError("PgBouncer n'écoute pas : voir " + str(folder / "pgbouncer.log"))
        time.sleep(0.1)
    return folder


def pooler_release(dbname: str) -> None:
    """The pooler's connections to a database closed (before it is dropped: a test database)."""
    if _pooler_pid() is None:
        return
    import psycopg

    with psycopg.connect(
        pooler_url(DB_USER, "pgbouncer"), autocommit=True, connect_timeout=30
    ) as conn:
        conn.execute(f"KILL {dbname}", prepare=False)
        conn.execute(f"RESUME {dbname}", prepare=False)


def stop_pooler(quiet: bool = False) -> None:
    import time

    pid = _pooler_pid()
    if pid is None:
        if not quiet:
            print("PgBouncer local : déjà arrêté.")
        return
    os.kill(pid, 15)
    deadline = time.monotonic() + 30
    while _pooler_pid() == pid and time.monotonic() < deadline:
        time.sleep(0.1)
    if not quiet:
        print("PgBouncer arrêté.")


def _companion(argv: list[str]) -> int:
    what = argv[1]
    command = argv[2] if len(argv) > 2 else "status"
    if what == "replica":
        if command == "start":
            print(f"Réplica local prêt : données {start_replica()}, port {REPLICA_PORT}")
        elif command == "stop":
            stop_replica()
        elif command == "url":
            print(replica_url(*argv[3:5]))
        else:
            print(f"Réplica local {'en marche' if replica_is_running() else 'arrêté'}")
    else:
        if command == "start":
            start_pooler()
            print(f"PgBouncer prêt (mode transaction), port {POOLER_PORT}")
        elif command == "stop":
            stop_pooler()
        elif command == "url":
            print(pooler_url(*argv[3:5]))
        else:
            print(f"PgBouncer local {'en marche' if _pooler_pid() else 'arrêté'}")
    return 0


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    VAR.mkdir(exist_ok=True)
    # Two `make` at once (two stacks started together) start the cluster one after the other.
    lock = open(VAR / "localdb.lock", "w")  # noqa: SIM115 (held until the process ends)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        if command in ("replica", "pooler"):
            return _companion(argv)
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
