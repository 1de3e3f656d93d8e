"""The rules of ``web.teach_base`` that need no server: an id from the address names a row
only within the database's integers."""

from __future__ import annotations

import pytest
from tornado import web

from coursehub.services.web.teach_base import MAX_ROW_ID, row_id


def test_an_id_from_the_address_is_a_number():
    assert row_id("42") == 42
    assert row_id("007") == 7
    assert row_id(str(MAX_ROW_ID)) == 2**31 - 1


@pytest.mark.parametrize("raw", [str(MAX_ROW_ID + 1), "9" * 40])
def test_an_id_beyond_the_databases_integers_names_nothing(raw):
    with pytest.raises(web.HTTPError) as refused:
        row_id(raw)
    assert refused.value.status_code == 404
    assert "no such item" in refused.value.log_message
