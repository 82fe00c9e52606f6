#!/usr/bin/env python3
"""Run every query of the Grafana dashboards against a live Prometheus; fail on each panel that would show "No data".

Standard library only: it runs inside a Debian container with nothing but python3.

    dashboard_queries.py --prometheus URL [--user U --password-file F] --dashboards DIR
                         [--var name=value ...] [--range 10m] [--rate-interval 1m] [--interval 15s]
                         [--allow-empty DASHBOARD_UID:PANEL_ID ...] [--ca-file F | --insecure] [--json FILE]

What it does, as Grafana would:
- resolves the template variables in order: `datasource` variables (ignored: every query goes to --prometheus),
  `custom`/`constant`/`textbox`/`interval` variables from their definitions, `query` variables with
  `label_values(...)`, `label_names()`, `query_result(...)` or `metrics(...)` through the Prometheus API, each
  variable seeing the values of the ones before it. A multi-value or "All" selection becomes a regex like Grafana's
  (`allValue` when set, else `(a|b|c)` with each value regex-escaped). `--var name=value` overrides a variable
  (the value is used as written).
- substitutes `$var`, `${var}`, `${var:format}`, `[[var]]` and the built-ins `$__rate_interval`, `$__interval`,
  `$__interval_ms`, `$__range`, `$__range_s`, `$__range_ms`;
- runs each panel target's `expr` (hidden targets included: a hidden query that returns nothing is still a broken
  query) as an instant query (/api/v1/query) and counts the series it returns.

Exit status 0 when every target of every panel returned at least one series (or a scalar), 1 otherwise, listing
each failing panel; 2 for usage or connection problems. `--allow-empty UID:ID` names a panel allowed to be empty
(said so in the output: use it only for a panel whose source the test environment lacks, and say why there).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
# $name, ${name}, ${name:format}, [[name]], [[name:format]]; names may start with "__" (built-ins).
VARIABLE_RE = re.compile(r"\$(\w+)|\$\{(\w+)(?::([^}]*))?\}|\[\[(\w+)(?::([^\]]*))?\]\]")
LABEL_VALUES_RE = re.compile(r"^\s*label_values\s*\((.*)\)\s*$", re.S)
QUERY_RESULT_RE = re.compile(r"^\s*query_result\s*\((.*)\)\s*$", re.S)
METRICS_RE = re.compile(r"^\s*metrics\s*\((.*)\)\s*$", re.S)
LABEL_NAMES_RE = re.compile(r"^\s*label_names\s*\(\s*(.*?)\s*\)\s*$", re.S)
# Characters Grafana escapes in a regex-formatted variable value.
_REGEX_SPECIAL = re.compile(r"([\\^$.|?*+()\[\]{}])")


class HarnessError(Exception):
    """A usage, connection or Prometheus API problem (exit status 2)."""


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus/Grafana duration like 15s, 1m, 1.5h, 500ms."""
    match = DURATION_RE.match(text.strip())
    if not match:
        raise HarnessError(f"not a duration: {text!r} (use e.g. 15s, 1m, 10m, 1h)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def regex_escape(value: str) -> str:
    return _REGEX_SPECIAL.sub(r"\\\1", value)


def format_values(values: list[str], fmt: str | None, all_value: str | None = None) -> str:
    """One variable's values formatted for a Prometheus query, the way Grafana does it."""
    if all_value is not None:
        return all_value
    if fmt in (None, "", "regex"):
        escaped = [regex_escape(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "csv":
        return ",".join(values)
    if fmt == "raw":
        return ",".join(values)
    if fmt == "text":
        return " + ".join(values)
    if fmt == "doublequote":
        return ",".join(f'"{v}"' for v in values)
    if fmt == "singlequote":
        return ",".join(f"'{v}'" for v in values)
    if fmt == "json":
        return json.dumps(values)
    raise HarnessError(f"variable format {fmt!r} is not supported")


@dataclass
class Variable:
    """A resolved template variable: its values, or a forced text (override, All value, built-in)."""

    name: str
    values: list[str] = field(default_factory=list)
    forced: str | None = None

    def render(self, fmt: str | None) -> str:
        if self.forced is not None:
            return self.forced
        return format_values(self.values, fmt)


def substitute(text: str, variables: dict[str, Variable]) -> str:
    """Replace every known variable reference in text; unknown ones are left as they are (and reported later)."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) if match.group(2) else match.group(5)
        var = variables.get(name)
        return match.group(0) if var is None else var.render(fmt)

    return VARIABLE_RE.sub(repl, text)


def unresolved(text: str) -> list[str]:
    return sorted({m.group(1) or m.group(2) or m.group(4) for m in VARIABLE_RE.finditer(text)})


def builtins(range_s: float, rate_interval: str, interval: str) -> dict[str, Variable]:
    interval_s = parse_duration(interval)
    parse_duration(rate_interval)
    return {
        "__rate_interval": Variable("__rate_interval", forced=rate_interval),
        "__interval": Variable("__interval", forced=interval),
        "__interval_ms": Variable("__interval_ms", forced=str(int(interval_s * 1000))),
        "__range": Variable("__range", forced=f"{int(range_s)}s"),
        "__range_s": Variable("__range_s", forced=str(int(range_s))),
        "__range_ms": Variable("__range_ms", forced=str(int(range_s * 1000))),
    }


def split_label_values_args(args: str) -> tuple[str | None, str]:
    """label_values(metric{sel}, label) -> (selector, label); label_values(label) -> (None, label)."""
    depth, cut = 0, -1
    quote = None
    for i, ch in enumerate(args):
        if quote:
            if ch == quote and args[i - 1] != "\\":
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "," and depth == 0:
            cut = i
    if cut < 0:
        return None, args.strip()
    return args[:cut].strip(), args[cut + 1:].strip()


def iter_panels(dashboard: dict[str, Any]):
    """Every panel, including those inside (collapsed) rows; rows themselves excluded."""
    for panel in dashboard.get("panels") or []:
        if panel.get("type") == "row":
            yield from (p for p in panel.get("panels") or [] if p.get("type") != "row")
        else:
            yield panel


def panel_queries(panel: dict[str, Any]) -> list[tuple[str, str]]:
    """(refId, expr) of each Prometheus target of a panel."""
    out = []
    for target in panel.get("targets") or []:
        expr = target.get("expr")
        if isinstance(expr, str) and expr.strip():
            out.append((str(target.get("refId", "?")), expr))
    return out


def variable_query_text(var: dict[str, Any]) -> str:
    query = var.get("query")
    if isinstance(query, dict):
        query = query.get("query", "")
    return query or ""


class Prometheus:
    """The few Prometheus HTTP API calls needed, with optional basic auth and TLS settings."""

    def __init__(self, url: str, user: str | None = None, password: str | None = None,
                 ca_file: str | None = None, insecure: bool = False, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.headers = {"Accept": "application/json"}
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.context = None
        if self.url.startswith("https://"):
            self.context = ssl.create_default_context(cafile=ca_file)
            if insecure:
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE

    def get(self, path: str, params: list[tuple[str, str]]) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as resp:
                body = json.loads(resp.read().decode())
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read().decode())
            except (ValueError, OSError):
                raise HarnessError(f"{path}: HTTP {exc.code} {exc.reason}") from exc
            if exc.code in (401, 403):
                raise HarnessError(f"{path}: HTTP {exc.code}: check --user/--password-file") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise HarnessError(f"cannot query {self.url}{path}: {exc}") from exc
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType', 'error')}: {body.get('error', body)}")
        return body.get("data")

    def query(self, expr: str, at: float) -> dict[str, Any]:
        return self.get("/api/v1/query", [("query", expr), ("time", f"{at:.3f}")])

    def label_values(self, label: str, selector: str | None, start: float, end: float) -> list[str]:
        params = [("start", f"{start:.3f}"), ("end", f"{end:.3f}")]
        if selector:
            params.append(("match[]", selector))
        return sorted(self.get(f"/api/v1/label/{urllib.parse.quote(label)}/values", params) or [])

    def label_names(self, selector: str | None, start: float, end: float) -> list[str]:
        params = [("start", f"{start:.3f}"), ("end", f"{end:.3f}")]
        if selector:
            params.append(("match[]", selector))
        return sorted(self.get("/api/v1/labels", params) or [])


class QueryError(Exception):
    """Prometheus refused or failed one query (reported against its panel, not fatal)."""


def series_count(data: dict[str, Any]) -> int:
    kind = data.get("resultType")
    if kind in ("scalar", "string"):
        return 1
    return len(data.get("result") or [])


@dataclass
class Finding:
    dashboard: str
    uid: str
    panel_id: Any
    title: str
    ref: str
    expr: str
    series: int = 0
    error: str | None = None
    allowed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.series > 0


class Checker:
    """Resolves the variables of one dashboard and runs its panels' queries."""

    def __init__(self, prom: Prometheus, overrides: dict[str, str], range_s: float, rate_interval: str,
                 interval: str, allow_empty: set[str], now: float | None = None) -> None:
        self.prom = prom
        self.overrides = overrides
        self.range_s = range_s
        self.rate_interval = rate_interval
        self.interval = interval
        self.allow_empty = allow_empty
        self.now = now if now is not None else time.time()

    def resolve_variables(self, dashboard: dict[str, Any]) -> tuple[dict[str, Variable], list[str]]:
        variables = builtins(self.range_s, self.rate_interval, self.interval)
        problems: list[str] = []
        for var in (dashboard.get("templating") or {}).get("list") or []:
            name = var.get("name")
            if not name:
                continue
            if name in self.overrides:
                variables[name] = Variable(name, forced=self.overrides[name])
                continue
            kind = var.get("type")
            try:
                values = self._values(var, kind, variables)
            except QueryError as exc:
                problems.append(f"variable ${name}: its query failed: {exc}")
                values = []
            if kind == "datasource":
                variables[name] = Variable(name, forced=values[0] if values else "")
                continue
            if not values:
                problems.append(f"variable ${name}: no values (query {variable_query_text(var)!r})")
            all_value = var.get("allValue")
            if var.get("includeAll") and self._selects_all(var) and all_value:
                variables[name] = Variable(name, values=values, forced=all_value)
            elif var.get("multi") or (var.get("includeAll") and self._selects_all(var)):
                variables[name] = Variable(name, values=values)
            else:
                variables[name] = Variable(name, values=values[:1])
        return variables, problems

    @staticmethod
    def _selects_all(var: dict[str, Any]) -> bool:
        current = (var.get("current") or {}).get("value")
        if current is None:
            return True
        current = current if isinstance(current, list) else [current]
        return "$__all" in current or not current

    def _values(self, var: dict[str, Any], kind: str | None, variables: dict[str, Variable]) -> list[str]:
        start, end = self.now - self.range_s, self.now
        if kind == "datasource":
            current = (var.get("current") or {}).get("value")
            return [str(current)] if current else []
        if kind in ("custom", "interval"):
            raw = variable_query_text(var)
            return [v.strip() for v in re.split(r"(?<!\\),", raw) if v.strip()]
        if kind in ("constant", "textbox"):
            raw = variable_query_text(var)
            return [raw] if raw else []
        if kind != "query":
            raise QueryError(f"variable type {kind!r} is not supported")
        text = substitute(variable_query_text(var), variables)
        if match := LABEL_VALUES_RE.match(text):
            selector, label = split_label_values_args(match.group(1))
            values = self.prom.label_values(label, selector, start, end)
        elif match := LABEL_NAMES_RE.match(text):
            values = self.prom.label_names(match.group(1) or None, start, end)
        elif match := METRICS_RE.match(text):
            pattern = re.compile(match.group(1).strip())
            values = [v for v in self.prom.label_values("__name__", None, start, end) if pattern.search(v)]
        elif match := QUERY_RESULT_RE.match(text):
            data = self.prom.query(match.group(1), end)
            values = [json.dumps(r.get("metric", {}), sort_keys=True) for r in data.get("result") or []]
        else:
            raise QueryError(f"unsupported variable query {text!r}")
        regex = var.get("regex")
        if regex:
            pattern = re.compile(regex.strip("/"))
            picked = []
            for value in values:
                found = pattern.search(value)
                if found:
                    picked.append(found.group(1) if found.groups() else value)
            values = picked
        return values

    def check(self, dashboard: dict[str, Any], source: str) -> tuple[list[Finding], list[str]]:
        variables, problems = self.resolve_variables(dashboard)
        uid = str(dashboard.get("uid", ""))
        findings = []
        for panel in iter_panels(dashboard):
            queries = panel_queries(panel)
            key = f"{uid}:{panel.get('id')}"
            if not queries:
                if panel.get("type") in ("text", "news", "dashlist", "annolist"):
                    continue
                findings.append(Finding(source, uid, panel.get("id"), panel.get("title", ""), "-", "",
                                        error="the panel has no query", allowed=key in self.allow_empty))
                continue
            for ref, expr in queries:
                text = substitute(expr, variables)
                finding = Finding(source, uid, panel.get("id"), panel.get("title", ""), ref, text,
                                  allowed=key in self.allow_empty)
                left = unresolved(text)
                if left:
                    finding.error = "unresolved variable(s): " + ", ".join("$" + n for n in left)
                else:
                    try:
                        finding.series = series_count(self.prom.query(text, self.now))
                    except QueryError as exc:
                        finding.error = str(exc)
                findings.append(finding)
        return findings, problems


def load_dashboards(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise HarnessError(f"no *.json dashboards in {directory}")
    out = []
    for path in files:
        try:
            out.append((path.name, json.loads(path.read_text())))
        except ValueError as exc:
            raise HarnessError(f"{path}: not JSON: {exc}") from exc
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus", required=True, help="base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--user", help="basic auth user")
    parser.add_argument("--password-file", help="file holding the basic auth password (never on the command line)")
    parser.add_argument("--ca-file", help="CA bundle for an https Prometheus")
    parser.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    parser.add_argument("--dashboards", required=True, type=Path, help="directory of dashboard JSON files")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="override a variable")
    parser.add_argument("--range", default="10m", help="dashboard time range, for $__range and variable look-ups")
    parser.add_argument("--rate-interval", default="1m", help="value of $__rate_interval (4 x the scrape interval)")
    parser.add_argument("--interval", default="15s", help="value of $__interval")
    parser.add_argument("--allow-empty", action="append", default=[], metavar="UID:PANEL_ID",
                        help="a panel allowed to return no data (reported as such)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP request")
    parser.add_argument("--json", type=Path, help="write every finding to this file as JSON")
    args = parser.parse_args(argv)
    if args.password_file and not args.user:
        parser.error("--password-file needs --user")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        overrides = {}
        for item in args.var:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise HarnessError(f"--var wants NAME=VALUE, got {item!r}")
            overrides[name] = value
        password = None
        if args.password_file:
            password = Path(args.password_file).read_text().rstrip("\r\n")
        prom = Prometheus(args.prometheus, args.user, password, args.ca_file, args.insecure, args.timeout)
        checker = Checker(prom, overrides, parse_duration(args.range), args.rate_interval, args.interval,
                          set(args.allow_empty))
        findings: list[Finding] = []
        problems: list[str] = []
        for source, dashboard in load_dashboards(args.dashboards):
            found, issues = checker.check(dashboard, source)
            findings += found
            problems += [f"{source}: {p}" for p in issues]
    except (HarnessError, OSError) as exc:
        print(f"dashboard_queries: {exc}", file=sys.stderr)
        return 2

    failing_panels: dict[tuple[str, Any], list[Finding]] = {}
    allowed_panels: set[tuple[str, Any]] = set()
    for f in findings:
        if not f.ok:
            (allowed_panels.add((f.dashboard, f.panel_id)) if f.allowed
             else failing_panels.setdefault((f.dashboard, f.panel_id), []).append(f))
    for f in findings:
        state = "ok" if f.ok else ("allowed-empty" if f.allowed else ("ERROR" if f.error else "NO DATA"))
        print(f"{state:13} {f.dashboard} panel {f.panel_id} {f.title!r} {f.ref}: "
              f"{f.series} series{' - ' + f.error if f.error else ''}")
    for problem in problems:
        print(f"PROBLEM       {problem}")
    panels = {(f.dashboard, f.panel_id) for f in findings}
    print(f"dashboards: {len({f.dashboard for f in findings})}, panels: {len(panels)}, queries: {len(findings)}, "
          f"panels without data: {len(failing_panels)}, allowed empty: {len(allowed_panels)}, "
          f"variable problems: {len(problems)}")
    if args.json:
        args.json.write_text(json.dumps([f.__dict__ for f in findings], indent=2))
    if failing_panels or problems:
        print("FAILED: these panels would show 'No data' or an error:", file=sys.stderr)
        for (source, pid), bad in sorted(failing_panels.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
            print(f"  {source} panel {pid} {bad[0].title!r}: " + "; ".join(
                f"{b.ref} {b.error or 'no series'}: {b.expr}" for b in bad), file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
