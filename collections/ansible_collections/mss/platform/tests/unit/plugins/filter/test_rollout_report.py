# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.mss.platform.plugins.filter.rollout_report import FilterModule, rollout_report

REV = 'deployment.kubernetes.io/revision'


def deployment(revision=3, replicas=2, status=None, generation=4):
    return {
        'kind': 'Deployment',
        'metadata': {'name': 'mss-api', 'namespace': 'mss', 'uid': 'dep-uid', 'generation': generation,
                     'annotations': {REV: str(revision)}},
        'spec': {'replicas': replicas},
        'status': status if status is not None else {
            'observedGeneration': generation, 'replicas': 3, 'updatedReplicas': 1, 'readyReplicas': 2,
            'availableReplicas': 2},
    }


def replicaset(name, revision, image, ready, owner='dep-uid', replicas=None):
    return {
        'metadata': {'name': name, 'uid': name + '-uid', 'annotations': {REV: str(revision)},
                     'ownerReferences': [{'kind': 'Deployment', 'uid': owner}]},
        'spec': {'replicas': ready if replicas is None else replicas,
                 'template': {'spec': {'containers': [{'name': 'api', 'image': image}]}}},
        'status': {'readyReplicas': ready},
    }


def pod(name, rs, ready=False, container=None, conditions=None):
    if conditions is None:
        conditions = [{'type': 'Ready', 'status': 'True' if ready else 'False'}]
    return {
        'metadata': {'name': name, 'uid': name + '-uid',
                     'ownerReferences': [{'kind': 'ReplicaSet', 'uid': rs + '-uid'}]},
        'status': {
            'conditions': conditions,
            'containerStatuses': [container] if container else [],
        },
    }


def event(pod_name, reason, message, when, kind='Warning'):
    return {'type': kind, 'reason': reason, 'message': message, 'lastTimestamp': when,
            'involvedObject': {'kind': 'Pod', 'name': pod_name, 'uid': pod_name + '-uid'}}


OLD = replicaset('mss-api-old', 2, 'mss/api:1.0.0', 2)
NEW = replicaset('mss-api-new', 3, 'mss/api:nope', 0, replicas=1)
OTHER = replicaset('mss-frontend-x', 3, 'mss/frontend:1.0.0', 3, owner='other-uid')
PULL = {'name': 'api', 'ready': False, 'restartCount': 0,
        'state': {'waiting': {'reason': 'ImagePullBackOff', 'message': 'Back-off pulling image "mss/api:nope"'}}}


def test_bad_image_names_the_new_replicaset_the_reason_and_what_still_serves():
    pods = [pod('mss-api-new-a', 'mss-api-new', container=PULL),
            pod('mss-api-old-a', 'mss-api-old', ready=True), pod('mss-api-old-b', 'mss-api-old', ready=True)]
    report = rollout_report(deployment(), [OLD, NEW, OTHER], pods)
    assert not report['rolled_out']
    assert report['deployment'] == 'mss/mss-api'
    assert report['new']['name'] == 'mss-api-new' and report['new']['images'] == ['mss/api:nope']
    assert report['new']['pods'] == [{'name': 'mss-api-new-a', 'ready': False,
                                      'reasons': ['api ImagePullBackOff: Back-off pulling image "mss/api:nope"']}]
    assert report['serving'] == [{'name': 'mss-api-old', 'revision': 2, 'images': ['mss/api:1.0.0'], 'ready': 2}]
    assert 'mss-api-new (revision 3, mss/api:nope) has 0 of 2 Pods ready' in report['message']
    assert 'ImagePullBackOff' in report['message']
    assert 'Still serving: mss-api-old (revision 2, mss/api:1.0.0) 2 ready.' in report['message']
    assert 'mss-frontend-x' not in report['message']


def test_failing_readiness_reports_the_newest_warning_event_of_the_pod():
    running = {'name': 'api', 'ready': False, 'restartCount': 0, 'state': {'running': {'startedAt': 'x'}}}
    events = [event('mss-api-new-a', 'Unhealthy', 'Readiness probe failed: HTTP probe failed with statuscode: 503',
                    '2026-12-03T10:00:05Z'),
              event('mss-api-new-a', 'BackOff', 'older', '2026-12-03T10:00:01Z'),
              event('mss-api-new-a', 'Pulled', 'normal events are not reasons', '2026-12-03T10:00:09Z', kind='Normal'),
              event('someone-else', 'Unhealthy', 'not this pod', '2026-12-03T10:00:09Z')]
    report = rollout_report(deployment(), [OLD, NEW], [pod('mss-api-new-a', 'mss-api-new', container=running)], events)
    reasons = report['new']['pods'][0]['reasons']
    assert reasons == ['api running, not ready',
                       'event Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503']


