#!/usr/bin/env python3
"""PITR restore of a ~2 GB PostgreSQL database with pgBackRest vs pg_dump/pg_restore of the same data.

Self-contained: one systemd container ``bench-pitr-pg`` (offline image mss/systemd:bookworm, never pulled) on its
own network ``mss-bench-pitr``; postgresql-15 and pgbackrest (Debian 2.45) installed there with apt-get. Removed
at the end unless --keep (``--reuse`` runs the timed part again on a kept container).

Method
- Data (``--size-gb``, default 2): four tables of realistic rows generated server-side with generate_series and
  pgcrypto's gen_random_bytes, so the payloads are random, not pgbench's blank filler: accounts (hex e-mails, names,
  base64 profiles of 60-400 chars), orders (hex notes of 32-256 chars, statuses, amounts), documents (base64 bodies
  of 300-1800 chars, text[] tags), events (jsonb payloads); primary keys, foreign keys, btree indexes on text,
  bigint, timestamptz and (status, created_at), a GIN index on the tags. VACUUM (FREEZE, ANALYZE) afterwards.
  pg_database_size is measured and reported.
- Server (identical for both sides): shared_buffers 1GB, maintenance_work_mem 512MB, max_wal_size 8GB,
  max_parallel_maintenance_workers 2, wal_level replica, archive_mode on, archive_timeout 60,
  archive_command = pgbackrest archive-push (asynchronous, spool /var/spool/pgbackrest).
- pgBackRest as in production: local posix repository /var/lib/pgbackrest, repo1-cipher-type aes-256-cbc with a
  random cipher pass (generated per run, never printed), compress-type lz4 (``--compress-type`` to try zst),
  process-max 2, start-fast. lz4 because restore on 2 cores is CPU-bound and lz4 decompresses several times faster
  than zst; zst buys a smaller repository at a CPU cost on backup, archive-push and restore.
- Sequence: generate data (archiving paused: the load is not part of what is restored), stanza-create + check, timed
  full backup, pg_dump -Fd -j 2 (timed separately, default gzip compression), then two targets, each a marker row
  set + its timestamp (server clock): target ``after_backup`` right after the backup (the issue's sequence, little
  WAL to replay), then post-backup activity (``--churn-pct`` of the orders rows updated: every page of the table
  and its indexes gets a full-page image in the WAL) and target ``with_replay``; then rows written, updated and
  deleted after both; pg_switch_wal and a wait until that segment is archived.
- Timed PITR restore, per run and per target: the server is stopped and its data directory removed (the "disk
  lost" case: restore into an EMPTY data directory, not --delta, which would only be faster because most files
  survived), then the clock runs over ``pgbackrest restore --type=time --target=<ts> --target-action=promote
  --target-timeline=current`` + starting PostgreSQL + waiting until pg_is_in_recovery() is false and an INSERT
  commits. Verified exactly: marker rows written before the target present, every change after it absent, row
  counts of every table and the updated rows equal to those at the target time. Wrong data fails the benchmark.
- Timed logical restore, per run, on the same server: createdb + ``pg_restore -j 2`` (data, index builds, foreign
  key validation) + a first query. Row and index counts must equal the source's. During it archive_command is set
  to /bin/true (WAL of the restore not archived): the conservative choice, pg_restore is not slowed by archiving.
  Not timed: ANALYZE after pg_restore; a checkpoint flushing its writes (pgBackRest's restore fsyncs its files).
- The restores alternate within each run so that all both see the same machine load; median/min/max are reported with
  the load average before and after each timed restore. Everything inside the container runs at ``--nice`` (the
  PostgreSQL service through a systemd drop-in). The page cache is warm for both sides unless --drop-caches.

Usage: bench/pg_pitr.py [--size-gb 2] [--runs 2] [--keep] [--reuse] [--compress-type lz4|zst] [--drop-caches]
(through `make bench` / tests/harness/run-bench.sh, which passes no arguments: PG_PITR_SIZE_GB and PG_PITR_RUNS
set the size and the runs.)
Writes bench/results/pg_pitr.json and bench/results/pg_pitr.md; exits non-zero on any failure. Bounded waits only.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CT = "bench-pitr-pg"
NET = "mss-bench-pitr"
IMAGE = "mss/systemd:bookworm"
PGVER = "15"
PGDATA = f"/var/lib/postgresql/{PGVER}/main"
UNIT = f"postgresql@{PGVER}-main"
DB = "bench"
RESTORE_DB = "bench_restore"
STANZA = "bench"
DUMP = "/var/lib/postgresql/bench-dump"
REPO = "/var/lib/pgbackrest"
SPOOL = "/var/spool/pgbackrest"
SETUP_FILE = "/var/lib/postgresql/bench-setup.json"
TABLES = ("accounts", "orders", "documents", "events")
GOAL_RATIO = 5.0
NICE = 10

# rows per GB of target size (calibrated: pg_database_size ~= size_gb GB)
ROWS_PER_GB = {"accounts": 345_000, "orders": 1_120_000, "documents": 210_000, "events": 945_000}

PG_CONF = """\
listen_addresses = 'localhost'
shared_buffers = 1GB
maintenance_work_mem = 512MB
max_wal_size = 8GB
min_wal_size = 1GB
checkpoint_timeout = 15min
max_parallel_maintenance_workers = 2
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --stanza={stanza} archive-push %p'
archive_timeout = 60
"""

PGBR_CONF = """\
[global]
repo1-path={repo}
repo1-type=posix
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass={cipher}
repo1-retention-full=2
compress-type={compress}
compress-level={level}
process-max=2
start-fast=y
archive-async=y
spool-path={spool}
archive-push-queue-max=4GiB
log-level-console=warn
log-level-file=info

