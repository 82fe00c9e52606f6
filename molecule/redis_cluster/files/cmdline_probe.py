# Secret-on-the-command-line probe (test bed only): scans /proc/*/cmdline every --interval seconds until it is
# stopped (SIGTERM), and records every process whose command line contains one of the strings in --secrets (one
# per line, a 0600 file, so the probe's own command line holds none). Also records which --watch patterns it saw,
# to prove the processes under test ran while it looked. Writes its findings as JSON to --out twice a second;
# a finding names the process (pid, argv[0]) and the index of the secret, never the secret itself.
#   python3 cmdline_probe.py --secrets FILE --out FILE [--watch PATTERN ...] [--interval 0.02]
import argparse
import json
import os
import signal
import sys
import time


def scan(secrets, watch, hits, seen):
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        if not raw:
            continue
        line = raw.replace(b"\0", b" ").decode("utf-8", "replace")
        for i, s in enumerate(secrets):
            if s in line:
                key = (pid, i)
                if key not in hits:
                    hits[key] = {"pid": int(pid), "argv0": line.split(" ", 1)[0], "secret": i}
        for w in watch:
            if w in line:
                seen[w] = seen.get(w, 0) + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secrets", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--watch", action="append", default=[])
    ap.add_argument("--interval", type=float, default=0.02)
    args = ap.parse_args()
    with open(args.secrets) as f:
        secrets = [s for s in f.read().splitlines() if s]
    hits, seen = {}, {}
    state = {"stop": False}
    signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))
    rounds = 0
    started = time.monotonic()
    last_write = 0.0

    def write():
        tmp = args.out + ".part"
        with open(tmp, "w") as f:
            json.dump({"rounds": rounds, "seconds": round(time.monotonic() - started, 1), "secrets": len(secrets),
                       "hits": list(hits.values()), "seen": seen}, f)
        os.replace(tmp, args.out)

    while not state["stop"]:
        scan(secrets, args.watch, hits, seen)
        rounds += 1
        if time.monotonic() - last_write > 0.5:
            write()
            last_write = time.monotonic()
        time.sleep(args.interval)
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
