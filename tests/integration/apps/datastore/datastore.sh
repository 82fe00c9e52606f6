#!/bin/bash
# datastore run | stop-postgresql | start-postgresql | stop-redis | start-redis
# Passwords come from the environment (PG_PASSWORD, REDIS_PASSWORD: an --env-file written by the test).
set -euo pipefail
PORTS=(7000 7001 7002)
ip=$(python3 -c 'import socket; print(socket.gethostbyname(socket.gethostname()))')

start_redis() {
  for p in "${PORTS[@]}"; do
    REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$p" ping >/dev/null 2>&1 && continue
    redis-server "/etc/redis/cluster-$p.conf"
  done
  for p in "${PORTS[@]}"; do
    for _ in $(seq 1 50); do REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
}

stop_redis() {
  for p in "${PORTS[@]}"; do REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  for p in "${PORTS[@]}"; do
    for _ in $(seq 1 50); do REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$p" ping >/dev/null 2>&1 || break; sleep 0.1; done
  done
}

case "${1:-run}" in
  run)
    : "${PG_PASSWORD:?}" "${REDIS_PASSWORD:?}"
    conf=/etc/postgresql/15/main
    echo "listen_addresses = '*'" >>"$conf/postgresql.conf"
    echo "host all all 0.0.0.0/0 scram-sha-256" >>"$conf/pg_hba.conf"
    pg_ctlcluster 15 main start
    su postgres -c "psql -q -v ON_ERROR_STOP=1" <<SQL
CREATE ROLE mss LOGIN PASSWORD '${PG_PASSWORD}';
CREATE DATABASE mss OWNER mss;
SQL
    for p in "${PORTS[@]}"; do
      mkdir -p "/var/lib/redis/$p" && chown redis:redis "/var/lib/redis/$p"
      install -m 0640 -o redis -g redis /dev/null "/etc/redis/cluster-$p.conf"
      cat >"/etc/redis/cluster-$p.conf" <<CONF
port $p
bind 0.0.0.0
protected-mode no
daemonize yes
dir /var/lib/redis/$p
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout 2000
cluster-announce-ip $ip
save ""
appendonly no
requirepass $REDIS_PASSWORD
masterauth $REDIS_PASSWORD
logfile /var/log/redis/cluster-$p.log
CONF
    done
    start_redis
    # One standalone server too (REDIS_URL mode of the API).
    cat >/etc/redis/standalone.conf <<CONF
port 6379
bind 0.0.0.0
protected-mode no
daemonize yes
dir /var/lib/redis
save ""
requirepass $REDIS_PASSWORD
logfile /var/log/redis/standalone.log
CONF
    redis-server /etc/redis/standalone.conf
    REDISCLI_AUTH=$REDIS_PASSWORD redis-cli --cluster create "$ip:7000" "$ip:7001" "$ip:7002" --cluster-yes >/var/log/redis/create.log
    for _ in $(seq 1 100); do
      REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p 7000 cluster info | grep -q cluster_state:ok && break; sleep 0.1
    done
    mkdir -p /tmp/otlp
    python3 /usr/local/bin/otlp_sink.py /tmp/otlp &
    touch /tmp/ready
    trap 'exit 0' TERM INT
    while true; do sleep 1; done
    ;;
  stop-postgresql) pg_ctlcluster 15 main stop -m fast ;;
  start-postgresql) pg_ctlcluster 15 main start ;;
  stop-redis) stop_redis ;;
  start-redis)
    start_redis
    for _ in $(seq 1 100); do
      REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p 7000 cluster info | grep -q cluster_state:ok && exit 0; sleep 0.1
    done
    echo "redis cluster not ok after restart" >&2; exit 1 ;;
  *) echo "usage: datastore run|stop-postgresql|start-postgresql|stop-redis|start-redis" >&2; exit 2 ;;
esac
