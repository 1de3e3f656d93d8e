"""``coursehub grade SOURCE SUBMISSION --parameters JSON`` grades one variant: an instructor
checks a student's notebook against that student's values on their own machine, through the
production engine and sandbox."""

from __future__ import annotations

import json

from coursehub.graders.command import main
from tests.test_variants import variant_source, with_answer


def test_the_grade_command_grades_one_variant(tmp_path, capsys):
    source = json.loads(variant_source())
    (tmp_path / "assignment").mkdir()
    (tmp_path / "assignment" / "source.ipynb").write_text(json.dumps(source))
    # A student whose variant is a=51, b=891, c=0.25 answered 51 * 891 + 0.25.
    (tmp_path / "mine.ipynb").write_text(with_answer(source, 51 * 891 + 0.25).decode())
    argv = [str(tmp_path / "assignment" / "source.ipynb"), str(tmp_path / "mine.ipynb"), "--json"]

    assert main([*argv, "--parameters", '{"a": 51, "b": 891, "c": 0.25}']) == 0
    own = json.loads(capsys.readouterr().out)
    assert own["score"] == own["max_score"] == 3

    # The same notebook under another variant, and without one (the parameters cell's own
    # values), fails the hidden test.
    assert main([*argv, "--parameters", '{"a": 52, "b": 891, "c": 0.25}']) == 0
    assert json.loads(capsys.readouterr().out)["score"] == 0
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["score"] == 0


def test_parameters_that_are_not_a_json_object_are_refused(tmp_path, capsys):
    (tmp_path / "source.ipynb").write_bytes(variant_source())
    status = main([str(tmp_path / "source.ipynb"), str(tmp_path / "source.ipynb"),
                   "--parameters", "[1, 2]"])  # fmt: skip
    assert status == 1
    assert "--parameters must be a JSON object" in capsys.readouterr().err