[global:archive-get]
process-max=2

[{stanza}]
pg1-path={pgdata}
pg1-socket-path=/var/run/postgresql
pg1-port=5432
"""

WORDS = ("ARRAY['alpha','bravo','charlie','delta','echo','foxtrot','golf','hotel','india','juliet','kilo','lima',"
         "'mike','november','oscar','papa','quebec','romeo','sierra','tango']")

GEN_A = """\
\\set ON_ERROR_STOP on
CREATE TABLE accounts (id bigint NOT NULL, email text NOT NULL, name text NOT NULL, country char(2) NOT NULL,
  created_at timestamptz NOT NULL, balance numeric(12,2) NOT NULL, profile text NOT NULL);
INSERT INTO accounts
SELECT g, encode(gen_random_bytes(8), 'hex') || '.' || g || '@example.test',
       initcap(encode(gen_random_bytes(5), 'hex')) || ' ' || initcap(encode(gen_random_bytes(7), 'hex')),
       (ARRAY['FR','DE','US','GB','ES','IT','NL','BE','CH','PL'])[1 + g % 10],
       timestamptz '2021-01-01' + random() * interval '1500 days', round((random() * 100000)::numeric, 2),
       left(encode(gen_random_bytes(300), 'base64'), 60 + (random() * 340)::int)
FROM generate_series(1, {accounts}) g;
ALTER TABLE accounts ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX accounts_email_key ON accounts (email);
CREATE INDEX accounts_created_at_idx ON accounts (created_at);
CREATE TABLE orders (id bigint NOT NULL, account_id bigint NOT NULL, status text NOT NULL,
  amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL, note text NOT NULL);
INSERT INTO orders
SELECT g, 1 + (random() * ({accounts} - 1))::bigint,
       (ARRAY['new','paid','shipped','delivered','cancelled'])[1 + (random() * 4)::int],
       round((random() * 2000)::numeric, 2), timestamptz '2021-01-01' + random() * interval '1500 days',
       left(encode(gen_random_bytes(128), 'hex'), 32 + (random() * 224)::int)
