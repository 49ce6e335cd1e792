"""The worker's garbage-collector settings (streams/collector.py), checked in a
fresh interpreter so that this test process keeps CPython's own."""

from __future__ import annotations

import subprocess
import sys

from streams.collector import MIDDLE, OLD, YOUNG


def test_tune_collector_freezes_what_is_loaded_and_collects_less_often() -> None:
    code = ("import gc; before = gc.get_threshold(); from streams.collector import tune_collector; "
            "tune_collector(); print(before, gc.get_threshold(), gc.get_freeze_count() > 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split(")")[0] + ")" == "(700, 10, 10)"  # CPython's defaults before
    assert done.stdout.strip().endswith(f"{(YOUNG, MIDDLE, OLD)} True")
    assert YOUNG > 700 and MIDDLE >= 10 and OLD >= 10
