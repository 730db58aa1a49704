"""A lab for one test module: up (a failure fails the module under CI's flag, leaving nothing
behind), its phase timings shown in the summary, down at the end unless NOVA_E2E_KEEP=1."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import pytest

from harness.common import PrereqError, timed
from tests.conftest import service_unavailable

from .lab import Lab, LabPlan
from .report import report_timings

KEEP = os.environ.get("NOVA_E2E_KEEP") == "1"  # leave the lab up (`python3 -m hosts down` removes it)


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
            print("NOVA_E2E_KEEP=1: the lab stays up; `cd tests/e2e && python3 -m hosts down` removes it")
        else:
            with timed(lab.timings, "teardown_s"):
                lab.down()
