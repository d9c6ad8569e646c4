"""The instructor workflow end to end, with the real nbgrader CLI in a temporary course.

One module-scoped course (the pattern of nbgrader's own tests/apps: a temporary course directory
whose nbgrader_config.py loads the repository's and points root and exchange elsewhere):

    generate_assignment -> a class of fake students -> ONE `tools/course.py grade` run
    (autograde student by student, generate_feedback, nbgrader export to CSV)

The class has, for every assignment in solutions/: a perfect student (release notebook with the
solutions filled in), a blank one (the untouched release) and faulty students whose notebooks
break single functions in the ways students do (infinite loop, import error, syntax error,
sys.exit(), unbounded memory, a killed kernel, calling the reference, monkey-patching the
checkers, editing or deleting a test cell, printing megabytes).  Expected: zero on what broke,
full marks on the rest.  Every fault hits every assignment: within an assignment the faults are
dealt over its functions, one fault per function per faulty student (see fault_rotation), so an
assignment with F graded functions has ceil(11 / F) faulty students.
"""
from __future__ import annotations

import ast
import copy
import csv
import glob
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest

from rnncourse_grader import testing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
BIN = os.path.dirname(PY)
ASSIGNMENTS = sorted(os.path.basename(os.path.dirname(p)) for p in
                     glob.glob(os.path.join(REPO, "solutions", "*", "")) if
                     os.path.exists(os.path.join(p, os.path.basename(os.path.dirname(p)) + ".ipynb")))
HIDDEN_MARKERS = ('find_spec("rnncourse.grading")', "hidden=True", "BEGIN HIDDEN TESTS", "answer=")

pytestmark = pytest.mark.skipif(not ASSIGNMENTS, reason="no assignments in solutions/")


def env(**extra):
    e = dict(os.environ)
    e["PATH"] = BIN + os.pathsep + e.get("PATH", "")
    e["RNNCOURSE_CALL_TIME_LIMIT"] = "2"      # a student's function may run 2 s per call here
    e["RNNCOURSE_KERNEL_MEMORY_MB"] = "2048"
    e["PYTHONWARNINGS"] = "ignore"
    e.update(extra)
    return e


def run(args, cwd, check=True, **kw):
    res = subprocess.run(args, cwd=cwd, env=env(**kw.pop("extra_env", {})), text=True,
                         capture_output=True, timeout=kw.pop("timeout", 900), **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"{args} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def nbgrader(args, cwd, **kw):
    return run([PY, "-m", "nbgrader"] + list(args), cwd, **kw)


# ----------------------------------------------------------------------------- fake students
def gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


solved = testing.solved          # the release with every answer cell filled in from the solution


def graded_functions(nb):
    """{function name: answer cell} for answer cells defining a function that has test cells."""
    ids = {gid(c) for c in nb.cells}
    out = {}
    for c in nb.cells:
        m = c.metadata.get("nbgrader", {})
        if m.get("solution") and c.cell_type == "code":
            for name in re.findall(r"^def (\w+)\(", c.source, re.M):
                if f"{name}_visible" in ids and f"{name}_hidden" in ids:
                    out[name] = c
                    break
    return out


def inject_in_body(src, name, lines):
    """Insert ``lines`` at the top of function ``name``'s body (after its docstring)."""
    fn = next(n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef) and n.name == name)
    body = fn.body
    first = body[1] if (len(body) > 1 and isinstance(body[0], ast.Expr)
                        and isinstance(getattr(body[0], "value", None), ast.Constant)) else body[0]
    rows = src.split("\n")
    indent = " " * first.col_offset
    rows[first.lineno - 1:first.lineno - 1] = [indent + line for line in lines]
    return "\n".join(rows)


def delegating_cell(name):
    return textwrap.dedent(f"""
        from rnncourse.grading import load_checks as _load_checks
        def {name}(*args, **kwargs):
            return _load_checks()["{name}"].reference(*args, **kwargs)
        """)


