"""Runs after the other harness modules: none of their containers may remain."""
import os

import docker
import pytest

from harness import lifecycle


@pytest.mark.docker
def test_no_container_of_ours_remains():
    mine = docker.from_env().api.containers(all=True, filters={"label": f"monkeys-swe.owner-pid={os.getpid()}"})
    assert mine == [] and lifecycle.live_count() == 0
