#!/usr/bin/env bash
# Build the mss.platform collection as Galaxy would get it and check what ships (part of `make lint`):
# - `ansible-galaxy collection build` into a temporary directory succeeds;
# - the tarball holds no test output, caches, venvs or built artifacts (tests/output, .hypothesis, .pytest_cache,
#   __pycache__, *.pyc, .ruff_cache, .mypy_cache, .tox, .cache, venvs, *.tar.gz, antsibull's plugin cache);
# - it holds LICENSE (the GPL-3.0 text galaxy.yml names), README.md, CHANGELOG.rst and meta/runtime.yml;
# - galaxy.yml has no placeholder URL, its dependencies are exactly the collections the roles and plugins use
#   (by FQCN), at the versions of requirements.yml and collections/requirements.yml;
# - the collection README has a row for every role, module and other plugin.
# Usage: check-collection-build.sh [COLLECTION_DIR]   (exits non-zero naming every problem found)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
collection=${1:-$top/collections/ansible_collections/mss/platform}
venv=${VENV:-$top/.venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$venv/bin/ansible-galaxy" collection build --force --output-path "$work" "$collection" >"$work/build.log" 2>&1 || {
  cat "$work/build.log" >&2
  echo "collection build: ansible-galaxy collection build failed" >&2
  exit 1
}
tarball=$(ls "$work"/*.tar.gz)
# CHANGELOG.rst must be what antsibull-changelog generates from changelogs/changelog.yaml
# (its plugin cache is removed again unless it was there before: it is no project file)
cache="$collection/changelogs/.plugin-cache.yaml"
[ -e "$cache" ] && keep_cache=1 || keep_cache=0
(cd "$collection" && "$venv/bin/antsibull-changelog" generate --output "$work/CHANGELOG.rst") >"$work/changelog.log" 2>&1 || {
  cat "$work/changelog.log" >&2
  echo "collection build: antsibull-changelog generate failed" >&2
  exit 1
}
[ "$keep_cache" = 1 ] || rm -f "$cache"
tar -tzf "$tarball" | sed 's|^\./||' >"$work/files.txt"

"$venv/bin/python" - "$collection" "$top" "$work/files.txt" "$tarball" <<'PY'
import os
import re
import sys

import yaml

collection, top, listing, tarball = sys.argv[1:5]
files = [line.rstrip("\n").rstrip("/") for line in open(listing) if line.strip()]
problems = []

# 1. nothing that is not part of the collection
forbidden = re.compile(
    r"(^|/)(\.hypothesis|\.pytest_cache|__pycache__|\.ruff_cache|\.mypy_cache|\.tox|\.cache|\.venv[^/]*|venv"
    r"|htmlcov|[^/]+\.egg-info)(/|$)"
    r"|^tests/output(/|$)|\.pyc$|\.tar\.gz$|(^|/)\.coverage$|^changelogs/\.plugin-cache\.yaml$|(^|/)\.DS_Store$"
    r"|\.swp$|~$")
for name in files:
    if forbidden.search(name):
        problems.append("ships %s (add it to build_ignore in galaxy.yml)" % name)

# 2. what Galaxy needs
for required in ("MANIFEST.json", "FILES.json", "LICENSE", "README.md", "CHANGELOG.rst", "meta/runtime.yml"):
    if required not in files:
        problems.append("does not ship %s" % required)

galaxy = yaml.safe_load(open(os.path.join(collection, "galaxy.yml")))
license_text = open(os.path.join(collection, "LICENSE")).read() if os.path.exists(os.path.join(collection, "LICENSE")) else ""
if galaxy.get("license") == ["GPL-3.0-or-later"]:
    if "GNU GENERAL PUBLIC LICENSE" not in license_text or "Version 3, 29 June 2007" not in license_text:
        problems.append("LICENSE is not the GPL-3.0 text that galaxy.yml's license GPL-3.0-or-later names")
else:
    problems.append("galaxy.yml license %r: this check knows GPL-3.0-or-later only" % galaxy.get("license"))

# 3. galaxy.yml: no placeholder, dependencies = what is used, versions = requirements.yml
for key in ("repository", "documentation", "homepage", "issues"):
    value = str(galaxy.get(key) or "")
    if ".invalid" in value or "example." in value:
        problems.append("galaxy.yml %s is a placeholder (%s): give the real URL or leave the field out" % (key, value))

# collections named by FQCN in YAML and templates (ansible.builtin is ansible-core), imported in Python
fqcn_yaml = re.compile(r"\b((?:community|kubernetes|ansible)\.[a-z_0-9]+)\.[a-z_0-9]+")
fqcn_py = re.compile(r"\bansible_collections\.([a-z_0-9]+\.[a-z_0-9]+)\.")
used = set()
for sub in ("roles", "plugins"):
    for root, _dirs, names in os.walk(os.path.join(collection, sub)):
        for name in names:
            pattern = fqcn_py if name.endswith(".py") else fqcn_yaml if name.endswith((".yml", ".yaml", ".j2")) else None
            if pattern is not None:
                text = open(os.path.join(root, name), errors="replace").read()
                used.update(m.group(1) for m in pattern.finditer(text))
used -= {"ansible.builtin", "mss.platform"}
declared = set(galaxy.get("dependencies") or {})
for name in sorted(used - declared):
    problems.append("roles/plugins use %s but galaxy.yml does not depend on it" % name)
for name in sorted(declared - used):
    problems.append("galaxy.yml depends on %s, which no role or plugin uses" % name)
for req_file in ("requirements.yml", "collections/requirements.yml"):
    path = os.path.join(top, req_file)
    reqs = {c["name"]: str(c.get("version", "*")) for c in (yaml.safe_load(open(path)) or {}).get("collections", [])}
    for name, version in sorted((galaxy.get("dependencies") or {}).items()):
        if name not in reqs:
            problems.append("%s lacks %s, a dependency of galaxy.yml" % (req_file, name))
        elif reqs[name].replace(" ", "") != str(version).replace(" ", ""):
            problems.append("%s wants %s %s, galaxy.yml %s" % (req_file, name, reqs[name], version))

# 4. CHANGELOG.rst is generated, not edited; fragments not released yet go into the next release
if os.path.exists(os.path.join(collection, "CHANGELOG.rst")) and \
        open(os.path.join(collection, "CHANGELOG.rst")).read() != open(os.path.join(os.path.dirname(listing), "CHANGELOG.rst")).read():
    problems.append("CHANGELOG.rst is not what changelogs/changelog.yaml generates (run antsibull-changelog generate)")
changes = yaml.safe_load(open(os.path.join(collection, "changelogs", "changelog.yaml"))) or {}
released = {f for rel in (changes.get("releases") or {}).values() for f in rel.get("fragments") or []}
pending = sorted(f for f in os.listdir(os.path.join(collection, "changelogs", "fragments"))
                 if f.endswith((".yml", ".yaml")) and f not in released)
if pending:
    print("collection build: fragments for the next release (antsibull-changelog release): %s" % ", ".join(pending))

# 5. the README lists every role, module and plugin
readme = open(os.path.join(collection, "README.md")).read()
listed = set(re.findall(r"^\| `mss\.platform\.([a-z_0-9]+)` \|", readme, re.M))
content = set(os.listdir(os.path.join(collection, "roles")))
for kind in os.listdir(os.path.join(collection, "plugins")):
    if kind in ("module_utils", "doc_fragments", "__pycache__"):
        continue
    for name in os.listdir(os.path.join(collection, "plugins", kind)):
        if name.endswith(".py") and name != "__init__.py":
            content.add(name[:-3])
for name in sorted(content - listed):
    problems.append("README.md has no row for %s" % name)

if problems:
    print("collection build: %d problem(s) in %s:" % (len(problems), os.path.basename(tarball)))
    for problem in problems:
        print("  - " + problem)
    sys.exit(1)
print("collection build: %s, %d entries, nothing that is not the collection; galaxy.yml, LICENSE and README "
      "consistent" % (os.path.basename(tarball), len(files)))
PY