def patching_cell(name):
    return textwrap.dedent(f"""
        import sys as _sys
        import numpy as _np
        import rnncourse.grading as _gr
        def {name}(*args, **kwargs):
            return 0.0
        _gr.check = lambda *a, **k: print("all tests passed")
        _gr.check_function = lambda *a, **k: 1
        _gr._compare = lambda *a, **k: None
        _gr.load_checks = lambda *a, **k: {{}}
        _np.allclose = lambda *a, **k: True
        _np.testing.assert_allclose = lambda *a, **k: None
        for _m in list(_sys.modules.values()):
            if getattr(_m, "__name__", "").startswith("rnncourse.") and hasattr(_m, "{name}"):
                setattr(_m, "{name}", {name})
        """)


# fault -> (how it changes the notebook, does it cost the function its points)
def apply_fault(nb, fault, name):
    cell = graded_functions(nb)[name]
    if fault == "infinite_loop":
        cell.source = inject_in_body(cell.source, name, ["while True:", "    pass"])
    elif fault == "memory_hog":
        cell.source = inject_in_body(cell.source, name,
                                     ["_hog = []", "while True:",
                                      "    _hog.append(__import__('numpy').empty(10**8))"])
    elif fault == "import_error":
        cell.source = "import rnncourse_no_such_module\n" + cell.source
    elif fault == "syntax_error":
        cell.source = "this line is not python\n" + cell.source
    elif fault == "sys_exit":
        cell.source = "import sys\nsys.exit('giving up')\n" + cell.source
    elif fault == "kernel_killer":
        cell.source = "import os\nos._exit(1)\n" + cell.source
    elif fault == "delegate":
        cell.source = delegating_cell(name)
    elif fault == "monkeypatch":
        cell.source = patching_cell(name)
    elif fault == "edit_test_cell":
        cell.source = inject_in_body(cell.source, name, ["return None"])
        for c in nb.cells:
            if gid(c) in (f"{name}_visible", f"{name}_hidden"):
                c.source = "print('all tests passed')"
    elif fault == "print_megabytes":
        cell.source = "print('x' * 3_000_000)\n" + cell.source
    elif fault == "delete_test_cell":
        nb.cells = [c for c in nb.cells if gid(c) != f"{name}_visible"]
    else:  # pragma: no cover
        raise ValueError(fault)


BREAKING = ["infinite_loop", "import_error", "syntax_error", "sys_exit", "memory_hog",
            "kernel_killer", "delegate", "monkeypatch", "edit_test_cell"]
HARMLESS = ["print_megabytes", "delete_test_cell"]
FAULTS = BREAKING + HARMLESS


def dependents(nb, broken):
    """Functions whose solution calls a broken function (they fail too): transitive closure."""
    funcs = graded_functions(nb)
    out = set(broken)
    changed = True
    while changed:
        changed = False
        for name, cell in funcs.items():
            if name in out:
                continue
            body = cell.source.split("\n", 1)[-1]
            if any(re.search(rf"\b{b}\(", body) for b in out):
                out.add(name)
                changed = True
    return out


