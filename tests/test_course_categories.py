"""``courses.categories`` on its own: a category's name is one line of 1 to 100 characters."""

from __future__ import annotations

import pytest

from coursehub.services.courses import categories
from coursehub.services.courses.authoring import AuthoringError


def test_a_name_is_one_line_with_single_spaces():
    assert categories.clean_name("  Data \n  science\t ") == "Data science"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "Give the category a name."),
        ("  \n ", "Give the category a name."),
        ("x" * 101, "at most 100 characters"),
    ],
    ids=["empty", "blank", "too long"],
)
def test_a_wrong_name_is_refused_naming_the_field(raw, words):
    with pytest.raises(AuthoringError) as refused:
        categories.clean_name(raw)
    assert words in refused.value.message
    assert (refused.value.field, refused.value.status) == ("name", 400)
