"""The Range header (media.md 6.4): one range served, several ignored, outside refused."""

from __future__ import annotations

import pytest

from services.media.endpoint import Unsatisfiable, byte_range


@pytest.mark.parametrize("header,expected", [
    (None, None), ("", None),
    ("bytes=0-99", (0, 99)), ("bytes=100-", (100, 999)), ("bytes=-100", (900, 999)), ("bytes=-5000", (0, 999)),
    ("bytes=990-5000", (990, 999)), ("bytes=999-999", (999, 999)), ("BYTES = 1-2", (1, 2)),
    ("bytes=0-9,20-29", None),         # several ranges: the whole body
    ("items=0-9", None), ("bytes=9-0", None), ("bytes=x-y", None), ("bytes=-", None), ("bytes", None),
])
def test_med_030_one_range(header, expected):
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize("header,size", [("bytes=1000-", 1000), ("bytes=1000-2000", 1000), ("bytes=-0", 1000),
                                         ("bytes=0-", 0), ("bytes=-10", 0)])
def test_med_030_range_outside_the_attachment_is_unsatisfiable(header, size):
    with pytest.raises(Unsatisfiable):
        byte_range(header, size)
