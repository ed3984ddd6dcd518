"""Shared fixtures: seeds are fixed by default and sweepable with ENET_TEST_SEED."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("ENET_TEST_SEED", "0"))


@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)
