"""What `verify` prints next to a verdict: a Python substitution is never silent."""
from __future__ import annotations

import pytest

from harness.verify import PatchVerdict
from monkeys_swe.cli.verify import verdict_line


def test_a_substituted_python_is_printed_next_to_the_verdict():
    pred = {"instance_id": "a__b-1", "model_name_or_path": "gold"}
    v = PatchVerdict("not_resolved", duration_s=3.2,
                     environment={"python": "3.9", "python_wanted": "3.11", "substituted": True})
    line = verdict_line(pred, v)
    assert line.startswith("  a__b-1 [gold] not_resolved (3.2s)")
    assert "judged on Python 3.9, the instance wants 3.11" in line
    same = PatchVerdict("resolved", duration_s=1.0, environment={"python": "3.11", "python_wanted": "3.11",
                                                                 "substituted": False})
    assert verdict_line(pred, same) == "  a__b-1 [gold] resolved (1.0s)"


@pytest.mark.docker
def test_the_python_of_a_given_base_image_is_read_from_it():
    from harness.base_images import PYTHON_IMAGE
    from harness.docker_util import get_client
    from harness.images import python_in

    client = get_client()
    version = python_in(client, PYTHON_IMAGE)  # the offline base (3.11 unless the environment names another)
    assert version == PYTHON_IMAGE.rsplit(":", 1)[-1] or (version.count(".") == 1 and version[0] == "3")