def fault_rotation(functions):
    """{assignment: [ {function: fault}, ... one dict per faulty student ]}.

    For every assignment the faults are dealt round-robin over (student, function) slots, one
    fault per function, with as few faulty students as it takes for every fault to appear in
    that assignment: 3 faulty students for an assignment of 4 or 5 functions, 4 for 3 functions.
    Grading costs a few seconds per notebook, so this keeps the class at about 50 notebooks.
    """
    rotation = {}
    for a, funcs in functions.items():
        deal = itertools.cycle(FAULTS)
        students = -(-len(FAULTS) // max(len(funcs), 1))
        rotation[a] = [{name: next(deal) for name in funcs} for _ in range(students)]
    return rotation


def build_class(course):
    """Write submitted/<student>/<assignment>/ and return {(assignment, student): expectation}."""
    plan = {}
    good_nbs, releases = {}, {}
    for a in ASSIGNMENTS:
        releases[a] = nbformat.read(os.path.join(course, "exercises", a, f"{a}.ipynb"), 4)
        solution = nbformat.read(os.path.join(course, "solutions", a, f"{a}.ipynb"), 4)
        good_nbs[a] = solved(releases[a], solution)
    rotation = fault_rotation({a: list(graded_functions(nb)) for a, nb in good_nbs.items()})
    for a in ASSIGNMENTS:
        good = good_nbs[a]
        notebooks = {"perfect": (good, {"kind": "perfect"}), "blank": (releases[a], {"kind": "blank"})}
        for k, assignment_faults in enumerate(rotation[a], 1):
            nb = copy.deepcopy(good)
            zero_cells = set()
            for name, fault in assignment_faults.items():
                apply_fault(nb, fault, name)
                if fault == "delete_test_cell":
                    zero_cells.add(f"{name}_visible")
            # graded functions are graded with the course's versions of the graded functions they
            # call (checks.py's depends=), so a fault costs its own function only
            broken = {n for n, f in assignment_faults.items() if f in BREAKING}
            notebooks[f"faulty{k}"] = (nb, {"kind": "faults", "broken": broken, "zero_cells": zero_cells,
                                            "faults": {f: n for n, f in assignment_faults.items()}})
        for student, (nb, expectation) in notebooks.items():
            d = os.path.join(course, "submitted", student, a)
            shutil.copytree(os.path.join(course, "exercises", a), d)   # with checks.py, as fetched
            nbformat.write(nb, os.path.join(d, f"{a}.ipynb"))
            plan[(a, student)] = expectation
    return plan


def test_every_fault_hits_every_assignment():
    good = {a: graded_functions(nbformat.read(os.path.join(REPO, "solutions", a, f"{a}.ipynb"), 4))
            for a in ASSIGNMENTS}
    for a, students in fault_rotation(good).items():
        used = {f for s in students for f in s.values()}
        assert used == set(FAULTS), f"{a}: faults never applied: {sorted(set(FAULTS) - used)}"


@pytest.fixture(scope="module")
def graded(temp_course):
    course = temp_course(ASSIGNMENTS, cell_timeout=6)
    plan = build_class(course)
    res = run([PY, os.path.join(REPO, "tools", "course.py"), "--course", course, "grade"], REPO,
              check=False)
    return course, plan, res


def grades(course, assignment, student):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course}/gradebook.db", "rnncourse") as gb:
        nb = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: (g.score, g.max_score, g.needs_manual_grade, g.cell.cell_type)
                for g in nb.grades}


# ----------------------------------------------------------------------------- tests
def test_class_run_grades_everyone_with_progress_lines(graded):
    course, plan, res = graded
    assert res.returncode == 0, res.stdout + res.stderr
    n = len(plan)
    assert f"Autograding {n} new or changed submission(s) of {n} (0 unchanged)" in res.stdout, res.stdout
    assert re.search(rf"^graded {n}/{n}  failed 0  [\d.]+ nb/min  ETA", res.stdout, re.M), res.stdout
    for a in ASSIGNMENTS:             # the summary table: every submission of every assignment graded
        k = sum(1 for b, _ in plan if b == a)
        assert re.search(rf"^{a}\s+{k}\s+0\s+0\s+0\s+\d+\s+[\d.]+ / [\d.]+$", res.stdout, re.M), \
            res.stdout
    assert "Traceback" not in res.stdout
    students = "|".join(sorted({s for _, s in plan}))
    assert not re.search(rf"^\S+ ({students}): ", res.stdout, re.M), "a line per graded submission"
    with open(os.path.join(course, "grades.csv")) as fh:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(fh)}
    assert set(plan) <= set(rows), sorted(set(plan) - set(rows))
    for key, row in rows.items():   # nbgrader exports every student x assignment; none submitted = 0
        if key not in plan:
            assert float(row["score"]) == 0.0, row


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_perfect_submission_gets_every_autograded_point(graded, assignment):
    course, plan, _ = graded
    g = grades(course, assignment, "perfect")
    for name, (score, max_score, manual, cell_type) in g.items():
        if cell_type == "markdown":
            assert manual, f"{name}: a written answer waits for a manual grade"
        else:
            assert score == max_score, f"{name}: {score} / {max_score}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_scores_zero(graded, assignment):
    course, plan, _ = graded
    g = grades(course, assignment, "blank")
    assert g and all(score == 0 for score, *_ in g.values()), g


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_faults_cost_exactly_the_broken_parts(graded, assignment):
    course, plan, _ = graded
    students = [s for (a, s), e in plan.items() if a == assignment and e["kind"] == "faults"]
    assert students
    for student in students:
        expect = plan[(assignment, student)]
        g = grades(course, assignment, student)
        for name, (score, max_score, manual, cell_type) in g.items():
            func = name.rsplit("_", 1)[0]
            if cell_type == "markdown":
                continue
            if func in expect["broken"] or name in expect["zero_cells"]:
                assert score == 0, f"{student} {name}: expected 0 ({expect['faults']}), got {score}"
            else:
                assert score == max_score, \
                    f"{student} {name}: expected {max_score} ({expect['faults']}), got {score}"


