# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031
# (ansible-test sanity wants the Python 2 era module header and %-formatting)
"""CI reports of the k6 gate: JUnit XML and a markdown summary, deterministic so that rewriting them is idempotent."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import xml.etree.ElementTree as ET

from ansible_collections.mss.platform.plugins.module_utils.k6 import format_number, summarize


def render_junit(rows, error=None, suite_name='k6_gate'):
    """A JUnit XML document: one testcase per threshold (or one errored testcase when the gate
    could not evaluate at all). Deterministic (no timestamps) so rewriting it is idempotent."""
    root = ET.Element('testsuites', name=suite_name)
    suite = ET.SubElement(root, 'testsuite', name=suite_name)
    failures = 0
    errors = 0
    if error is not None:
        case = ET.SubElement(suite, 'testcase', classname=suite_name, name='read k6 results')
        node = ET.SubElement(case, 'error', message=error, type='K6GateError')
        node.text = error
        errors = 1
    for row in rows:
        case = ET.SubElement(suite, 'testcase', classname='%s.%s' % (suite_name, row['metric']),
                             name='%s: %s' % (row['metric'], row['threshold']))
        out = ET.SubElement(case, 'system-out')
        out.text = 'observed %s=%s' % (row['aggregation'], format_number(row['observed']))
        if not row['ok']:
            failures += 1
            node = ET.SubElement(case, 'failure', message=row['reason'] or 'threshold failed', type='threshold')
            node.text = row['reason'] or 'threshold failed'
    total = len(rows) + (1 if error is not None else 0)
    for node in (root, suite):
        node.set('tests', str(total))
        node.set('failures', str(failures))
        node.set('errors', str(errors))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding='unicode') + '\n'


def _md_cell(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


def render_markdown(rows, summary=None, fmt=None, error=None, path=None):
    lines = ['# k6 gate', '']
    if error is not None:
        lines += ['**FAILED**: the results could not be evaluated: %s' % _md_cell(error), '']
        return '\n'.join(lines) + '\n'
    summary = summary or summarize(rows)
    verdict = 'PASSED' if summary['passed'] else 'FAILED'
    lines.append('**%s**: %d of %d thresholds passed (results: %s%s).' % (
        verdict, summary['total'] - summary['failed'], summary['total'], fmt or '?',
        ', %s' % _md_cell(path) if path else ''))
    lines += ['', '| Result | Metric | Threshold | Observed | k6 verdict |', '|---|---|---|---|---|']
    for row in rows:
        k6 = '-' if row['k6_ok'] is None else ('pass' if row['k6_ok'] else 'fail')
        lines.append('| %s | `%s` | `%s` | %s | %s |' % (
            'pass' if row['ok'] else 'FAIL', _md_cell(row['metric']), _md_cell(row['threshold']),
            _md_cell('%s=%s' % (row['aggregation'], format_number(row['observed']))), k6))
    failed = [r for r in rows if not r['ok']]
    if failed:
        lines += ['', 'Failures:', '']
        lines += ['- %s' % _md_cell(r['reason']) for r in failed]
    return '\n'.join(lines) + '\n'
