"""rnncourse_grader.testing, the temporary courses of the tests and benchmarks (no nbgrader run here)."""
import os

import nbformat
import pytest

from rnncourse_grader import testing


def test_config_loads_the_repositorys_and_names_the_course(tmp_path):
    from traitlets.config.loader import PyFileConfigLoader
    course = str(tmp_path / "c")
    os.makedirs(course)
    testing.write_config(course, cell_timeout=7, db_url="sqlite:////elsewhere/gb.db")
    cfg = PyFileConfigLoader("nbgrader_config.py", path=course).load_config()
    assert cfg.CourseDirectory.root == course
    assert cfg.Exchange.root == os.path.join(course, "exchange")
    assert cfg.Execute.timeout == 7 and cfg.CourseDirectory.db_url == "sqlite:////elsewhere/gb.db"
    assert cfg.CourseDirectory.source_directory == "solutions"      # from the repository's file
    testing.write_config(course, cell_timeout=None)
    cfg = PyFileConfigLoader("nbgrader_config.py", path=course).load_config()
    assert cfg.Execute.timeout == int(os.environ.get("RNNCOURSE_CELL_TIMEOUT", "60"))
    assert "db_url" not in cfg.CourseDirectory


def test_an_unknown_assignment_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"received 'no_such_assignment'"):
        testing.make_course(tmp_path / "c", ["no_such_assignment"])
    assert not (tmp_path / "c").exists()


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for source, meta in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = meta
        nb.cells.append(cell)
    return nb


def test_fake_students_fill_answer_cells_from_the_solution():
    answer = {"solution": True, "grade": False}
    release = _nb(("raise NotImplementedError()", dict(answer, grade_id="a")),
                  ("raise NotImplementedError()", dict(answer, grade_id="b")),
                  ("check('a')", {"grade": True, "solution": False, "grade_id": "t"}))
    solution = _nb(("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", dict(answer, grade_id="a")),
                   ("### BEGIN SOLUTION\ny = 2\n### END SOLUTION", dict(answer, grade_id="b")),
                   ("check('a') # instructor's", {"grade": True, "solution": False, "grade_id": "t"}))
    assert [c.source for c in testing.solved(release, solution).cells] == ["x = 1", "y = 2", "check('a')"]
    assert [c.source for c in testing.partly(release, solution).cells] == [
        "raise NotImplementedError()", "### BEGIN SOLUTION\ny = 2\n### END SOLUTION", "check('a')"]
    assert release.cells[0].source == "raise NotImplementedError()"     # copies, not in place
