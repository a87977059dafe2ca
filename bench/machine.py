"""What every benchmark prints and checks about the machine it runs on, so that a figure can be
reproduced by someone else on a busy machine: the load average at its start and end, the CPU
time the server spent (web processes and PostgreSQL, read from /proc) beside the latency, and a
refusal to start when the machine is already busy or a backlog of jobs would run meanwhile
(BENCH_FORCE=1 to measure anyway, said loudly)."""

import os
import time
from pathlib import Path

from django.core.management.base import CommandError
from django.db import connection

CORES = os.cpu_count() or 1
TICKS = os.sysconf("SC_CLK_TCK")
BUSY = 0.5  # load average per core above which the machine is not quiet enough to measure
CALM_WAIT = 120  # seconds given to the machine to calm down before a measure


def production_env(**extra: str) -> dict[str, str]:
    """The environment of a server or task worker started by a benchmark: this one, with the
    database connections kept between jobs and requests as the service units keep them
    (deploy/systemd/sbee.env.example), unless the caller set CONN_MAX_AGE itself."""
    return {**os.environ, "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "300"), **extra}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} ({CORES} cœurs)"


def _queued_jobs() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return 0
        # The minute's check for stalled jobs, deferred by the last workers, costs nothing.
        cursor.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
            " AND task_name <> 'procrastinate.retry_stalled_jobs'"
        )
        return cursor.fetchone()[0]


def begin(stdout, what: str, *, queue: bool = True) -> None:
    """Print the load average; refuse a busy machine or (`queue`) a backlog of jobs that would
    run meanwhile, unless forced."""
    forced = os.environ.get("BENCH_FORCE") == "1"
    # The target's own preparation (migrations, collectstatic) may have just loaded the machine:
    # it is given up to two minutes to calm down before the load counts against it.
    deadline = time.monotonic() + CALM_WAIT
    if os.getloadavg()[0] > BUSY * CORES and not forced:
        stdout.write(f"[{what}] attente que la charge retombe ({load_average()})…")
        while os.getloadavg()[0] > BUSY * CORES and time.monotonic() < deadline:
            time.sleep(5)
    stdout.write(f"[{what}] charge de la machine au début : {load_average()}")
    problems = []
    if os.getloadavg()[0] > BUSY * CORES:
        problems.append(
            f"la machine est déjà occupée (charge {os.getloadavg()[0]:.2f} pour {CORES} cœurs)"
        )
    queued = _queued_jobs() if queue else 0
    if queued:
        problems.append(
            f"{queued} tâches en file (rendus de documents…) tourneraient pendant la mesure "
            "(`make bench-clear-queue` les retire de la base de mesure)"
        )
    for problem in problems:
        stdout.write(f"!!! ATTENTION : {problem}.")
    if problems and not forced:
        raise CommandError(
            "Mesure refusée : " + " ; ".join(problems) + ". BENCH_FORCE=1 pour mesurer quand même."
        )
    if problems:
        stdout.write("!!! BENCH_FORCE=1 : mesure faite malgré tout ; ses chiffres ne valent pas.")


def end(stdout, what: str) -> None:
    stdout.write(f"[{what}] charge de la machine à la fin : {load_average()}")


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, CPU ticks used, command name) of a process, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    # utime, stime, cutime, cstime are fields 14 to 17 of stat (11 to 14 here, after pid and
    # comm): a process's own time and its children's that it has waited for (a worker that
    # exited counts in its master's).
    return int(fields[1]), sum(int(f) for f in fields[11:15]), name


def _processes() -> dict[int, tuple[int, int, str]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            found[int(entry.name)] = stat
    return found


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by a process and all its living descendants."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in processes:
            total += processes[pid][1]
        todo += children.get(pid, [])
    return total / TICKS


def postgres_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL server's processes (every backend)."""
    return (
        sum(ticks for _, ticks, name in _processes().values() if name.startswith("postgres"))
        / TICKS
    )


class CpuMeter:
    """The CPU the server spent between two readings: its web processes (a process tree, or
    several: the stacks, their proxy and pooler) and PostgreSQL (its replica included), in
    seconds."""

    def __init__(self, web_root: int | list[int] | None = None):
        self.web_roots = [web_root] if isinstance(web_root, int) else list(web_root or [])
        self.web = self._web()
        self.pg = postgres_cpu()

    def _web(self) -> float:
        return sum(tree_cpu(root) for root in self.web_roots)

    def spent(self) -> tuple[float, float]:
        return self._web() - self.web, postgres_cpu() - self.pg


class _Rollback(Exception):
    pass


def rolled_back(measure) -> None:
    """Run `measure()` in a transaction rolled back afterwards: a benchmark leaves no trace."""
    from django.db import transaction

    try:
        with transaction.atomic():
            measure()
            raise _Rollback
    except _Rollback:
        pass
