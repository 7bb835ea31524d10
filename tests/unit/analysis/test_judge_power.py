"""The judge cannot pass its tests trivially: over many simulated seeds a healthy canary stays within the
false-failure budget AND a small regression is still caught (a judge that never fails, or always
fails, breaks one of the two). Uses the benchmark's simulator and the shipped judge; < 5 s."""

from __future__ import annotations

import numpy as np
import pytest

from airlock.analysis.judge import JudgeConfig
from bench.judge import SCENARIOS, airlock_detection, simulate

SEEDS = 200
BY_KEY = {s.key: s for s in SCENARIOS}


def test_healthy_canary_stays_within_false_failure_budget():
    failed = np.isfinite(airlock_detection(simulate(BY_KEY["d"], SEEDS, seed=7)))
    assert failed.mean() <= JudgeConfig().alpha  # at most 2 of 200 seeds


@pytest.mark.parametrize("key", ["e", "f"])
def test_healthy_canary_near_the_critical_level_is_not_failed_over_many_looks(key):
    # Baselines of 3 % and 4.5 %, checked every minute for 15 minutes: deciding on the observed rate
    # failed ~5 % and ~50 % of these seeds; the confidence bound stays within alpha.
    failed = np.isfinite(airlock_detection(simulate(BY_KEY[key], SEEDS, seed=7)))
    assert failed.mean() <= JudgeConfig().alpha


def test_small_regression_is_detected_within_the_step():
    times = airlock_detection(simulate(BY_KEY["b"], SEEDS, seed=7))
    assert np.isfinite(times).mean() >= 0.8
    assert np.median(times) <= 10


def test_seed_example_is_detected_within_two_minutes():
    times = airlock_detection(simulate(BY_KEY["a"], SEEDS, seed=7))
    assert np.isfinite(times).all()
    assert np.median(times) <= 2
