# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The prometheus role's default group jobs point at the ports and groups the roles that own each daemon serve.

prometheus_group_jobs (roles/prometheus/defaults/main.yml) is the only place the monitoring hosts learn where
HAProxy's exporter, dockerd's metrics-addr, Patroni's REST API, etcd and the exporters listen. Each owning role has
its own default; a change on one side alone would leave a target down in every environment that keeps the defaults
(the Molecule scenarios of the owning roles scrape their own port, this test ties the two sides together).
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

ROLES = pathlib.Path(__file__).resolve().parents[4] / "roles"


def defaults(role):
    return yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())


def port_of(value):
    """A port default: an int, or a listen address ':9187' / '0.0.0.0:9187'."""
    return int(str(value).rsplit(":", 1)[-1])


# job -> (owning role, its port variable, the group variable of the role that places it; None: no such variable,
# e.g. node on every host, docker on the docker_hosts group its playbook names)
OWNERS = {
    "node": ("exporters", "exporters_node_listen", None),
    "postgres": ("postgresql", "postgresql_exporter_listen", ("postgresql", "postgresql_group")),
    "patroni": ("postgresql", "postgresql_restapi_port", ("postgresql", "postgresql_group")),
    "etcd": ("etcd", "etcd_client_port", ("etcd", "etcd_group")),
    "haproxy": ("postgresql", "postgresql_haproxy_metrics_port", ("postgresql", "postgresql_haproxy_group")),
    "docker": ("docker_host", "docker_host_metrics_port", None),
}


@pytest.mark.parametrize("job", sorted(OWNERS))
def test_group_job_matches_owning_role(job):
    jobs = defaults("prometheus")["prometheus_group_jobs"]
    role, port_var, group = OWNERS[job]
    assert jobs[job]["port"] == port_of(defaults(role)[port_var]), f"{job}: port differs from {role}'s {port_var}"
    if group is not None:
        assert jobs[job]["group"] == defaults(group[0])[group[1]], f"{job}: group differs from {group[0]}'s {group[1]}"


def test_every_default_group_job_has_an_owner():
    """A new default job must be tied to its owner here (nginx belongs to the edge role, issue 13, not built yet)."""
    jobs = set(defaults("prometheus")["prometheus_group_jobs"])
    assert jobs - set(OWNERS) <= {"nginx"}, sorted(jobs - set(OWNERS))
