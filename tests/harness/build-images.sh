#!/usr/bin/env bash
# Build the offline test images, once, cached by tag and recipe hash. No image is ever pulled.
#   mss/debian:bookworm   debootstrap minbase + python3 + ca-certificates, `docker import`ed
#   mss/systemd:bookworm  FROM the base: systemd as PID 1, python3, sudo, iproute2 (Molecule hosts)
#   mss/k8s-node:bookworm FROM systemd: a bare host whose entrypoint prepares cgroups, rshared / and sysctls
#                         for a real kubelet (images/k8s-node; the k8s_cluster role installs Kubernetes on it)
# A recipe change (this script or the Dockerfile) changes the hash label and triggers a rebuild.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
"$here/docker-engine.sh"

base_tag=${MSS_BASE_IMAGE:-mss/debian:bookworm}
systemd_tag=${MSS_SYSTEMD_IMAGE:-mss/systemd:bookworm}

recipe_hash() { cat "$@" | sha256sum | cut -c1-16; }
label_of() { docker image inspect --format '{{ index .Config.Labels "mss.recipe" }}' "$1" 2>/dev/null || true; }

# The Debian mirror this machine is configured with (never hard-coded in the repository).
mirror() {
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)
  fi
  [ -n "$m" ] || { echo "build-images: no Debian mirror found in apt sources" >&2; exit 1; }
  echo "$m"
}

base_hash=$(recipe_hash "$here/build-images.sh")
if [ "$(label_of "$base_tag")" != "$base_hash" ]; then
  command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  root=$(mktemp -d /tmp/mss-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  echo "build-images: debootstrap bookworm into $root"
  debootstrap --variant=minbase --include=python3,ca-certificates bookworm "$root" "$(mirror)" >/tmp/mss-debootstrap.log 2>&1 \
    || { tail -n 30 /tmp/mss-debootstrap.log >&2; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import --change "LABEL mss.recipe=$base_hash" --change 'CMD ["/bin/bash"]' - "$base_tag" >/dev/null
  rm -rf "$root"
  trap - EXIT
  echo "build-images: built $base_tag"
else
  echo "build-images: $base_tag is current"
fi

systemd_hash=$(recipe_hash "$here/build-images.sh" "$here/images/systemd/Dockerfile")
if [ "$(label_of "$systemd_tag")" != "$systemd_hash" ]; then
  docker build -q --build-arg "BASE=$base_tag" --label "mss.recipe=$systemd_hash" -t "$systemd_tag" "$here/images/systemd" >/dev/null
  echo "build-images: built $systemd_tag"
else
  echo "build-images: $systemd_tag is current"
fi

k8s_node_tag=${MSS_K8S_NODE_IMAGE:-mss/k8s-node:bookworm}
k8s_node_hash=$(recipe_hash "$here/build-images.sh" "$here"/images/k8s-node/*)
if [ "$(label_of "$k8s_node_tag")" != "$k8s_node_hash" ]; then
  docker build -q --build-arg "BASE=$systemd_tag" --label "mss.recipe=$k8s_node_hash" -t "$k8s_node_tag" "$here/images/k8s-node" >/dev/null
  echo "build-images: built $k8s_node_tag"
else
  echo "build-images: $k8s_node_tag is current"
fi
