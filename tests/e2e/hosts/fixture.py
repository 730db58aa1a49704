"""A lab for the tests that share it (a test module, or the scenarios' package): up (a failure
fails them under CI's flag, leaving nothing behind), its phase timings shown in the summary,
down after the last of them unless NOVA_E2E_KEEP=1."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import pytest

from lab.support.common import PrereqError, timed
from tests.conftest import service_unavailable

from lab import Lab, LabPlan
from .report import report_timings

KEEP = os.environ.get("NOVA_E2E_KEEP") == "1"  # leave the lab up (`venv/bin/python -m lab down` removes it)


@contextmanager
def running_lab(plan: LabPlan, config: pytest.Config, label: str) -> Iterator[Lab]:
    lab = Lab()
    try:
        lab.up(plan)
    except PrereqError as exc:
        try:
            lab.down()
        except PrereqError as cleanup:
            print(f"teardown after a failed start: {cleanup}")
        service_unavailable(f"{label}: the test hosts could not be brought up: {exc}")
    report_timings(config, label, lab.timings)
    try:
        yield lab
    finally:
        if KEEP:
            print("NOVA_E2E_KEEP=1: the lab stays up; `venv/bin/python -m lab down` removes it")
        else:
            with timed(lab.timings, "teardown_s"):
                lab.down()
