#!/usr/bin/env bash
# Build the two reference app images (apps/frontend, apps/api) and save them for Kubernetes nodes.
#   mss/frontend:<version>  mss/api:<version>   (version = apps/<app>/package.json "version")
#   ${K8S_SIM_STORE:-~/.cache/mss-k8s-sim}/apps/{frontend,api}.tar   (`ctr -n k8s.io images import` on a node)
# Cached: the image carries a recipe hash of its sources (every file under apps/<app> but node_modules and .next,
# this script and the base image's ID) as the label mss.recipe; an unchanged app is neither rebuilt nor re-saved.
# Dependencies come from the npm registry at the versions of the committed package-lock.json (`npm ci`). The
# engine's build is the legacy builder (no buildx plugin for this Docker client, so no cache mounts): the npm
# download is cached as the `npm ci` layer, keyed on package.json + package-lock.json and shared by every build on
# this machine's Docker engine; a source-only change reuses it.
#   build-app-images.sh [frontend] [api]     (default: both)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
"$here/build-images.sh" >/dev/null

base=${MSS_BASE_IMAGE:-mss/debian:bookworm}
store=${K8S_SIM_STORE:-$HOME/.cache/mss-k8s-sim}/apps
mkdir -p "$store"
apps=("$@")
[ ${#apps[@]} -gt 0 ] || apps=(frontend api)

# The CA bundle npm trusts on this machine (npm's cafile, else the system bundle): the build context gets a copy so
# `npm ci` in the build stage verifies the registry the same way.
cafile=$(npm config get cafile 2>/dev/null || true)
case "$cafile" in ''|null|undefined) cafile=/etc/ssl/certs/ca-certificates.crt ;; esac
[ -r "$cafile" ] || { echo "build-app-images: no CA bundle at $cafile" >&2; exit 1; }
ctx_root=$(mktemp -d /tmp/mss-app-ctx.XXXXXX)
trap 'rm -rf "$ctx_root"' EXIT

label_of() { docker image inspect --format '{{ index .Config.Labels "mss.recipe" }}' "$1" 2>/dev/null || true; }

recipe_hash() {
  local dir=$1
  {
    (cd "$dir" && find . -type f -not -path './node_modules/*' -not -path './.next/*' -print0 | LC_ALL=C sort -z \
       | xargs -0 sha256sum)
    sha256sum "$here/build-app-images.sh" | cut -d' ' -f1
    docker image inspect --format '{{ .Id }}' "$base"
  } | sha256sum | cut -c1-16
}

for app in "${apps[@]}"; do
  dir="$repo/apps/$app"
  [ -f "$dir/Dockerfile" ] || { echo "build-app-images: no apps/$app/Dockerfile" >&2; exit 1; }
  version=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$dir/package.json")
  tag="mss/$app:$version"
  hash=$(recipe_hash "$dir")
  if [ "$(label_of "$tag")" = "$hash" ]; then
    echo "build-app-images: $tag is current"
  else
    start=$SECONDS
    echo "build-app-images: building $tag (recipe $hash)"
    log=$(mktemp /tmp/mss-build-$app.XXXXXX.log)
    ctx="$ctx_root/$app"
    mkdir -p "$ctx"
    tar -C "$dir" --exclude=./node_modules --exclude=./.next -c . | tar -C "$ctx" -x
    cp "$cafile" "$ctx/build-ca.pem"
    if ! docker build --build-arg "BASE=$base" --build-arg "VERSION=$version" --label "mss.recipe=$hash" \
         --label "org.opencontainers.image.version=$version" -t "$tag" "$ctx" >"$log" 2>&1; then
      tail -n 40 "$log" >&2
      exit 1
    fi
    rm -f "$log"
    echo "build-app-images: built $tag in $((SECONDS - start)) s"
  fi
  tar="$store/$app.tar"
  if [ -s "$tar" ] && [ "$(cat "$tar.recipe" 2>/dev/null)" = "$hash" ]; then
    echo "build-app-images: $tar is current"
  else
    docker save "$tag" -o "$tar.tmp"
    mv "$tar.tmp" "$tar"
    echo "$hash" >"$tar.recipe"
    echo "build-app-images: saved $tag to $tar ($(du -h "$tar" | cut -f1))"
  fi
done
