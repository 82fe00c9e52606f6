#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, C408, EXE001, E402
# (ansible-test sanity wants the Python 2 era module header, %-formatting and dict() argument specs)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: redis_cluster
short_description: Converge a Redis Cluster to a declared topology
version_added: 0.1.0
description:
  - Connects to every declared node with redis-py, reads each node's C(CLUSTER NODES) and C(CLUSTER INFO), plans
    the actions that bring the live cluster to the declared topology, and applies them in order.
  - When no node belongs to a cluster yet, creates it; the masters get the 16384 hash slots in even contiguous
    ranges and distinct config epochs, then meet, then the replicas are attached.
  - On an existing cluster it adds new nodes (C(CLUSTER MEET)), gives a declared master back its role after a
    failover (C(CLUSTER FAILOVER) on it), moves slots key by key with C(MIGRATE) (to fill new masters, to drain
    masters that leave or become replicas, and to rebalance when a master is off its even share by more than
    O(rebalance_threshold) percent), attaches replicas (C(CLUSTER REPLICATE)) and removes undeclared nodes after
    their slots have left (C(CLUSTER RESET HARD) on the leaver, C(CLUSTER FORGET) on every declared node).
  - Slots left migrating/importing by an interrupted move are finished onto their target first. When a node
    answers with an error mid-way (for example a failover during a migration), the module observes the cluster
    again and applies a new plan, at most 3 times.
  - A converged cluster gives C(changed=false). In check mode the planned actions are returned and nothing is
    done.
  - Refuses, before touching anything, fewer than 3 masters, a replica in its master's failure domain when
    O(anti_affinity) is on, unreachable declared nodes, nodes without C(cluster-enabled yes), a new node that
    already holds keys, and a cluster whose slots are not all served.
author:
  - MSS Platform engineering (@mss-platform)
requirements:
  - redis (redis-py) >= 4.1 on the host that runs the module
options:
  nodes:
    description: The declared nodes. Order matters for slot ranges at creation time (first master, first range).
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description: Host name or address the module connects to; resolved to an IP for C(CLUSTER MEET).
        type: str
        required: true
      port:
        description: Client port of the instance.
        type: int
        default: 6379
      role:
        description: Declared role.
        type: str
        choices: [master, replica]
        default: master
      replica_of:
        description:
          - C(host:port) of the declared master this replica follows. Omit it for automatic placement, which
            spreads replicas evenly over the masters and, with O(anti_affinity), never in the master's
            failure domain. A replica already following an acceptable master keeps it.
        type: str
      failure_domain:
        description: Failure domain used by O(anti_affinity), usually the physical host. Defaults to O(nodes[].host).
        type: str
  anti_affinity:
    description: Refuse (or avoid, for automatic placement) a replica in the same failure domain as its master.
    type: bool
    default: true
  remove_undeclared:
    description: Remove nodes that are in the cluster but not declared, after migrating their slots away.
    type: bool
    default: true
  rebalance:
    description:
      - Move slots so that every declared master holds an even share (new masters are filled this way).
      - When false, slots move only to drain masters that leave or are declared replicas.
    type: bool
    default: true
  rebalance_threshold:
    description: A master is rebalanced only when its slot count is off its even share by more than this percentage.
    type: float
    default: 2.0
  username:
    description: ACL user to authenticate as. Omit it to use the C(default) user with O(password).
    type: str
  password:
    description: Password of O(username) (or C(requirepass)). Also used for C(MIGRATE ... AUTH2).
    type: str
  tls:
    description: Connect with TLS (the servers run with C(tls-port) and C(tls-cluster yes)).
    type: bool
    default: false
  tls_ca_cert:
    description: CA bundle that signs the servers' certificates.
    type: path
  tls_cert:
    description: Client certificate, when the servers require one (C(tls-auth-clients yes)).
    type: path
  tls_key:
    description: Key of O(tls_cert).
    type: path
  connect_timeout:
    description: Seconds to wait for a connection or an answer from a node.
    type: float
    default: 5.0
  wait_timeout:
    description: Seconds to wait for gossip to converge (nodes joining, a failover, C(cluster_state:ok)).
    type: int
    default: 60
  migrate_timeout:
    description: Milliseconds given to each C(MIGRATE) batch.
    type: int
    default: 5000
  migrate_batch:
    description: Keys moved per C(MIGRATE) call.
    type: int
    default: 100
notes:
  - Run it once per cluster (C(run_once), or delegated to one host) from a host that reaches every node.
  - Redis 7.0 is what Debian bookworm ships; C(CLUSTER ADDSLOTSRANGE) needs Redis 7.0 or later.
seealso:
  - name: Redis Cluster specification
    description: Slots, gossip, failover and the commands this module uses.
    link: https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/
'''

EXAMPLES = r'''
- name: Three hosts, two instances each; replicas placed automatically on another host
  mss.platform.redis_cluster:
    nodes:
      - {host: redis-1, port: 7000}
      - {host: redis-2, port: 7000}
      - {host: redis-3, port: 7000}
      - {host: redis-1, port: 7001, role: replica}
      - {host: redis-2, port: 7001, role: replica}
      - {host: redis-3, port: 7001, role: replica}
    username: cluster-admin
    password: "{{ redis_cluster_admin_password }}"
  run_once: true

