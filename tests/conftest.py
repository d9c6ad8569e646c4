"""Shared pytest set-up: BLAS threads, the test tiers (markers), the temporary-course fixture.

The arrays in these tests are small, where OpenBLAS's threads cost more than they
save (on a loaded 2-core machine a 150-step training run went from 1.5 s to 15 s).
The Makefile exports the same variables; this covers a plain ``pytest`` run.  They
must be set before NumPy is first imported, which conftest.py precedes.

Tiers.  Every test module that needs more than this Python is marked here, by module
(:data:`NEEDS`), with the markers registered in pyproject.toml:

    nbgrader   runs nbgrader (its apps or CLI, a gradebook)
    sandbox    runs student code in the bubblewrap sandbox (``make sandbox``)
    book       reads the built book (``make book``: _build/)
    browser    drives Chromium (Playwright)
    server     starts servers (HTTP, Dask scheduler and workers, PostgreSQL)
    slow       none of these, but takes minutes

Single tests that take seconds each are marked ``slow`` by name (:data:`SLOW_TESTS`): the
training runs of assignments 09 and 10 (``train_model``, ``train_step``), graded case by case
and mistake by mistake, and the assignments whose solution runs them.

``make unit`` runs the rest (``-m "not (nbgrader or sandbox or book or browser or server or
slow)"``), in under two minutes; ``make test`` runs everything.  A new module is in the fast
tier until it is listed here.
"""
import os

import pytest

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

#: module name -> what its tests need beyond this Python (the markers above)
NEEDS = {
    "test_assignment10": ("nbgrader", "sandbox", "slow"),
    "test_book": ("book", "browser", "server"),
    "test_book_data": ("book", "slow"),
    "test_class_grading": ("nbgrader", "sandbox", "slow"),
    "test_grade_on_submit": ("nbgrader", "sandbox", "slow"),
    "test_grader_harness": ("nbgrader", "sandbox"),
    "test_grader_summary": ("nbgrader",),
    "test_grader_train_model": ("nbgrader", "sandbox"),
    "test_grading_cluster": ("nbgrader", "sandbox", "server", "slow"),
    "test_grading_judge_attacks": ("nbgrader", "sandbox"),
    "test_grading_points_gradebook": ("nbgrader", "sandbox"),
    "test_grading_sandbox": ("nbgrader", "sandbox"),
    "test_instructor_guide": ("nbgrader", "sandbox", "slow"),
    "test_nbgrader_assignments": ("nbgrader",),
    "test_nbgrader_workflow": ("nbgrader", "sandbox", "browser", "slow"),
    "test_points_table": ("book",),
    "test_sandbox_paths": ("sandbox",),
    "test_seq2seq_chapter": ("book", "slow"),
}

#: module name -> substrings of test ids marked ``slow`` (5-25 s each, measured with
#: ``--durations``): every case that runs a training run, and the solutions that do
SLOW_TESTS = {
    "test_mistakes_as_written": ("train_model", "train_step", "[09_char_lm]", "[10_seq2seq]"),
    "test_grading_points": ("train_model", "train_step"),
    "test_grading_train_model": ("",),
    "test_grader_student_view": ("",),
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for mark in NEEDS.get(item.path.stem, ()):
            item.add_marker(getattr(pytest.mark, mark))
        if any(part in item.name for part in SLOW_TESTS.get(item.path.stem, ())):
            item.add_marker(pytest.mark.slow)



@pytest.fixture(scope="session")
def temp_course(tmp_path_factory):
    """``temp_course(assignments, name="course", **options)``: a new temporary nbgrader course.

    rnncourse_grader.testing.make_course in a fresh folder ``<name>N/course`` of this session's
    temporary directory (options: cell_timeout, db_url); returns the course directory.  Session
    scoped, so module-scoped fixtures can use it too.
    """
    from rnncourse_grader import testing

    def make(assignments, name="course", **options):
        return testing.make_course(tmp_path_factory.mktemp(name) / "course", assignments, **options)
    return make
