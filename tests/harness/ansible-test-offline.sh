#!/usr/bin/env bash
# Run ansible-test (sanity or units) in venv mode without ansible-test's download of get-pip.py.
# Usage: ansible-test-offline.sh sanity|units [extra ansible-test args]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
venv=${VENV:-$top/.venv}
py=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
pip_version=$("$venv/bin/python" - <<'PY'
import re, pathlib, ansible_test
src = (pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
cache=~/.ansible/test/cache
mkdir -p "$cache"
cp "$here/get_pip_offline.py" "$cache/get_pip_${pip_version//./_}.py"

# ansible-test only sees collections in the same tree as ours: link our dependencies (galaxy.yml) in from the
# venv's ansible bundle, the same versions the playbooks use. The links are gitignored.
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ansible_collections
for dep in $("$venv/bin/python" -c '
import yaml, sys
print(" ".join(yaml.safe_load(open(sys.argv[1])).get("dependencies") or {}))
' "$top/collections/ansible_collections/mss/platform/galaxy.yml"); do
  ns=${dep%%.*}; name=${dep#*.}
  link="$top/collections/ansible_collections/$ns/$name"
  if [ ! -e "$link" ]; then
    mkdir -p "$(dirname "$link")"
    ln -sfn "$site/$ns/$name" "$link"
  fi
done

cd "$top/collections/ansible_collections/mss/platform"
export PATH="$venv/bin:$PATH"
command=$1; shift
case "$command" in
  sanity) exec ansible-test sanity --venv --python "$py" --color no "$@" ;;
  units)  exec ansible-test units --local --python "$py" --color no "$@" ;;
  *) echo "usage: $0 sanity|units [args]" >&2; exit 2 ;;
esac
