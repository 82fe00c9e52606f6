# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP031
"""Format detection and dispatch of the k6 readers (module_utils/k6_results.py): every refusal names its cause."""

from __future__ import annotations

import pytest
from ansible_collections.mss.platform.plugins.module_utils import k6
from ansible_collections.mss.platform.plugins.module_utils import k6_results as kr

from .k6_helpers import DEFAULTS, fixture, write_file


@pytest.mark.parametrize(("name", "fmt"), [("summary_export.json", "summary_export"),
                                           ("handle_summary.json", "handle_summary"),
                                           ("ndjson_small.ndjson", "ndjson")])
def test_detect_format(name, fmt):
    assert kr.detect_format(fixture(name)) == fmt


@pytest.mark.parametrize(("content", "cause"), [
    ("", "is empty"),
    ("\n\n  \n", "is empty"),
    ('{"metrics": {"http_reqs": {"count": 1, "rate"', "truncated"),
    ("[1, 2, 3]", "unknown format"),
    ('{"foo": 1}', "unknown format"),
    ('{"metrics": {}}', "empty \"metrics\""),
    ('{"metrics": {"a": {"type": "counter", "values": {"count": 1}}, "b": {"count": 1, "rate": 1}}}', "ambiguous"),
    ('{"metrics": {"a": {"count": "many"}}}', "neither in summary-export form"),
    ("not json at all\n", "not valid JSON"),
])
def test_detection_fails_closed(tmp_path, content, cause):
    path = write_file(tmp_path, "r.json", content)
    with pytest.raises(k6.K6FormatError, match=cause):
        kr.read_results(path, "auto", DEFAULTS)


def test_missing_file_fails_closed(tmp_path):
    with pytest.raises(k6.K6FormatError, match="cannot read"):
        kr.read_results(str(tmp_path / "nope.json"), "auto", DEFAULTS)


def test_forced_format_mismatch_fails(tmp_path):
    with pytest.raises(k6.K6FormatError, match="given as handle_summary but its content is summary_export"):
        kr.read_results(fixture("summary_export.json"), "handle_summary", DEFAULTS)
    with pytest.raises(k6.K6FormatError, match="unknown format 'csv'"):
        kr.read_results(fixture("summary_export.json"), "csv", DEFAULTS)
