"""The exam tests' programmes: Tianjin (`programme`, no offline part) and Shanxi (`shanxi`, offline test)."""

import pytest  # noqa: E402

from safetrain.assessment.tests.conftest import programme  # noqa: F401
from safetrain.assessment.tests.test_offline import shanxi  # noqa: F401


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): ...` runs what the block scheduled for after its transaction's commit, at the block's end
    (the test's own transaction never commits)."""

    def block():
        return django_capture_on_commit_callbacks(execute=True)

    return block
