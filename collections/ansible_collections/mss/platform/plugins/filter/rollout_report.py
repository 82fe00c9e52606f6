# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
name: rollout_report
author: MSS Platform engineering
version_added: "1.1.0"
short_description: Explain why a Deployment has not rolled out, and what still serves
description:
  - Takes a Deployment, its namespace's ReplicaSets and Pods (and optionally Events) as returned by
    M(kubernetes.core.k8s_info), and tells which ReplicaSet is the new one (the Deployment's revision), how many of
    its Pods are ready and why the others are not (a container waiting, for example C(ImagePullBackOff); a container
    that restarted and why it ended; the newest warning event, for example a failing readiness probe), and which
    older ReplicaSets still have ready Pods, that is, what is serving meanwhile.
  - Only reads its input. ReplicaSets and Pods are matched by owner reference (UID), so objects of other
    Deployments may be passed as well.
options:
  _input:
    description: The Deployment (one item of the C(resources) of M(kubernetes.core.k8s_info)).
    type: dict
    required: true
  replicasets:
    description: ReplicaSets of the namespace (those not owned by the Deployment are ignored).
    type: list
    elements: dict
    required: true
  pods:
    description: Pods of the namespace (those not owned by the Deployment's ReplicaSets are ignored).
    type: list
    elements: dict
    required: true
  events:
    description: Events of the namespace; the newest C(Warning) event of each Pod that is not ready is reported.
    type: list
    elements: dict
    default: []
'''

EXAMPLES = r'''
- name: Explain a rollout that did not complete
  ansible.builtin.fail:
    msg: "{{ (deployment | mss.platform.rollout_report(replicasets, pods, events)).message }}"
'''

RETURN = r'''
_value:
  description: The report.
  type: dict
  contains:
    deployment:
      description: C(namespace/name) of the Deployment.
      type: str
    rolled_out:
      description: Every desired replica is updated, ready and available, and no Pod of an older ReplicaSet is left.
      type: bool
    new:
      description: >-
        The ReplicaSet of the Deployment's current revision (C(name), C(revision), C(images), C(desired), C(ready),
        and C(pods), each with C(name), C(ready) and C(reasons)); empty when the controller has not created it yet.
      type: dict
    serving:
      description: Older ReplicaSets that still have ready Pods (C(name), C(revision), C(images), C(ready)).
      type: list
      elements: dict
    message:
      description: One paragraph for an operator, saying all of the above.
      type: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

REVISION = 'deployment.kubernetes.io/revision'
# Bound of the text quoted from a container status or an event (image pull errors can be very long).
QUOTE_MAX = 200


def _get(obj, *path, default=None):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def _owned_by(obj, uid):
    return any(ref.get('uid') == uid for ref in _get(obj, 'metadata', 'ownerReferences', default=[]) or [])


def _revision(obj):
    try:
        return int(_get(obj, 'metadata', 'annotations', REVISION, default='0'))
    except (TypeError, ValueError):
        return 0


def _images(obj):
    return [c.get('image', '') for c in _get(obj, 'spec', 'template', 'spec', 'containers', default=[]) or []]


def _ready_replicas(replicaset):
    return _get(replicaset, 'status', 'readyReplicas', default=0) or 0


def _quote(text):
    text = ' '.join(to_text(text).split())
    return text if len(text) <= QUOTE_MAX else text[:QUOTE_MAX - 3] + '...'


def _pod_ready(pod):
    return any(c.get('type') == 'Ready' and c.get('status') == 'True'
               for c in _get(pod, 'status', 'conditions', default=[]) or [])


def _event_time(event):
    return to_text(event.get('lastTimestamp') or event.get('eventTime')
                   or _get(event, 'metadata', 'creationTimestamp', default=''))


def _pod_reasons(pod, events):
    reasons = []
    for status in _get(pod, 'status', 'containerStatuses', default=[]) or []:
        name = status.get('name', '?')
        waiting = _get(status, 'state', 'waiting')
        if waiting:
            detail = ': ' + _quote(waiting['message']) if waiting.get('message') else ''
            reasons.append('%s %s%s' % (name, waiting.get('reason', 'Waiting'), detail))
        elif _get(status, 'state', 'running') is not None and not status.get('ready'):
            reasons.append('%s running, not ready' % name)
        last = _get(status, 'lastState', 'terminated')
        if last and status.get('restartCount'):
            reasons.append('%s restarted %s times, last ended %s (exit code %s)'
                           % (name, status['restartCount'], last.get('reason', '?'), last.get('exitCode', '?')))
    if not _get(pod, 'status', 'containerStatuses'):
        for cond in _get(pod, 'status', 'conditions', default=[]) or []:
            if cond.get('type') == 'PodScheduled' and cond.get('status') != 'True':
                reasons.append('not scheduled: %s' % _quote(cond.get('message', cond.get('reason', ''))))
    uid = _get(pod, 'metadata', 'uid')
    warnings = [e for e in events
                if e.get('type') == 'Warning' and _get(e, 'involvedObject', 'uid') == uid]
    if warnings:
        newest = max(warnings, key=_event_time)
        reasons.append('event %s: %s' % (newest.get('reason', '?'), _quote(newest.get('message', ''))))
    return reasons


def rollout_report(deployment, replicasets, pods, events=None):
    if not isinstance(deployment, dict) or _get(deployment, 'kind', default='Deployment') != 'Deployment' \
            or not _get(deployment, 'metadata', 'uid'):
        raise AnsibleFilterError('rollout_report: the input must be one Deployment as k8s_info returns it')
    for label, value in (('replicasets', replicasets), ('pods', pods), ('events', events or [])):
        if not isinstance(value, list):
            raise AnsibleFilterError('rollout_report: %s must be a list of objects' % label)
    events = events or []

    ident = '%s/%s' % (_get(deployment, 'metadata', 'namespace', default=''), _get(deployment, 'metadata', 'name'))
    desired = _get(deployment, 'spec', 'replicas', default=1)
    status = deployment.get('status') or {}
    owned = [rs for rs in replicasets if _owned_by(rs, deployment['metadata']['uid'])]
    current = _revision(deployment)
    new_rs = [rs for rs in owned if current and _revision(rs) == current]

    new = {}
    if new_rs:
        rs = new_rs[0]
        rs_pods = sorted((p for p in pods if _owned_by(p, _get(rs, 'metadata', 'uid'))),
                         key=lambda p: _get(p, 'metadata', 'name', default=''))
        new = {
            'name': _get(rs, 'metadata', 'name'),
            'revision': _revision(rs),
            'images': _images(rs),
            'desired': _get(rs, 'spec', 'replicas', default=0),
            'ready': _ready_replicas(rs),
            'pods': [{'name': _get(p, 'metadata', 'name'), 'ready': _pod_ready(p),
                      'reasons': [] if _pod_ready(p) else _pod_reasons(p, events)} for p in rs_pods],
        }
    serving = sorted(({'name': _get(rs, 'metadata', 'name'), 'revision': _revision(rs), 'images': _images(rs),
                       'ready': _ready_replicas(rs)}
                      for rs in owned if rs not in new_rs and _ready_replicas(rs) > 0),
                     key=lambda r: -r['revision'])
    old_pods = _get(status, 'replicas', default=0) - _get(status, 'updatedReplicas', default=0)
    observed = _get(status, 'observedGeneration', default=0) >= _get(deployment, 'metadata', 'generation', default=0)
    complete = all(_get(status, key, default=0) == desired
                   for key in ('updatedReplicas', 'readyReplicas', 'availableReplicas'))
    rolled_out = bool(new) and observed and complete and old_pods <= 0

    if rolled_out:
        text = '%s has rolled out: ReplicaSet %s (revision %s) has %s of %s Pods ready.' % (
            ident, new['name'], new['revision'], new['ready'], desired)
    elif not new:
        text = '%s has not rolled out: no ReplicaSet of its revision %s exists yet (the controller has not acted).' % (
            ident, current or '?')
    else:
        not_ready = ['%s: %s' % (p['name'], '; '.join(p['reasons']) or 'not ready')
                     for p in new['pods'] if not p['ready']]
        text = '%s has not rolled out: the new ReplicaSet %s (revision %s, %s) has %s of %s Pods ready' % (
            ident, new['name'], new['revision'], ', '.join(new['images']), new['ready'], desired)
        text += ' [%s].' % ' | '.join(not_ready) if not_ready else '.'
        if len(new['pods']) < desired and not not_ready:
            text += ' Only %s of its Pods exist.' % len(new['pods'])
    if not rolled_out:
        if serving:
            text += ' Still serving: ' + ', '.join('%s (revision %s, %s) %s ready' % (
                r['name'], r['revision'], ', '.join(r['images']), r['ready']) for r in serving) + '.'
        else:
            text += ' No older ReplicaSet has a ready Pod: nothing else is serving.'
    return {'deployment': ident, 'rolled_out': rolled_out, 'new': new, 'serving': serving, 'message': text}


class FilterModule(object):
    def filters(self):
        return {'rollout_report': rollout_report}