def _feedback_text(course, assignment, student):
    path = os.path.join(course, "feedback", student, assignment, f"{assignment}.html")
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def test_feedback_never_shows_hidden_tests_or_loads_a_cdn(graded):
    course, plan, _ = graded
    for (assignment, student) in plan:
        html = _feedback_text(course, assignment, student)
        for marker in HIDDEN_MARKERS:
            assert marker not in html, f"{student}/{assignment} feedback shows hidden test code: {marker}"
        assert not re.search(r"<script[^>]+src=[\"']https?:", html), "feedback loads a script from the web"
        assert "cdnjs" not in html and "MathJax.Hub" not in html


def test_feedback_explains_failures(graded):
    course, plan, _ = graded
    for (assignment, student), expect in plan.items():
        html = _feedback_text(course, assignment, student)
        assert "Score:" in html
        if student == "blank":
            assert "is not implemented yet" in html
        faults = expect.get("faults", {})
        if "infinite_loop" in faults:
            assert "did not return within" in html
        if "delegate" in faults:
            assert "calls the course&#39;s reference implementation" in html or \
                   "calls the course's reference implementation" in html
        if "kernel_killer" in faults:
            assert "KernelDied" in html
        if "memory_hog" in faults:
            assert "ran out of memory" in html
        if "print_megabytes" in faults:
            assert "output truncated" in html
            assert len(html) < 1_000_000


def test_validate_passes_on_solutions_and_fails_on_releases(graded):
    course = graded[0]          # the class's course: its solutions/ and exercises/ are untouched
    # One nbgrader process per mode for all notebooks (start-up costs more than a small notebook).
    sols = [os.path.join(course, "solutions", a, f"{a}.ipynb") for a in ASSIGNMENTS]
    rels = [os.path.join(course, "exercises", a, f"{a}.ipynb") for a in ASSIGNMENTS]
    out = nbgrader(["validate"] + sols, course).stdout
    assert out.count("Success! Your notebook passes all the tests.") == len(ASSIGNMENTS), out
    assert "VALIDATION FAILED" not in out, out
    out = nbgrader(["validate", "--invert"] + rels, course).stdout
    assert out.count("Success! The notebook does not pass any tests.") == len(ASSIGNMENTS), out
    # the students' command (plain `nbgrader validate`): a clear verdict and an exit status
    a = ASSIGNMENTS[-1]
    ok = run([PY, os.path.join(REPO, "tools", "course.py"), "--course", course, "check",
              os.path.join(course, "solutions", a, f"{a}.ipynb")], REPO, check=False)
    assert ok.returncode == 0 and "PASSED" in ok.stdout, ok.stdout + ok.stderr
    bad = run([PY, os.path.join(REPO, "tools", "course.py"), "--course", course, "check",
               os.path.join(course, "exercises", a, f"{a}.ipynb")], REPO, check=False)
    assert bad.returncode == 1 and "FAILED: some tests fail" in bad.stdout, bad.stdout + bad.stderr
    assert "is not implemented yet" in bad.stdout
    errors = [block.split("The error was:", 1)[1] for block in re.split(r"\n=+\n", bad.stdout)
              if "The error was:" in block]
    assert errors, bad.stdout
    cut = [line for e in errors for line in e.splitlines() if line.endswith("...")]
    assert not cut, "make check cuts feedback lines (Validator.width):\n" + "\n".join(cut)
    assert "[ValidateApp" not in bad.stdout and "[IPKernelApp]" not in bad.stdout, bad.stdout


