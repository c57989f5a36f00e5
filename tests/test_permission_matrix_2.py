"""The second half of the permission matrix (the table and the rules are in test_permission_matrix.py)."""

import pytest

from tests.test_permission_matrix import check_pattern, matrix_users, patterns_for  # noqa: F401 (fixture)


@pytest.mark.parametrize("route,key", patterns_for(1), ids=[k for _, k in patterns_for(1)])
def test_permission_matrix_second_half(route, key, matrix_users, settings, tmp_path):  # noqa: F811
    check_pattern(route, key, matrix_users, settings, tmp_path)