FROM generate_series(1, {orders}) g;
ALTER TABLE orders ADD PRIMARY KEY (id);
CREATE INDEX orders_account_id_idx ON orders (account_id);
CREATE INDEX orders_status_created_idx ON orders (status, created_at);
"""

GEN_B = """\
\\set ON_ERROR_STOP on
CREATE TABLE documents (id bigint NOT NULL, account_id bigint NOT NULL, title text NOT NULL, tags text[] NOT NULL,
  body text NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO documents
SELECT g, 1 + (random() * ({accounts} - 1))::bigint, encode(gen_random_bytes(15), 'base64'),
       ARRAY[({words})[1 + (random() * 19)::int], ({words})[1 + (random() * 19)::int],
             ({words})[1 + (random() * 19)::int]],
       left(encode(gen_random_bytes(1024), 'base64') || encode(gen_random_bytes(384), 'base64'),
            300 + (random() * 1500)::int),
       timestamptz '2021-01-01' + random() * interval '1500 days'
FROM generate_series(1, {documents}) g;
ALTER TABLE documents ADD PRIMARY KEY (id);
CREATE INDEX documents_account_id_idx ON documents (account_id);
CREATE INDEX documents_title_idx ON documents (title);
CREATE INDEX documents_tags_idx ON documents USING gin (tags);
CREATE INDEX documents_updated_at_idx ON documents (updated_at);
CREATE TABLE events (id bigint NOT NULL, account_id bigint NOT NULL, ts timestamptz NOT NULL, kind smallint NOT NULL,
  payload jsonb NOT NULL);
INSERT INTO events
SELECT g, 1 + (random() * ({accounts} - 1))::bigint, timestamptz '2021-01-01' + random() * interval '1500 days',
       (random() * 12)::smallint,
       jsonb_build_object('ip', host(inet '10.0.0.0' + (random() * 16000000)::bigint),
                          'ua', encode(gen_random_bytes(24), 'base64'), 'n', (random() * 1e6)::int,
                          'ok', random() < 0.9)
FROM generate_series(1, {events}) g;
ALTER TABLE events ADD PRIMARY KEY (id);
CREATE INDEX events_account_ts_idx ON events (account_id, ts);
CREATE INDEX events_ts_idx ON events (ts);
"""

GEN_FINAL = """\
\\set ON_ERROR_STOP on
ALTER TABLE orders ADD FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE documents ADD FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE events ADD FOREIGN KEY (account_id) REFERENCES accounts (id);
CREATE TABLE bench_marker (id serial PRIMARY KEY, phase text NOT NULL, written_at timestamptz NOT NULL
  DEFAULT clock_timestamp());
CREATE TABLE bench_probe (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
VACUUM (FREEZE, ANALYZE);
"""


class BenchError(RuntimeError):
    pass


class Fatal(BenchError):
    """An error that a wait loop must not retry."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(*args: str, check: bool = True, timeout: float = 600, input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), text=True, capture_output=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise BenchError(f"{' '.join(args[:8])} -> rc {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc


def dx(*cmd: str, user: str | None = None, nice: bool = False, timeout: float = 600, check: bool = True,
       input: str | None = None) -> subprocess.CompletedProcess:
    """docker exec into the bench container (optionally as a user and at the bench's nice level)."""
    args = ["docker", "exec"] + (["-i"] if input is not None else [])
    if user:
        args += ["-u", user]
    args.append(CT)
    if nice:
        args += ["nice", "-n", str(NICE)]
    return sh(*args, *cmd, check=check, timeout=timeout, input=input)


def psql(sql: str, db: str = DB, timeout: float = 600, check: bool = True) -> str:
    return dx("psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql, user="postgres", timeout=timeout,
              check=check).stdout.strip()


def psql_script(db: str = DB) -> subprocess.Popen:
    return subprocess.Popen(["docker", "exec", "-i", "-u", "postgres", CT, "nice", "-n", str(NICE), "psql", "-Xq",
                             "-d", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def run_scripts(scripts: list[str], timeout: float) -> None:
    procs = [psql_script() for _ in scripts]
    for i, (proc, script) in enumerate(zip(procs, scripts, strict=True)):
        try:
            _, err = proc.communicate(script, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            for p in procs:
                p.kill()
            raise BenchError(f"generation script {i} timed out after {timeout} s") from exc
        if proc.returncode != 0:
            raise BenchError(f"generation script {i} failed: {err.strip()[-2000:]}")


def wait_until(what: str, probe, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except Fatal:
            raise
        except (BenchError, subprocess.TimeoutExpired) as exc:
            last = exc
        time.sleep(interval)
    raise BenchError(f"timed out after {timeout} s waiting for {what}" + (f" (last error: {last})" if last else ""))


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    running = sh("docker", "ps", "-q", check=False).stdout.split()
    return {"nproc": os.cpu_count(), "mem_gib": round(mem_kb / 1024 / 1024, 1), "kernel": platform.release(),
            "containers_running_at_start": len(running)}


def drop_caches() -> None:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        raise BenchError(f"--drop-caches needs root on the host: {exc}") from exc


# ---------------------------------------------------------------------------------------------------------------
# container and software
def container_state() -> str | None:
    proc = sh("docker", "inspect", "-f", "{{.State.Status}}", CT, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def create_container() -> None:
    if sh("docker", "network", "inspect", NET, check=False).returncode != 0:
        sh("docker", "network", "create", "--label", "mss.bench=pg_pitr", NET)
    sh("docker", "run", "-d", "--pull", "never", "--name", CT, "--hostname", CT, "--network", NET,
       "--network-alias", CT, "--label", "mss.bench=pg_pitr",
       "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
       "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
       "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
       # parallel index builds need more than Docker's default 64 MB of /dev/shm
       "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp", "--shm-size", "1g",
       "--stop-signal", "SIGRTMIN+3", IMAGE, "/sbin/init")

    def booted() -> bool:
        state = dx("systemctl", "is-system-running", check=False).stdout.strip()
        return state in ("running", "degraded")
    wait_until("systemd in the container", booted, 120, 0.5)


def remove_container() -> None:
    sh("docker", "rm", "-f", "-v", CT, check=False)
    sh("docker", "network", "rm", NET, check=False)


def install(compress: str) -> dict:
    log("apt-get install postgresql-15 pgbackrest in the container")
    dx("sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
       f"--no-install-recommends postgresql-{PGVER} pgbackrest >/dev/null", timeout=1200)
    versions = {
        "postgresql": dx(f"/usr/lib/postgresql/{PGVER}/bin/postgres", "--version").stdout.strip(),
        "pgbackrest": dx("pgbackrest", "version").stdout.strip(),
    }
    # the server: same settings for both sides, running at the bench's nice level
    dx("sh", "-c", f"cat > /etc/postgresql/{PGVER}/main/conf.d/bench.conf", input=PG_CONF.format(stanza=STANZA))
    dx("sh", "-c", f"echo \"pg_ctl_options = '-t 1800'\" > /etc/postgresql/{PGVER}/main/pg_ctl.conf")
    dx("sh", "-c", "mkdir -p /etc/systemd/system/postgresql@.service.d && "
       f"printf '[Service]\\nNice={NICE}\\nTimeoutStartSec=1800\\n' "
       "> /etc/systemd/system/postgresql@.service.d/bench.conf && systemctl daemon-reload")
    cipher = secrets.token_urlsafe(48)
    conf = PGBR_CONF.format(repo=REPO, cipher=cipher, compress=compress, level=1 if compress == "lz4" else 3,
                            spool=SPOOL, stanza=STANZA, pgdata=PGDATA)
    dx("sh", "-c", "umask 027 && cat > /etc/pgbackrest.conf && chown postgres:postgres /etc/pgbackrest.conf",
       input=conf)
    dx("sh", "-c", f"install -d -o postgres -g postgres -m 0750 {REPO} {SPOOL} /var/log/pgbackrest")
    dx("systemctl", "restart", UNIT, timeout=300)
    wait_until("PostgreSQL up", lambda: psql("SELECT 1", db="postgres") == "1", 120, 0.5)
    return versions


# ---------------------------------------------------------------------------------------------------------------
# data, backup, dump
def counts(db: str = DB) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES)
    return {k: int(v) for k, v in (line.split("|") for line in psql(sql, db=db).splitlines())}


def index_count(db: str) -> int:
    return int(psql("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'", db=db))


def generate(size_gb: float) -> dict:
    rows = {t: max(1000, int(n * size_gb)) for t, n in ROWS_PER_GB.items()}
    log(f"generating ~{size_gb} GB: {rows}")
    psql(f"CREATE DATABASE {DB}", db="postgres")
    psql("CREATE EXTENSION pgcrypto")
    # the load is not what gets restored (the full backup comes after it): do not archive its WAL
    psql("ALTER SYSTEM SET archive_command = '/bin/true'", db="postgres")
    psql("SELECT pg_reload_conf()", db="postgres")
    t0 = time.monotonic()
    run_scripts([GEN_A.format(**rows), GEN_B.format(words=WORDS, **rows)], timeout=7200)
    run_scripts([GEN_FINAL], timeout=3600)
    gen_s = time.monotonic() - t0
    psql("ALTER SYSTEM RESET archive_command", db="postgres")
    psql("SELECT pg_reload_conf()", db="postgres")
    psql("CHECKPOINT", db="postgres")
    sizes = {t: int(psql(f"SELECT pg_total_relation_size('{t}')")) for t in TABLES}
    db_bytes = int(psql(f"SELECT pg_database_size('{DB}')"))
    log(f"generated in {gen_s:.1f} s: pg_database_size {db_bytes / 1e9:.2f} GB")
    return {"generate_s": round(gen_s, 1), "rows": counts(), "table_bytes": sizes, "db_bytes": db_bytes,
            "indexes": index_count(DB)}


def pgbackrest(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    return dx("pgbackrest", f"--stanza={STANZA}", *args, user="postgres", nice=True, timeout=timeout)


def du(path: str) -> int:
    return int(dx("du", "-sb", path).stdout.split()[0])


def backup() -> dict:
    pgbackrest("stanza-create", timeout=300)
    pgbackrest("check", timeout=300)
    log("full backup")
    t0 = time.monotonic()
    pgbackrest("--type=full", "backup")
    backup_s = time.monotonic() - t0
    info = json.loads(pgbackrest("info", "--output=json", timeout=120).stdout)[0]
    last = info["backup"][-1]
    log(f"full backup {last['label']} in {backup_s:.1f} s")
    return {"backup_s": round(backup_s, 1), "label": last["label"], "backup_db_bytes": last["info"]["size"],
            "backup_repo_bytes": last["info"]["repository"]["delta"], "stop_lsn": last["lsn"]["stop"]}


def dump() -> dict:
    log("pg_dump -Fd -j 2")
    dx("rm", "-rf", DUMP)
    t0 = time.monotonic()
    dx("pg_dump", "-Fd", "-j", "2", "-f", DUMP, DB, user="postgres", nice=True, timeout=7200)
    dump_s = time.monotonic() - t0
    size = du(DUMP)
    log(f"dump in {dump_s:.1f} s, {size / 1e9:.2f} GB")
    return {"dump_s": round(dump_s, 1), "dump_bytes": size, "dump_rows": counts(), "dump_indexes": index_count(DB)}


def archived(segment: str) -> bool:
    last = psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver", db="postgres")
    return last >= segment


def now_utc() -> str:
    return psql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")


def state(markers: dict[str, int]) -> dict:
    return {"rows": counts(), "refunded": int(psql("SELECT count(*) FROM orders WHERE status = 'refunded'")),
            "late": int(psql("SELECT count(*) FROM orders WHERE status = 'late'")), "markers": markers}


def mark_target(phases: dict, backup_stop_lsn: str) -> dict:
    """A restore target between two commits (clock-separated from both), the rows expected there, and the WAL
    written since the backup ended (what recovery must replay)."""
    expected = state(phases)
    lsn = psql("SELECT pg_current_wal_lsn()")
    time.sleep(1.2)
    target = {"target": now_utc(), "expected": expected,
              "wal_to_replay_bytes": int(psql(f"SELECT pg_wal_lsn_diff('{lsn}', '{backup_stop_lsn}')"))}
    time.sleep(1.2)
    return target


def history(churn_pct: int, backup_stop_lsn: str) -> dict:
    """Two targets after the backup, then changes that must NOT be restored.

    target ``after_backup``: a marker row set written right after the backup (the issue's sequence);
    target ``with_replay``: after ``churn_pct`` % of the orders rows were updated and a second marker set written.
    """
    targets = {}
    psql("INSERT INTO bench_marker (phase) SELECT 'before1' FROM generate_series(1, 1000)")
    targets["after_backup"] = mark_target({"before1": 1000}, backup_stop_lsn)
    # recovery stops at the first commit after the target, having replayed every WAL record before it: without
    # this small commit, that first commit would be the big UPDATE's and its whole WAL would be replayed
    psql("INSERT INTO bench_probe DEFAULT VALUES")
    log(f"post-backup activity: {churn_pct}% of orders updated")
    modulo = max(1, round(100 / churn_pct)) if churn_pct > 0 else 0
    if modulo:
        psql(f"UPDATE orders SET status = 'refunded', amount = -amount WHERE id % {modulo} = 0", timeout=3600)
    psql("INSERT INTO bench_marker (phase) SELECT 'before2' FROM generate_series(1, 1000)")
    targets["with_replay"] = mark_target({"before1": 1000, "before2": 1000}, backup_stop_lsn)
    psql("INSERT INTO bench_marker (phase) SELECT 'after' FROM generate_series(1, 1000)")
    psql("UPDATE orders SET status = 'late' WHERE id % 1000 = 1")
    psql("DELETE FROM events WHERE id % 1000 = 2")
    psql("INSERT INTO bench_probe DEFAULT VALUES")
    segment = psql("SELECT pg_walfile_name(pg_switch_wal())", db="postgres")
    wait_until(f"WAL segment {segment} archived", lambda: archived(segment), 600, 1.0)
    for name, t in targets.items():
        log(f"target {name} {t['target']}: {t['wal_to_replay_bytes'] / 1e6:.0f} MB of WAL after the backup's end")
    return {"targets": targets}


# ---------------------------------------------------------------------------------------------------------------
# timed restores
def unit_failed() -> bool:
    return dx("systemctl", "is-failed", "--quiet", UNIT, check=False).returncode == 0


def read_write() -> bool:
    if unit_failed():
        raise Fatal(f"{UNIT} failed to start: "
                         + dx("journalctl", "-u", UNIT, "-n", "30", "--no-pager", check=False).stdout)
    proc = dx("psql", "-XAtq", "-d", DB, "-c", "SELECT pg_is_in_recovery()", user="postgres", check=False,
              timeout=30)
    if proc.returncode != 0 or proc.stdout.strip() != "f":
        return False
    return dx("psql", "-XAtq", "-d", DB, "-c", "INSERT INTO bench_probe DEFAULT VALUES", user="postgres",
              check=False, timeout=30).returncode == 0


def verify_pitr(expected: dict) -> None:
    markers = dict(tuple(line.split("|")) for line in psql(
        "SELECT phase, count(*) FROM bench_marker GROUP BY phase").splitlines())
    got = state({k: int(v) for k, v in markers.items()})
    if got != expected:
        raise BenchError(f"PITR restore returned wrong data: expected {expected}, got {got}")


def pitr_run(i: int, name: str, target: dict, cold: bool) -> dict:
    dx("systemctl", "stop", UNIT, timeout=300)
    wait_until("PostgreSQL stopped", lambda: dx("systemctl", "is-active", "--quiet", UNIT, check=False).returncode
               != 0, 120, 0.5)
    # the disk is lost: restore into an empty data directory; stale async-archive queues are not part of it
    dx("sh", "-c", f"rm -rf {PGDATA} {SPOOL}/archive && install -d -o postgres -g postgres -m 0700 {PGDATA}")
    dx("sync")
    if cold:
        drop_caches()
    load_before = loadavg()
    t0 = time.monotonic()
    pgbackrest("--type=time", f"--target={target['target']}", "--target-action=promote",
               "--target-timeline=current", "restore", timeout=7200)
    t1 = time.monotonic()
    dx("systemctl", "start", "--no-block", UNIT)
    wait_until("recovery finished and the server read-write", read_write, 3600, 0.2)
    t2 = time.monotonic()
    load_after = loadavg()
    verify_pitr(target["expected"])
    timeline = int(psql("SELECT pg_walfile_name(pg_current_wal_lsn())", db="postgres")[:8], 16)
    result = {"method": f"pitr_{name}", "run": i, "total_s": round(t2 - t0, 2), "restore_s": round(t1 - t0, 2),
              "recovery_s": round(t2 - t1, 2), "verified": True, "timeline": timeline,
              "load_before": load_before, "load_after": load_after}
    log(f"PITR {name} run {i}: {result['total_s']} s (restore {result['restore_s']} + start/replay/promote "
        f"{result['recovery_s']}); data verified")
    return result


def logical_run(i: int, setup: dict, cold: bool) -> dict:
    psql(f"DROP DATABASE IF EXISTS {RESTORE_DB}", db="postgres")
    psql("ALTER SYSTEM SET archive_command = '/bin/true'", db="postgres")
    psql("SELECT pg_reload_conf()", db="postgres")
    psql("CHECKPOINT", db="postgres")
    dx("sync")
    if cold:
        drop_caches()
    load_before = loadavg()
    t0 = time.monotonic()
    dx("createdb", "-T", "template0", RESTORE_DB, user="postgres", nice=True)
    proc = dx("pg_restore", "-j", "2", "-d", RESTORE_DB, DUMP, user="postgres", nice=True, timeout=7200,
              check=False)
    first = psql("SELECT count(*) FROM orders WHERE id = 1", db=RESTORE_DB)
    t1 = time.monotonic()
    load_after = loadavg()
    if proc.returncode != 0 or first != "1":
        raise BenchError(f"pg_restore failed (rc {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    got, want = counts(RESTORE_DB), setup["dump_rows"]
    if got != want or index_count(RESTORE_DB) != setup["dump_indexes"]:
        raise BenchError(f"pg_restore returned wrong data: expected {want}, got {got}")
    psql(f"DROP DATABASE {RESTORE_DB}", db="postgres")
    psql("ALTER SYSTEM RESET archive_command", db="postgres")
    psql("SELECT pg_reload_conf()", db="postgres")
    result = {"method": "pg_restore", "run": i, "total_s": round(t1 - t0, 2), "verified": True,
              "load_before": load_before, "load_after": load_after}
    log(f"pg_restore run {i}: {result['total_s']} s; row and index counts verified")
    return result


# ---------------------------------------------------------------------------------------------------------------
def stats(values: list[float]) -> dict:
    return {"median_s": round(statistics.median(values), 2), "min_s": min(values), "max_s": max(values),
            "runs": len(values)}


def report(setup: dict, runs: list[dict], mach: dict, load: dict, args: argparse.Namespace) -> dict:
    summary: dict = {}
    for method in ("pitr_after_backup", "pitr_with_replay", "pg_restore"):
        rows = [r for r in runs if r["method"] == method]
        summary[method] = stats([r["total_s"] for r in rows])
        if method.startswith("pitr_"):
            summary[method]["restore_median_s"] = round(statistics.median(r["restore_s"] for r in rows), 2)
            summary[method]["recovery_median_s"] = round(statistics.median(r["recovery_s"] for r in rows), 2)
    for method in ("pitr_after_backup", "pitr_with_replay"):
        ratio = round(summary["pg_restore"]["median_s"] / summary[method]["median_s"], 2)
        summary[method]["ratio_vs_pg_restore"] = ratio
        summary[method]["goal_met"] = ratio >= GOAL_RATIO
    summary["goal_ratio"] = GOAL_RATIO
    doc = {"bench": "pg_pitr", "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": mach, "load_avg": load, "nice": NICE, "page_cache": "cold" if args.drop_caches else "warm",
           "config": {"size_gb_requested": setup.get("size_gb", args.size_gb), "compress_type": setup["compress_type"],
                      "cipher": "aes-256-cbc", "process_max": 2, "archive_async": True, "archive_timeout": 60,
                      "pitr_restore_into": "empty data directory (no --delta)",
                      "pg_dump": "-Fd -j 2 (default gzip)", "pg_restore": "-j 2 into a new database",
                      "logical_restore_archiving": "off (archive_command=/bin/true during the restore)",
                      "churn_pct": setup.get("churn_pct", args.churn_pct)},
           "setup": setup, "summary": summary, "runs": runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pg_pitr.json").write_text(json.dumps(doc, indent=2) + "\n")
    gb, mb = 1e9, 1e6
    tg = setup["targets"]
    lines = [
        "# PostgreSQL restore: pgBackRest PITR vs pg_dump/pg_restore of the same data",
        "",
        f"{doc['date_utc']}, one container (mss/systemd:bookworm), PostgreSQL {PGVER} + "
        f"{setup['versions']['pgbackrest']} from Debian; {mach['nproc']} cores, {mach['mem_gib']} GiB, shared with "
        f"other jobs (load average {load['start'][0]} at start, {load['end'][0]} at end, see the JSON per run; "
        f"container work at nice {NICE}); page cache {doc['page_cache']}. Random-text rows in 4 tables, "
        f"{setup['indexes']} indexes incl. GIN, foreign keys. pgBackRest: aes-256-cbc, {setup['compress_type']}, "
        "process-max 2, async archiving; restore into an EMPTY data directory to a timestamp, timed until promoted "
        "and a write commits, then rows checked exactly (before the target present, after it absent). Two targets: "
        f"right after the backup, and after {doc['config']['churn_pct']}% of the orders rows were updated (WAL to "
        "replay). pg_restore -j 2 into a new database (WAL archiving off during it: favourable to pg_restore), "
        "timed until the first query; ANALYZE not included. Methods alternate within each run.",
        "",
        "| | value |",
        "|---|---|",
        f"| database size (pg_database_size) | {setup['db_bytes'] / gb:.2f} GB |",
        f"| full backup in repository (encrypted, {setup['compress_type']}) | "
        f"{setup['backup_repo_bytes'] / gb:.2f} GB |",
        f"| pg_dump -Fd directory | {setup['dump_bytes'] / gb:.2f} GB |",
        f"| WAL (LSN distance) from the backup's end: target right after it / after the updates | "
        f"{tg['after_backup']['wal_to_replay_bytes'] / mb:.0f} MB / {tg['with_replay']['wal_to_replay_bytes'] / mb:.0f}"
        " MB |",
        f"| data generation / full backup / pg_dump -j 2 (not restore times) | {setup['generate_s']} s / "
        f"{setup['backup_s']} s / {setup['dump_s']} s |",
        "",
        "| restore | runs | median (s) | min (s) | max (s) | pg_restore / this (median) |",
        "|---|---|---|---|---|---|",
    ]
    labels = {"pitr_after_backup": "pgBackRest PITR, target right after the backup",
              "pitr_with_replay": "pgBackRest PITR, target after the updates (WAL replay)",
              "pg_restore": "pg_restore -j 2 (create DB + data + indexes + FKs)"}
    for method, label in labels.items():
        s = summary[method]
        ratio = ""
        if "ratio_vs_pg_restore" in s:
            ratio = f"**{s['ratio_vs_pg_restore']}x** (goal >= {GOAL_RATIO}x: {'met' if s['goal_met'] else 'NOT met'})"
        lines.append(f"| {label} | {s['runs']} | {s['median_s']} | {s['min_s']} | {s['max_s']} | {ratio} |")
        if "restore_median_s" in s:
            lines.append(f"| of which `pgbackrest restore` / start + replay + promote | | {s['restore_median_s']} / "
                         f"{s['recovery_median_s']} | | | |")
    (RESULTS / "pg_pitr.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    return doc


def main() -> int:
    global NICE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=float(os.environ.get("PG_PITR_SIZE_GB", "2")),
                        help="target pg_database_size in GB (default 2, or $PG_PITR_SIZE_GB)")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("PG_PITR_RUNS", "2")),
                        help="timed restores per method (default 2, or $PG_PITR_RUNS)")
    parser.add_argument("--keep", action="store_true", help="keep the container and its network")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept container: timed runs only")
    parser.add_argument("--compress-type", choices=("lz4", "zst"), default="lz4")
    parser.add_argument("--churn-pct", type=int, default=10, help="%% of orders rows updated after the backup")
    parser.add_argument("--nice", type=int, default=NICE, help="nice level of the work in the container")
    parser.add_argument("--drop-caches", action="store_true", help="drop the host page cache before each restore")
    args = parser.parse_args()
    NICE = args.nice
    if args.runs < 1 or args.size_gb <= 0 or not 0 <= args.churn_pct <= 100:
        parser.error("--runs >= 1, --size-gb > 0, 0 <= --churn-pct <= 100")
    if sh("docker", "info", check=False, timeout=60).returncode != 0:
        print("docker engine not answering (tests/harness/docker-engine.sh starts it)", file=sys.stderr)
        return 2
    mach = machine()
    load = {"start": loadavg()}
    reuse = args.reuse and container_state() == "running" and dx("test", "-f", SETUP_FILE, check=False).returncode == 0
    created = False
    try:
        if reuse:
            log(f"reusing {CT}")
            setup = json.loads(dx("cat", SETUP_FILE).stdout)
        else:
            if container_state() is not None:
                remove_container()
            created = True
            create_container()
            setup = {"versions": install(args.compress_type), "compress_type": args.compress_type,
                     "size_gb": args.size_gb, "churn_pct": args.churn_pct}
            setup.update(generate(args.size_gb))
            setup.update(backup())
            setup.update(dump())
            setup.update(history(args.churn_pct, setup["stop_lsn"]))
            setup["repo_bytes"] = du(REPO)
            dx("sh", "-c", f"cat > {SETUP_FILE}", input=json.dumps(setup))
        runs: list[dict] = []
        for i in range(args.runs):
            for name, target in setup["targets"].items():
                runs.append(pitr_run(i, name, target, args.drop_caches))
            runs.append(logical_run(i, setup, args.drop_caches))
        load["end"] = loadavg()
        report(setup, runs, mach, load, args)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        print(f"pg_pitr FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if (created or reuse) and not args.keep:
            remove_container()
    return 0


if __name__ == "__main__":
    sys.exit(main())