def test_release_fetch_submit_collect_for_two_students(tmp_path, temp_course):
    a = ASSIGNMENTS[-1]
    course = temp_course([a], cell_timeout=6)
    exchange = os.path.join(course, "exchange")
    nbgrader(["release_assignment", a], course)
    assert os.path.isdir(os.path.join(exchange, "rnncourse", "outbound", a))
    solution = nbformat.read(os.path.join(course, "solutions", a, f"{a}.ipynb"), 4)
    for student in ("alice", "bob"):
        home = tmp_path / student
        home.mkdir()
        flags = ["--course", "rnncourse", f"--Exchange.root={exchange}"]
        extra = {"JUPYTER_DATA_DIR": str(home / "data"), "HOME": str(home)}
        nbgrader(["list"] + flags, str(home), extra_env=extra)
        nbgrader(["fetch_assignment", a] + flags, str(home), extra_env=extra)
        path = home / a / f"{a}.ipynb"
        assert path.exists()
        if student == "alice":
            nbformat.write(solved(nbformat.read(str(path), 4), solution), str(path))
        nbgrader(["submit", a, f"--student={student}"] + flags, str(home), extra_env=extra)
    nbgrader(["collect", a], course)
    assert sorted(os.listdir(os.path.join(course, "submitted"))) == ["alice", "bob"]
    res = run([PY, os.path.join(REPO, "tools", "course.py"), "--course", course, "grade", "--csv", ""],
              REPO, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    alice = grades(course, a, "alice")
    bob = grades(course, a, "bob")
    assert all(s == m for s, m, manual, t in alice.values() if t == "code")
    assert all(s == 0 for s, *_ in bob.values())
    nbgrader(["release_feedback", a], course)
    nbgrader(["fetch_feedback", a, "--course", "rnncourse", f"--Exchange.root={exchange}",
              "--student=alice"], str(tmp_path / "alice"),
             extra_env={"JUPYTER_DATA_DIR": str(tmp_path / "alice" / "data"), "HOME": str(tmp_path / "alice")})
    fetched = glob.glob(str(tmp_path / "alice" / a / "feedback" / "*" / f"{a}.html"))
    assert fetched, os.listdir(tmp_path / "alice" / a)


def _tree_bytes(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def test_grading_a_fresh_clone_registers_the_assignment_first(temp_course):
    """gradebook.db is not in git: `make grade` on a fresh clone must not need `make exercises`.

    (Retries of a grading that fails for the machine's reasons are tested in
    tests/test_class_grading.py: graded notebooks no longer run in Jupyter kernels.)
    """
    a = ASSIGNMENTS[-1]
    course = temp_course([a], cell_timeout=6)
    os.remove(os.path.join(course, "gradebook.db"))             # as in a fresh clone
    release = nbformat.read(os.path.join(course, "exercises", a, f"{a}.ipynb"), 4)
    solution = nbformat.read(os.path.join(course, "solutions", a, f"{a}.ipynb"), 4)
    d = os.path.join(course, "submitted", "alice", a)
    shutil.copytree(os.path.join(course, "exercises", a), d)
    nbformat.write(solved(release, solution), os.path.join(d, f"{a}.ipynb"))
    exercises = _tree_bytes(os.path.join(course, "exercises"))
    res = run([PY, os.path.join(REPO, "tools", "course.py"), "--course", course, "grade", "--csv", ""],
              REPO, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "exists in the database" not in res.stdout
    assert f"gradebook: {a} registered" in res.stdout, res.stdout
    g = grades(course, a, "alice")
    assert g and all(s == m for s, m, manual, t in g.values() if t == "code"), g
    assert _tree_bytes(os.path.join(course, "exercises")) == exercises, "exercises/ must not change"


# ----------------------------------------------------------------------------- browser
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(graded, tmp_path_factory):
    """JupyterLab (with nbgrader's extensions) serving the graded course."""
    import urllib.request
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: `make browser` installs it")
        pytest.skip("Chromium is not installed (make browser)")
    course = graded[0]
    os.makedirs(os.path.join(course, "exchange"), exist_ok=True)
    state = tmp_path_factory.mktemp("jupyter")
    port, token = _free_port(), "rnncourse-test-token"
    args = [os.path.join(BIN, "jupyter-lab"), "--no-browser", f"--port={port}", "--ip=127.0.0.1",
            f"--ServerApp.token={token}", f"--ServerApp.root_dir={course}",
            f"--LabApp.workspaces_dir={state / 'ws'}", f"--LabApp.user_settings_dir={state / 'us'}"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    log = open(state / "lab.log", "w")
    proc = subprocess.Popen(args, cwd=course, stdout=log, stderr=subprocess.STDOUT,
                            env=env(JUPYTER_CONFIG_DIR=str(state / "config"),
                                    JUPYTER_RUNTIME_DIR=str(state / "runtime")))
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except Exception:
                if proc.poll() is not None:
                    raise RuntimeError(open(state / "lab.log").read())
                import time
                time.sleep(0.5)
        else:
            raise RuntimeError("JupyterLab did not start:\n" + open(state / "lab.log").read())
        yield base, token, course
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def test_formgrader_in_jupyterlab_lists_assignments_submissions_and_scores(lab, browser, graded):
    from playwright.sync_api import expect
    base, token, course = lab
    _, plan, _ = graded
    students = sorted({s for _, s in plan})
    submissions = {a: sum(1 for b, _ in plan if b == a) for a in ASSIGNMENTS}
    page = browser.new_page()
    page.goto(f"{base}/lab?token={token}&reset")
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click(timeout=60000)
    page.locator(".lm-Menu-itemLabel", has_text="Formgrader").first.click()
    frame = page.frame_locator("#formgrader iframe")
    rows = frame.locator("#main-table tr")
    rows.first.wait_for(timeout=60000)
    frame.locator("#main-table td.name", has_text=ASSIGNMENTS[-1]).wait_for(timeout=30000)
    for a in ASSIGNMENTS:
        row = frame.locator("#main-table tr", has=frame.locator("td.name", has_text=a))
        assert row.locator("td.num-submissions").inner_text().strip() == str(submissions[a])
        assert row.locator("td.release a").count() == 1, "Release needs the exchange directory"
    frame.locator("a", has_text="Manual Grading").first.click()
    table = frame.locator("table").first
    expect(table).not_to_contain_text("Loading", timeout=60000)       # filled in by an API call
    expect(table).to_contain_text(ASSIGNMENTS[-1], timeout=30000)
    gradebook = table.inner_text()
    for a in ASSIGNMENTS:
        assert re.search(rf"{a}\s+\S+\s+{submissions[a]}\s+[\d.]+ / [\d.]+", gradebook), gradebook
    frame.locator("a", has_text="Manage Students").first.click()
    students_table = frame.locator("table").first
    expect(students_table).not_to_contain_text("Loading", timeout=60000)
    expect(students_table).to_contain_text("perfect", timeout=30000)
    table = students_table.inner_text()
    for s in students:
        assert re.search(rf"\b{s}\b.*\d+ / \d+", table), table
    total = {}
    for (a, s) in plan:
        g = grades(course, a, s)
        total[s] = total.get(s, 0) + sum(score or 0 for score, *_ in g.values())
    assert re.search(rf"\bblank\b\s+None\s+0 / ", table), table
    assert re.search(rf"\bperfect\b\s+None\s+{total['perfect']:g} / ", table), table
    page.close()


@pytest.mark.parametrize("which", ["release", "solved"])
def test_validate_button_of_a_notebook(lab, browser, which):
    base, token, course = lab
    a = ASSIGNMENTS[-1]
    path = f"exercises/{a}/{a}.ipynb" if which == "release" else f"submitted/perfect/{a}/{a}.ipynb"
    page = browser.new_page()
    page.goto(f"{base}/lab/tree/{path}?token={token}&reset")
    button = page.locator(".validate-button:visible")
    button.wait_for(timeout=60000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60000)
    button.click()
    page.locator(".jp-Dialog-header", has_text="Validation Results").wait_for(timeout=180000)
    text = page.locator(".jp-Dialog").inner_text()
    if which == "release":
        assert "The following cell failed" in text and "is not implemented yet" in text, text
        for marker in HIDDEN_MARKERS:
            assert marker not in text
    else:
        assert "Success! Your notebook passes all the tests." in text, text
    page.close()
