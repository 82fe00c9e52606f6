#!/usr/bin/env bash
# `make up` / `make down`: the local platform on this one machine (containers as hosts, inventory "local").
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
inventory=inventories/local/hosts.yml

case "${1:-}" in
  up)
    "$top/tests/harness/docker-engine.sh"
    "$top/tests/k8s-sim/up.sh"
    ansible-playbook -i "$inventory" tests/harness/local_hosts.yml
    ansible-playbook -i "$inventory" playbooks/site.yml
    echo
    echo "=== the local platform"
    docker ps --filter label=owner=mss-local --format 'table {{.Names}}\t{{.Status}}\t{{.Image}}'
    ansible-playbook -i "$inventory" playbooks/status.yml | grep -E '"msg"|msg:' | sed 's/^ *//' || true
    echo
    mon_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' mss-mon-1 2>/dev/null || true)
    if [ -n "$mon_ip" ]; then
      echo "Prometheus:     http://$mon_ip:9090/  (user prometheus, password: prometheus_web_password in inventories/local/group_vars/monitoring.yml)"
      echo "Alertmanager:   http://$mon_ip:9093/"
    fi
    echo "Kubernetes:     kubectl --kubeconfig .cache/k8s-sim/kubeconfig -n mss get deploy,svc,hpa,pdb,networkpolicy"
    echo "Reach a host:   docker exec -it <name> bash"
    echo "Re-run a play:  .venv/bin/ansible-playbook -i $inventory playbooks/<capability>.yml"
    echo "Remove it all:  make down"
    ;;
  down)
    ids=$(docker ps -aq --filter label=owner=mss-local 2>/dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      docker rm -f -v $ids >/dev/null
    fi
    docker network rm mss-local >/dev/null 2>&1 || true
    "$top/tests/k8s-sim/down.sh" || true
    echo "local platform removed"
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
