"""Backups: a consistent dump of the whole database (the documents' PDFs are in it), and its
restoration into a new database, never over the one in use.

    python -m sbee_resiliation.backup dump [FILE]        (make backup)
    python -m sbee_resiliation.backup restore FILE [DB]  (make restore FILE=...)

pg_dump reads everything in one snapshot, so the dump is consistent while the agencies keep
working. The database is the project's local one, or DATABASE_URL's; the restore creates DB
(default: the database's name followed by the dump's date) on the same server, owned by the
tables' owner, and loads the rows as they were: the protective triggers do not run again on
restored rows (they already passed them once), which needs a superuser on the local cluster or
DATABASE_ADMIN_URL (a role allowed to create databases and to disable triggers)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sbee_resiliation import localdb

BACKUP_DIR = localdb.VAR / "backups"


class BackupError(RuntimeError):
    pass


def _tool(name: str) -> str:
    """pg_dump / pg_restore of the server's version when Debian's versioned folders have them."""
    try:
        candidate = localdb.find_pg_bin() / name
        if candidate.exists():
            return str(candidate)
    except localdb.LocalDbError:
        pass
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} est introuvable (paquet postgresql-client).")
    return found


def with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def source_url() -> str:
    """The database in use, as a superuser of the local cluster or as DATABASE_URL's role."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    return localdb.url(localdb.DB_USER, localdb.DB_NAME)


def admin_url() -> str:
    if os.environ.get("DATABASE_ADMIN_URL"):
        return os.environ["DATABASE_ADMIN_URL"]
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    return source_url()


def dump(path: Path | None = None, *, url: str | None = None) -> Path:
    url = url or source_url()
    if path is None:
        BACKUP_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        BACKUP_DIR.chmod(0o700)
        path = BACKUP_DIR / f"sbee-{dt.datetime.now():%Y%m%d-%H%M%S}.dump"
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    # A dump holds every customer's data and the documents: readable by its owner only, from
    # the moment it is created (pg_dump's umask) to the end (its mode).
    partial.touch(mode=0o600)
    partial.chmod(0o600)
    result = subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--file", str(partial), "--dbname", url],
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(0o077),
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump a échoué :\n{result.stderr}")
    partial.rename(path)  # a file under its final name is always a whole dump
    return path


def restore(path: Path, dbname: str | None = None, *, url: str | None = None) -> str:
    """Restore the dump into a new database; returns its name. An existing database of that
    name is never touched."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"Fichier introuvable : {path}")
    if dbname is None:
        stamp = re.search(r"(\d{8}-\d{6})", path.name)
        dbname = f"{localdb.DB_NAME}_{stamp.group(1).replace('-', '_') if stamp else 'restaure'}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", dbname):
        raise BackupError(f"Nom de base refusé : {dbname!r} (minuscules, chiffres, _).")
    url = url or admin_url()
    import psycopg

    owner = localdb.OWNER_USER if not os.environ.get("DATABASE_URL") else None
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            raise BackupError(f"La base {dbname} existe déjà : choisissez un autre nom.")
        owner_clause = f' OWNER "{owner}"' if owner else ""
        conn.execute(f'CREATE DATABASE "{dbname}"{owner_clause} TEMPLATE template0')
    result = subprocess.run(
        [
            _tool("pg_restore"),
            "--exit-on-error",
            "--disable-triggers",
            "--single-transaction",
            "--dbname",
            with_dbname(url, dbname),
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BackupError(
            f"pg_restore a échoué (base {dbname} laissée pour examen) :\n{result.stderr}"
        )
    return dbname


def main(argv: list[str]) -> int:
    try:
        if len(argv) >= 2 and argv[1] == "dump":
            path = dump(Path(argv[2]) if len(argv) > 2 else None)
            size = path.stat().st_size / 1e6
            print(f"Sauvegarde écrite : {path} ({size:.1f} Mo)")
        elif len(argv) >= 3 and argv[1] == "restore":
            dbname = restore(Path(argv[2]), argv[3] if len(argv) > 3 else None)
            print(f"Restaurée dans la nouvelle base « {dbname} ».")
            print(
                "Pour l'utiliser : arrêtez l'application, puis "
                f"DATABASE_URL=...{dbname} (ou renommez les bases avec ALTER DATABASE)."
            )
        else:
            print(f"usage: {argv[0]} dump [FICHIER] | restore FICHIER [BASE]", file=sys.stderr)
            return 2
    except BackupError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