- name: Explicit placement, TLS, plan only
  mss.platform.redis_cluster:
    nodes:
      - {host: 10.0.0.1, port: 6379}
      - {host: 10.0.0.2, port: 6379}
      - {host: 10.0.0.3, port: 6379}
      - {host: 10.0.0.2, port: 6380, role: replica, replica_of: "10.0.0.1:6379"}
    password: "{{ vault_redis_password }}"
    tls: true
    tls_ca_cert: /etc/redis/tls/ca.pem
  check_mode: true
  register: plan
'''

RETURN = r'''
actions:
  description: The actions planned (check mode) or done, in order, as sentences (retries included).
  returned: always
  type: list
  elements: str
  sample: ["add node redis-3:7002 to the cluster", "move 1365 slots from redis-1:7000 to redis-3:7002"]
cluster_state:
  description: C(cluster_state) of the first declared node after the run (before it, in check mode).
  returned: success
  type: str
  sample: ok
slots_assigned:
  description: Slots assigned to a master (C(cluster_slots_assigned)).
  returned: success
  type: int
  sample: 16384
slots_ok:
  description: Assigned slots whose master is not failing (C(cluster_slots_ok)).
  returned: success
  type: int
  sample: 16384
known_nodes:
  description: Nodes known to the first declared node.
  returned: success
  type: int
  sample: 6
topology:
  description: Every node the first declared node knows.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Node id.
      type: str
    address:
      description: C(ip:port) the cluster knows the node by.
      type: str
    name:
      description: Declared C(host:port), or null for an undeclared node.
      type: str
    role:
      description: C(master) or C(replica).
      type: str
    master_id:
      description: Id of the master a replica follows.
      type: str
    master:
      description: Declared name of that master.
      type: str
    slots:
      description: Number of slots served.
      type: int
    slot_ranges:
      description: Served slots as [start, end] ranges.
      type: list
      elements: list
    failed:
      description: The node is flagged C(fail) or C(noaddr).
      type: bool
'''

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mss.platform.plugins.module_utils.redis_cluster import RedisClusterManager
from ansible_collections.mss.platform.plugins.module_utils.redis_cluster_plan import (
    RedisClusterError,
    specs_from_params,
)

REDIS_IMP_ERR = None
try:
    import redis
    HAS_REDIS = True
except ImportError:
    HAS_REDIS = False
    REDIS_IMP_ERR = traceback.format_exc()


def argument_spec():
    return dict(
        nodes=dict(type='list', elements='dict', required=True, options=dict(
            host=dict(type='str', required=True),
            port=dict(type='int', default=6379),
            role=dict(type='str', default='master', choices=['master', 'replica']),
            replica_of=dict(type='str'),
            failure_domain=dict(type='str'),
        )),
        anti_affinity=dict(type='bool', default=True),
        remove_undeclared=dict(type='bool', default=True),
        rebalance=dict(type='bool', default=True),
        rebalance_threshold=dict(type='float', default=2.0),
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
        tls=dict(type='bool', default=False),
        tls_ca_cert=dict(type='path'),
        tls_cert=dict(type='path'),
        tls_key=dict(type='path', no_log=False),
        connect_timeout=dict(type='float', default=5.0),
        wait_timeout=dict(type='int', default=60),
        migrate_timeout=dict(type='int', default=5000),
        migrate_batch=dict(type='int', default=100),
    )


def client_factory(params):
    """A function (host, port) -> redis.Redis built from the module's connection options."""
    def factory(host, port):
        kwargs = dict(host=host, port=port, username=params['username'], password=params['password'],
                      socket_timeout=params['connect_timeout'], socket_connect_timeout=params['connect_timeout'],
                      decode_responses=True)
        if params['tls']:
            kwargs.update(ssl=True, ssl_ca_certs=params['tls_ca_cert'], ssl_certfile=params['tls_cert'],
                          ssl_keyfile=params['tls_key'])
        return redis.Redis(**kwargs)
    return factory


class RedisClusterModule(object):
    """Plan, apply unless in check mode, report."""

    def __init__(self, module, manager):
        self.module = module
        self.manager = manager

    def run(self):
        result = dict(changed=False, actions=[])
        actions = self.manager.plan()
        result['actions'] = [a['msg'] for a in actions]
        if actions:
            result['changed'] = True
            if not self.module.check_mode:
                result['actions'] = self.manager.converge(actions)
        result.update(self.manager.report())
        return result


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_together=[('tls_cert', 'tls_key')],
        supports_check_mode=True,
    )
    if not HAS_REDIS:
        module.fail_json(msg=missing_required_lib('redis'), exception=REDIS_IMP_ERR)
    p = module.params
    manager = RedisClusterManager(
        specs_from_params(p['nodes']), client_factory(p),
        anti_affinity=p['anti_affinity'], remove_undeclared=p['remove_undeclared'], rebalance=p['rebalance'],
        rebalance_threshold=p['rebalance_threshold'], wait_timeout=p['wait_timeout'],
        migrate_timeout=p['migrate_timeout'], migrate_batch=p['migrate_batch'],
        username=p['username'], password=p['password'])
    try:
        result = RedisClusterModule(module, manager).run()
    except (RedisClusterError, redis.RedisError) as e:
        module.fail_json(msg=str(e), changed=False)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