def test_crash_loop_reports_restarts_and_exit_code():
    crash = {'name': 'api', 'ready': False, 'restartCount': 4,
             'state': {'waiting': {'reason': 'CrashLoopBackOff'}},
             'lastState': {'terminated': {'reason': 'Error', 'exitCode': 1}}}
    report = rollout_report(deployment(), [OLD, NEW], [pod('mss-api-new-a', 'mss-api-new', container=crash)])
    assert report['new']['pods'][0]['reasons'] == ['api CrashLoopBackOff',
                                                   'api restarted 4 times, last ended Error (exit code 1)']


def test_unschedulable_pod_says_why():
    unscheduled = pod('mss-api-new-a', 'mss-api-new', conditions=[
        {'type': 'PodScheduled', 'status': 'False', 'reason': 'Unschedulable',
         'message': '0/2 nodes are available: 2 Insufficient cpu.'}])
    report = rollout_report(deployment(), [OLD, NEW], [unscheduled])
    assert report['new']['pods'][0]['reasons'] == ['not scheduled: 0/2 nodes are available: 2 Insufficient cpu.']


def test_long_messages_are_bounded():
    long = copy.deepcopy(PULL)
    long['state']['waiting']['message'] = 'x' * 5000
    report = rollout_report(deployment(), [OLD, NEW], [pod('mss-api-new-a', 'mss-api-new', container=long)])
    assert len(report['new']['pods'][0]['reasons'][0]) < 260
    assert report['new']['pods'][0]['reasons'][0].endswith('...')


def test_nothing_serving_is_said():
    report = rollout_report(deployment(status={'replicas': 1, 'updatedReplicas': 1}), [NEW],
                            [pod('mss-api-new-a', 'mss-api-new', container=PULL)])
    assert 'nothing else is serving' in report['message']
    assert report['serving'] == []


def test_no_replicaset_of_the_revision_yet():
    report = rollout_report(deployment(revision=4), [OLD, NEW], [])
    assert not report['rolled_out'] and report['new'] == {}
    assert 'no ReplicaSet of its revision 4 exists yet' in report['message']


def test_rolled_out():
    done = replicaset('mss-api-new', 3, 'mss/api:1.0.1', 2)
    status = {'observedGeneration': 4, 'replicas': 2, 'updatedReplicas': 2, 'readyReplicas': 2, 'availableReplicas': 2}
    pods = [pod('mss-api-new-a', 'mss-api-new', ready=True), pod('mss-api-new-b', 'mss-api-new', ready=True)]
    report = rollout_report(deployment(status=status), [replicaset('mss-api-old', 2, 'mss/api:1.0.0', 0), done], pods)
    assert report['rolled_out']
    assert report['message'] == 'mss/mss-api has rolled out: ReplicaSet mss-api-new (revision 3) has 2 of 2 Pods ready.'
    assert [p['reasons'] for p in report['new']['pods']] == [[], []]


@pytest.mark.parametrize('status', [
    {'observedGeneration': 3, 'replicas': 2, 'updatedReplicas': 2, 'readyReplicas': 2, 'availableReplicas': 2},
    {'observedGeneration': 4, 'replicas': 3, 'updatedReplicas': 2, 'readyReplicas': 2, 'availableReplicas': 2},
    {'observedGeneration': 4, 'replicas': 2, 'updatedReplicas': 2, 'readyReplicas': 1, 'availableReplicas': 1},
])
def test_not_rolled_out_while_the_controller_lags_old_pods_remain_or_one_is_not_ready(status):
    done = replicaset('mss-api-new', 3, 'mss/api:1.0.1', 2)
    assert not rollout_report(deployment(status=status), [done], [])['rolled_out']


@pytest.mark.parametrize('bad, args, message', [
    ('not a dict', ([], []), 'must be one Deployment'),
    ({'kind': 'ReplicaSet', 'metadata': {'uid': 'u'}}, ([], []), 'must be one Deployment'),
    ({'kind': 'Deployment', 'metadata': {'name': 'x'}}, ([], []), 'must be one Deployment'),
    (None, ({}, []), 'replicasets must be a list'),
    (None, ([], 'pods'), 'pods must be a list'),
    (None, ([], [], {'a': 1}), 'events must be a list'),
])
def test_bad_input_is_a_clear_error(bad, args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        rollout_report(deployment() if bad is None else bad, *args)


def test_the_filter_is_registered():
    assert FilterModule().filters() == {'rollout_report': rollout_report}
