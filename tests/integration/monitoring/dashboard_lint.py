"""Our lint rules for the Grafana dashboards (roles/grafana/files/dashboards/*.json), and PromQL metric-name extraction.

lint(dashboard, raw) returns one message per violation (empty list = clean):
- no `__inputs` and no `${DS_...}` placeholder anywhere; no numeric top-level `id` (absent or null);
- a stable `uid` (1-40 of [A-Za-z0-9_-]) and a title;
- one template variable `datasource` of type `datasource`, query `prometheus`, current value the fixed UID;
- every datasource reference (panels, targets, variables, annotations other than Grafana's built-in one) goes
  through that variable: {"type": "prometheus", "uid": "${datasource}"};
- query variables have a query; every panel other than a row/text has a unit, a gridPos and at least one target
  with an `expr`; panel ids are unique integers (rows and the panels inside them included);
- every range selector of rate/irate/increase is `[$__rate_interval]`.
"""

from __future__ import annotations

import re
from typing import Any

DATASOURCE_UID = "mss-prometheus"
VARIABLE_REFS = {"${datasource}", "$datasource"}
UID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
RATE_FUNCS_RE = re.compile(r"\b(rate|irate|increase)\s*\(")
RANGE_RE = re.compile(r"\[([^\]]*)\]")
PANELS_WITHOUT_QUERIES = {"row", "text", "news", "dashlist", "annolist"}

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
             "inf", "nan", "atan2"}
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS_RE = re.compile(r"\{[^{}]*\}")
_GROUPING_RE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT_RE = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")


def iter_panels(dashboard: dict[str, Any]):
    """Every panel, rows and the panels collapsed inside them included."""
    for panel in dashboard.get("panels") or []:
        yield panel
        yield from panel.get("panels") or []


def _datasource_refs(node: Any, path: str = ""):
    """(path, value) of every "datasource" key in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}/{key}"
            if key == "datasource":
                yield where, value
            yield from _datasource_refs(value, where)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _datasource_refs(value, f"{path}[{i}]")


def _ref_ok(value: Any) -> bool:
    if isinstance(value, str):
        return value in VARIABLE_REFS
    if isinstance(value, dict):
        if value.get("type") == "grafana" or value.get("uid") == "-- Grafana --":
            return True  # Grafana's built-in annotation source
        return value.get("uid") in VARIABLE_REFS
    return False


def call_arguments(expr: str, start: int) -> str:
    """The text between the parenthesis opening at expr[start - 1] and its match."""
    depth, i = 1, start
    while i < len(expr) and depth:
        if expr[i] == "(":
            depth += 1
        elif expr[i] == ")":
            depth -= 1
        i += 1
    return expr[start:i - 1]


def rate_interval_violations(expr: str) -> list[str]:
    """Range selectors inside rate/irate/increase that are not [$__rate_interval]."""
    bad = []
    for match in RATE_FUNCS_RE.finditer(expr):
        args = call_arguments(expr, match.end())
        for rng in RANGE_RE.findall(args):
            if rng.strip() != "$__rate_interval":
                bad.append(f"{match.group(1)}(...[{rng}])")
        if not RANGE_RE.search(args):
            bad.append(f"{match.group(1)}(...) without a range selector")
    return bad


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (labels, grouping clauses, functions and keywords removed)."""
    text = _STRING_RE.sub('""', expr)
    text = _MATCHERS_RE.sub(" ", text)
    text = _GROUPING_RE.sub(" ", text)
    text = RANGE_RE.sub(" ", text)
    return {m for m in _IDENT_RE.findall(text) if m.lower() not in _KEYWORDS}


def lint(dashboard: dict[str, Any], raw: str, datasource_uid: str = DATASOURCE_UID) -> list[str]:
    errors: list[str] = []
    if "__inputs" in dashboard:
        errors.append("has __inputs (an exported dashboard: reference the datasource variable instead)")
    if "${DS_" in raw:
        errors.append("has a ${DS_...} placeholder")
    if dashboard.get("id") is not None:
        errors.append(f"has a numeric id {dashboard.get('id')!r} (must be absent or null)")
    if not UID_RE.match(str(dashboard.get("uid") or "")):
        errors.append(f"uid {dashboard.get('uid')!r} is not 1-40 of [A-Za-z0-9_-]")
    if not dashboard.get("title"):
        errors.append("has no title")

    variables = (dashboard.get("templating") or {}).get("list") or []
    ds_vars = [v for v in variables if v.get("name") == "datasource" and v.get("type") == "datasource"]
    if len(ds_vars) != 1:
        errors.append("needs exactly one template variable 'datasource' of type datasource")
    else:
        var = ds_vars[0]
        if var.get("query") != "prometheus":
            errors.append(f"the datasource variable's query is {var.get('query')!r}, not 'prometheus'")
        current = (var.get("current") or {}).get("value")
        if current != datasource_uid:
            errors.append(f"the datasource variable's current value is {current!r}, not {datasource_uid!r}")
    for var in variables:
        if var.get("type") == "query":
            query = var.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            if not query:
                errors.append(f"query variable ${var.get('name')} has no query")

    for where, value in _datasource_refs(dashboard):
        if not _ref_ok(value):
            errors.append(f"hard-coded datasource at {where}: {value!r} (use {{\"uid\": \"${{datasource}}\"}})")

    seen: dict[Any, str] = {}
    for panel in iter_panels(dashboard):
        pid, title, kind = panel.get("id"), panel.get("title", ""), panel.get("type")
        label = f"panel {pid} {title!r}"
        if not isinstance(pid, int) or isinstance(pid, bool):
            errors.append(f"{label}: id is not an integer")
        elif pid in seen:
            errors.append(f"{label}: id {pid} already used by {seen[pid]!r}")
        else:
            seen[pid] = title
        if "gridPos" not in panel:
            errors.append(f"{label}: no gridPos")
        if kind in PANELS_WITHOUT_QUERIES:
            continue
        if panel.get("datasource") is None:
            errors.append(f"{label}: no datasource (Grafana would use its default one)")
        unit = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("unit")
        if not unit:
            errors.append(f"{label}: no unit (fieldConfig.defaults.unit)")
        exprs = [t["expr"] for t in panel.get("targets") or []
                 if isinstance(t.get("expr"), str) and t["expr"].strip()]
        if not exprs:
            errors.append(f"{label}: no target with an expr")
        for expr in exprs:
            for bad in rate_interval_violations(expr):
                errors.append(f"{label}: {bad}: use [$__rate_interval]")
    return errors
