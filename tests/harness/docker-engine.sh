#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install docker.io from Debian if it is missing,
# start dockerd if it is not running, and wait until `docker info` answers. Idempotent.
set -euo pipefail

log=${DOCKERD_LOG:-/var/log/dockerd.log}

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-engine: installing docker.io from the Debian mirror"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi
if ! command -v docker >/dev/null 2>&1; then
  echo "docker-engine: no docker client on PATH" >&2
  exit 1
fi

echo "docker-engine: starting dockerd (log: $log)"
# setsid: the engine outlives the shell (or job group) that happened to start it.
setsid nohup dockerd >"$log" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker-engine: ready ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
echo "docker-engine: dockerd did not answer within 60 s; last log lines:" >&2
tail -n 20 "$log" >&2
exit 1
