#!/usr/bin/env bash
# `make up` / `make down`: the local platform on this one machine (containers as hosts, inventory "local").
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
inventory=inventories/local/hosts.yml

case "${1:-}" in
  up)
    "$top/tests/harness/docker-engine.sh"
    # Cached machine-wide: helm and the Istio charts, the Kubernetes node bundle and image, the app images.
    "$top/tests/k8s-sim/build.sh"
    "$top/tests/k8s-node/build.sh"
    "$top/tests/harness/build-app-images.sh"
    ansible-playbook -i "$inventory" tests/harness/local_hosts.yml
    # The Kubernetes cluster first (site.yml converges it again, a no-op): the app's images are imported into the
    # workers' containerd and the operator kubeconfig of group_vars/k8s_control.yml is issued before the app runs.
    ansible-playbook -i "$inventory" playbooks/k8s/cluster.yml
    ansible-playbook -i "$inventory" tests/harness/local_app_images.yml
    ansible-playbook -i "$inventory" playbooks/k8s/operator_kubeconfig.yml -e k8s_cluster_operator_user=mss-local-admin \
      -e k8s_cluster_operator_cluster_role=cluster-admin -e "k8s_cluster_operator_output_dir=$top/.cache/local"
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
    echo "Kubernetes:     kubectl --kubeconfig .cache/local/mss-local-admin.kubeconfig get nodes; ... -n mss get deploy,pods,svc,networkpolicy"
    echo "                (kubectl: .cache/k8s-sim/bin/kubectl; the frontend: ... -n mss port-forward svc/mss-frontend 8080:80)"
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
    rm -rf "$top/.cache/local"
    echo "local platform removed"
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
