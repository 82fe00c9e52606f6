# Run as: /usr/bin/python3 <this file> (the systemd unit does), hence no shebang.
# Copyright: MSS Platform engineering
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Textfile collector: last successful backup per store as Prometheus metrics (node_exporter's textfile dir).

  pgbackrest   reads `pgbackrest info --output=json` (or --json FILE): per stanza and repository, the newest backup
               without error -> timestamp (stop), size (repository delta), duration (stop - start).
  redis        scans the Redis snapshot sets on the backup host (<dir>/<set>/<host>-<port>.json manifests written by
               the redis_cluster role's snapshot job; per host only those its <host>.index names, its newest run);
               the newest set whose manifests cover the 16384 slots exactly once counts -> timestamp (newest
               manifest), size (sum of its RDB files), duration (newest - oldest).

The output replaces <textfile dir>/mss_backup_<store>.prom atomically (written to a temporary file in the same
directory, then renamed), so node_exporter never reads half a file; mss_backup_collector_success goes to
mss_backup_<store>_collector.prom (1, or 0 with exit 1 when the source cannot be read: the previous data file is
kept). pgbackrest also reports mss_backup_repo_status_code per stanza and repository (pgBackRest's status code:
0 ok, 2 no valid backups, 99 other error), so an errored stanza is visible, not just silent.

Importable for tests (pgbackrest_text, pgbackrest_rows, pgbackrest_status_rows, render, redis_rows,
set_manifests); one file on the host.
"""

import argparse
import calendar
import json
import os
import subprocess
import sys
import tempfile
import time

SLOTS = 16384


def pgbackrest_rows(info, repo_name):
    """Newest backup without error (full, diff or incr alike) per stanza and repository key."""
    rows = []
    for stanza in info:
        best = {}
        for b in stanza.get("backup", []):
            if b.get("error"):
                continue
            key = b.get("database", {}).get("repo-key", 1)
            if key not in best or b["timestamp"]["stop"] > best[key]["timestamp"]["stop"]:
                best[key] = b
        for key, b in sorted(best.items()):
            rows.append({
                "store": "postgresql", "name": stanza["name"], "repo": "%s/repo%s" % (repo_name, key),
                "ts": b["timestamp"]["stop"], "duration": b["timestamp"]["stop"] - b["timestamp"]["start"],
                "size": b.get("info", {}).get("repository", {}).get("delta", 0),
            })
    return rows


def pgbackrest_status_rows(info, repo_name):
    """pgBackRest's status code per stanza and repository (0 ok, 2 no valid backups, 99 other error, ...)."""
    rows = []
    for stanza in info:
        repos = stanza.get("repo") or []
        if not repos:
            repos = [{"key": 1, "status": stanza.get("status", {})}]
        for r in sorted(repos, key=lambda r: r.get("key", 1)):
            rows.append({"store": "postgresql", "name": stanza["name"],
                         "repo": "%s/repo%s" % (repo_name, r.get("key", 1)),
                         "code": int(r.get("status", {}).get("code", 99))})
    return rows


def label_value(value):
    """Escape a label value for the text exposition format (backslash, double quote, newline)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels(r):
    return 'store="%s",name="%s",repo="%s"' % (label_value(r["store"]), label_value(r["name"]), label_value(r["repo"]))


def set_manifests(d):
    """The manifests of one snapshot set: per host, those its <host>.index names (its newest run), else all."""
    names = os.listdir(d)
    indexed = {}
    for f in names:
        if f.endswith(".index"):
            with open(os.path.join(d, f)) as fh:
                indexed[f[:-len(".index")]] = set(json.load(fh).get("manifests", []))
    manifests = []
    for f in sorted(names):
        if not f.endswith(".json"):
            continue
        with open(os.path.join(d, f)) as fh:
            m = json.load(fh)
        if m.get("host") in indexed and f not in indexed[m["host"]]:
            continue
        manifests.append(m)
    return manifests


def redis_rows(base, name, repo_name):
    best = None
    for set_id in sorted(os.listdir(base), reverse=True):
        d = os.path.join(base, set_id)
        if not os.path.isdir(d):
            continue
        manifests = set_manifests(d)
        covered = [0] * SLOTS
        for m in manifests:
            for a, b in m.get("slots", []):
                for s in range(a, b + 1):
                    covered[s] += 1
        if not manifests or any(c != 1 for c in covered):
            continue
        created = [calendar.timegm(time.strptime(m["created"][:19], "%Y-%m-%dT%H:%M:%S")) for m in manifests]
        size = 0
        for m in manifests:
            rdb = os.path.join(d, "%s-%s.rdb" % (m["host"], m["port"]))
            size += os.path.getsize(rdb) if os.path.exists(rdb) else 0
        best = {"store": "redis", "name": name, "repo": repo_name, "ts": max(created),
                "duration": max(created) - min(created), "size": size}
        break
    return [best] if best else []


def render(rows, status_rows=None):
    out = [
        "# HELP mss_backup_last_success_timestamp_seconds End of the newest successful backup (Unix time).",
        "# TYPE mss_backup_last_success_timestamp_seconds gauge",
    ]
    for r in rows:
        out.append("mss_backup_last_success_timestamp_seconds{%s} %d" % (labels(r), r["ts"]))
    out += ["# HELP mss_backup_last_size_bytes Size of the newest successful backup.",
            "# TYPE mss_backup_last_size_bytes gauge"]
    for r in rows:
        out.append("mss_backup_last_size_bytes{%s} %d" % (labels(r), r["size"]))
    out += ["# HELP mss_backup_last_duration_seconds Duration of the newest successful backup.",
            "# TYPE mss_backup_last_duration_seconds gauge"]
    for r in rows:
        out.append("mss_backup_last_duration_seconds{%s} %d" % (labels(r), r["duration"]))
    if status_rows is not None:
        out += ["# HELP mss_backup_repo_status_code Status code the backup tool reports per repository (0 = ok).",
                "# TYPE mss_backup_repo_status_code gauge"]
        for r in status_rows:
            out.append("mss_backup_repo_status_code{%s} %d" % (labels(r), r["code"]))
    return "\n".join(out) + "\n"


def render_collector(store, ok):
    """The collector's own status, in a file of its own (kept apart so a failed run never duplicates a series)."""
    return "\n".join([
        "# HELP mss_backup_collector_success Whether the backup collector could read its source.",
        "# TYPE mss_backup_collector_success gauge",
        'mss_backup_collector_success{store="%s"} %d' % (label_value(store), 1 if ok else 0),
    ]) + "\n"


def pgbackrest_text(info, repo_name):
    """The whole textfile of the pgbackrest store from parsed `pgbackrest info --output=json`."""
    return render(pgbackrest_rows(info, repo_name), pgbackrest_status_rows(info, repo_name))


def write_atomic(directory, name, text):
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, os.path.join(directory, name))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store", choices=["pgbackrest", "redis"])
    ap.add_argument("--textfile-dir", default="/var/lib/prometheus/node-exporter")
    ap.add_argument("--repo-name", default=os.uname().nodename)
    ap.add_argument("--run-as", help="pgbackrest: run pgbackrest info as this user (runuser)")
    ap.add_argument("--json", help="pgbackrest: read this JSON instead of running pgbackrest info")
    ap.add_argument("--dir", default="/srv/backups/redis", help="redis: the snapshot sets' directory")
    ap.add_argument("--name", default="redis", help="redis: the cluster name of the sets")
    args = ap.parse_args(argv)
    store = "postgresql" if args.store == "pgbackrest" else "redis"
    try:
        if args.store == "pgbackrest":
            if args.json:
                with open(args.json) as f:
                    info = json.load(f)
            else:
                cmd = ["pgbackrest", "info", "--output=json"]
                if args.run_as:
                    cmd = ["runuser", "-u", args.run_as, "--"] + cmd
                proc = subprocess.run(cmd, capture_output=True, text=True,
                                      timeout=600, check=True)
                info = json.loads(proc.stdout)
            rows = pgbackrest_rows(info, args.repo_name)
            text = pgbackrest_text(info, args.repo_name)
        else:
            rows = redis_rows(args.dir, args.name, args.repo_name)
            text = render(rows)
    except (OSError, ValueError, KeyError, TypeError, subprocess.SubprocessError) as e:
        print("mss_backup_metrics: %s: %s" % (args.store, e), file=sys.stderr)
        write_atomic(args.textfile_dir, "mss_backup_%s_collector.prom" % store, render_collector(store, False))
        return 1
    write_atomic(args.textfile_dir, "mss_backup_%s.prom" % store, text)
    write_atomic(args.textfile_dir, "mss_backup_%s_collector.prom" % store, render_collector(store, True))
    print(json.dumps({"store": store, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
