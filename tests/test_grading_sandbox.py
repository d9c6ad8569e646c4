"""Grading that student code cannot fool: hostile submissions through the real `course.py grade`.

One class of assignment 03_bptt is graded in a temporary course: a correct student, a blank one
(the untouched release), one student per attack of issue 9 (each a blank notebook plus the attack
in an answer cell, so it should earn exactly what the blank one earns) and one student per kind of
resource abuse (a correct notebook plus the abuse, so it should earn full marks: the abuse costs
only its own cell).  Afterwards the course files, the package, every other submission and the
grader's home are byte-identical, no attack's marker file exists anywhere, and no process of the
sandbox is left running.  A second test talks to one sandboxed worker directly and checks what it
can see and reach.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid

import nbformat
import pytest

from test_nbgrader_workflow import PY, REPO, gid, run, solved

A = "03_bptt"
HOME = os.path.expanduser("~")
TOKEN = uuid.uuid4().hex[:12]          # marker files and processes of this run

pytestmark = pytest.mark.skipif(
    __import__("rnncourse_grader.sandbox", fromlist=["x"]).check_available() is not None,
    reason="no sandbox on this machine")


def attacks(course):
    """{student: code placed in the first answer cell of a blank notebook}."""
    markers = [os.path.join(course, f"pwned-{TOKEN}"), os.path.join(HOME, f"pwned-{TOKEN}"),
               f"/tmp/pwned-{TOKEN}", os.path.join(REPO, f"pwned-{TOKEN}")]
    return {
        "fake_module": """
            import sys, types, importlib.machinery
            fake = types.ModuleType("rnncourse.grading")
            fake.__spec__ = importlib.machinery.ModuleSpec("rnncourse.grading", None)
            fake.check = fake.check_choice = lambda *a, **k: None
            sys.modules["rnncourse.grading"] = fake
            """,
        "ast_wrapper": """
            import ast
            class _Wrap(ast.NodeTransformer):
                def visit_Module(self, node):
                    handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=None,
                                                body=[ast.Pass()])
                    new = ast.Module(body=[ast.Try(body=node.body or [ast.Pass()], handlers=[handler],
                                                   orelse=[], finalbody=[])], type_ignores=[])
                    return ast.fix_missing_locations(new)
            get_ipython().ast_transformers.append(_Wrap())
            """,
        "checks_append": f"""
            for _p in ["checks.py", {os.path.join(course, "solutions", A, "checks.py")!r}]:
                try:
                    with open(_p, "a") as _f:
                        _f.write("\\n_orig = build\\ndef build(rc, G):\\n    return {{k: v._replace("
                                 "visible=lambda: [], hidden=lambda rng: []) for k, v in _orig(rc, G).items()}}\\n")
                except OSError as _e:
                    print("checks.py:", _e)
            """,
        "run_solutions": f"""
            import json, glob
            for _p in glob.glob("../../../solutions/*/*.ipynb") + [{os.path.join(course, "solutions", A, A + ".ipynb")!r},
                                                                  {os.path.join(REPO, "solutions", A, A + ".ipynb")!r}]:
                try:
                    for _c in json.load(open(_p))["cells"]:
                        if _c["cell_type"] == "code" and _c["metadata"].get("nbgrader", {{}}).get("solution"):
                            exec("".join(_c["source"]), globals())
                except Exception as _e:
                    print("solutions:", type(_e).__name__)
            """,
        "sqlite_update": f"""
            import sqlite3
            for _p in ["../../../gradebook.db", {os.path.join(course, "gradebook.db")!r}]:
                try:
                    _db = sqlite3.connect(_p)
                    _db.execute("UPDATE grade SET manual_score = 1000")
                    _db.commit()
                except Exception as _e:
                    print("gradebook:", type(_e).__name__)
            """,
        "patch_package": f"""
            import rnncourse
            for _p in [rnncourse.__path__[0] + "/grading/__init__.py", {os.path.join(REPO, "rnncourse", "grading", "__init__.py")!r}]:
                try:
                    with open(_p, "a") as _f:
                        _f.write("\\ncheck = check_choice = lambda *a, **k: None\\n")
                except OSError as _e:
                    print("package:", _e)
            """,
        "startup_file": f"""
            import os
            for _h in [os.path.expanduser("~"), {HOME!r}]:
                _d = os.path.join(_h, ".ipython", "profile_default", "startup")
                try:
                    os.makedirs(_d, exist_ok=True)
                    with open(os.path.join(_d, "00-pwn-{TOKEN}.py"), "w") as _f:
                        _f.write("import rnncourse.grading as g; g.check = g.check_choice = lambda *a, **k: None\\n")
                except OSError as _e:
                    print("startup:", _e)
            """,
        "overwrite_others": f"""
            import glob, os
            for _p in glob.glob("../../*/{A}/{A}.ipynb") + glob.glob({os.path.join(course, "submitted", "*", A, A + ".ipynb")!r}) \\
                    + glob.glob({os.path.join(course, "autograded", "*", A, A + ".ipynb")!r}):
                try:
                    with open(_p, "w") as _f:
                        _f.write("{{}}")
                except OSError as _e:
                    print("others:", type(_e).__name__)
            for _p in {markers!r}:
                try:
                    open(_p, "w").write("pwned")
                except OSError as _e:
                    print("outside:", type(_e).__name__)
            """,
    }


NUMERICAL = """
    import numpy as np
    import rnncourse.grading as _g
    from rnncourse.rnn import rnn_step_forward, RNNParams, StepGrads

    def rnn_step_backward(dh_next, cache):
        x, h_prev, _, (U, W, b), act = cache
        base = dict(x=x, h=h_prev, U=U, W=W, b=b)
        def f(**kw):
            return float(np.sum(rnn_step_forward(kw["x"], kw["h"], RNNParams(kw["U"], kw["W"], kw["b"]), act)[0] * dh_next))
        g = {k: _g.numerical_gradient(lambda v, k=k: f(**{**base, k: v}), base[k]) for k in base}
        return StepGrads(g["x"], g["h"], RNNParams(g["U"], g["W"], g["b"]))
    """

ABUSE = {
    "memory_10gib": "import numpy as _np\n_big = _np.ones(10 * 2**30 // 8)\n",
    "fork_bomb": "import os as _os\nwhile True:\n    try:\n        _os.fork()\n    except OSError:\n        pass\n",
    "file_5gb": ("with open('big.bin', 'wb') as _f:\n    for _ in range(5000):\n"
                 "        _f.write(b'0' * 10**6)\n"),
    "infinite_loop": "while True:\n    pass\n",
    "child_left_running": (f"import subprocess as _sp\n_sp.Popen(['sh', '-c', 'sleep 3131; echo {TOKEN}'])\n"
                           f"_sp.Popen(['python3', '-c', 'import time\\nwhile True: time.sleep(1)  # {TOKEN}'])\n"),
}


def first_answer_cell(nb):
    return next(c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution"))


def tree_hashes(root, skip=()):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip and d != "__pycache__"]
        for f in filenames:
            p = os.path.join(dirpath, f)
            if p in skip:
                continue
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def submit(course, student, nb):
    d = os.path.join(course, "submitted", student, A)
    if not os.path.isdir(d):
        __import__("shutil").copytree(os.path.join(course, "exercises", A), d)
    nbformat.write(nb, os.path.join(d, f"{A}.ipynb"))


def autograded_scores(course, student):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course}/gradebook.db", "rnncourse") as gb:
        nb = gb.find_submission_notebook(A, A, student)
        return {g.name: (g.auto_score, g.manual_score) for g in nb.grades}


def grade(course):
    return run([PY, os.path.join(REPO, "tools", "course.py"), "--course", course, "grade", A,
                "--no-feedback", "--csv", ""], REPO, check=False, timeout=1800,
               extra_env={"RNNCOURSE_CALL_TIME_LIMIT": "3", "RNNCOURSE_CELL_TIMEOUT": "8"})


@pytest.fixture(scope="module")
def hostile_class(temp_course):
    course = temp_course([A], name="hostile", cell_timeout=6)
    release = nbformat.read(os.path.join(course, "exercises", A, f"{A}.ipynb"), 4)
    solution = nbformat.read(os.path.join(course, "solutions", A, f"{A}.ipynb"), 4)
    good = solved(release, solution)
    submit(course, "correct", good)
    submit(course, "blank", release)
    for name, code in attacks(course).items():
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        cell = first_answer_cell(nb)
        cell.source = textwrap.dedent(code) + "\n" + cell.source
        submit(course, f"attack_{name}", nb)
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    next(c for c in nb.cells if gid(c) == "rnn_step_backward_answer").source = textwrap.dedent(NUMERICAL)
    submit(course, "attack_numerical_gradient", nb)
    for name, code in ABUSE.items():
        nb = nbformat.from_dict(json.loads(json.dumps(good)))      # the abuse in a cell of its own
        at = nb.cells.index(first_answer_cell(nb))
        nb.cells.insert(at, nbformat.v4.new_code_cell(code))
        submit(course, f"abuse_{name}", nb)
    # what must not change (the course minus what grading writes; the package; the grader's home)
    skip = {os.path.join(course, d) for d in ("autograded", "feedback", "gradebook.db", ".nbgrader.log",
                                               ".grader-cache", "grades.csv")}
    before = (tree_hashes(course, skip), tree_hashes(os.path.join(REPO, "rnncourse")),
              os.path.exists(os.path.join(HOME, ".ipython", "profile_default", "startup")) and
              sorted(os.listdir(os.path.join(HOME, ".ipython", "profile_default", "startup"))))
    res = grade(course)
    after = (tree_hashes(course, skip), tree_hashes(os.path.join(REPO, "rnncourse")),
             os.path.exists(os.path.join(HOME, ".ipython", "profile_default", "startup")) and
             sorted(os.listdir(os.path.join(HOME, ".ipython", "profile_default", "startup"))))
    # the correct student graded alone, in a course of its own
    alone = temp_course([A], name="alone", cell_timeout=6)
    submit(alone, "correct", good)
    res_alone = grade(alone)
    return course, alone, res, res_alone, before, after


def test_the_class_is_graded(hostile_class):
    course, alone, res, res_alone, *_ = hostile_class
    assert res_alone.returncode == 0, res_alone.stdout + res_alone.stderr
    students = sorted(os.listdir(os.path.join(course, "submitted")))
    for s in students:
        assert autograded_scores(course, s), f"{s} was not graded:\n{res.stdout}\n{res.stderr}"


def test_every_attack_earns_what_its_honest_cells_earn(hostile_class):
    course, alone, res, *_ = hostile_class
    blank = autograded_scores(course, "blank")
    assert sum(a or 0 for a, _ in blank.values()) == 0
    for s in sorted(os.listdir(os.path.join(course, "submitted"))):
        if s.startswith("attack_"):
            assert autograded_scores(course, s) == blank, f"{s} earned more than a blank notebook"


def test_honest_students_get_the_grade_they_get_alone(hostile_class):
    course, alone, res, *_ = hostile_class
    correct = autograded_scores(course, "correct")
    assert correct == autograded_scores(alone, "correct")
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course}/gradebook.db", "rnncourse") as gb:
        nb = gb.find_submission_notebook(A, A, "correct")
        full = {g.name: g.max_score for g in nb.grades if g.auto_score is not None}
    assert {k: v[0] for k, v in correct.items() if v[0] is not None} == full


def test_resource_abuse_costs_only_its_own_cell(hostile_class):
    course, *_ = hostile_class
    correct = autograded_scores(course, "correct")
    for name in ABUSE:
        assert autograded_scores(course, f"abuse_{name}") == correct, name


def test_nothing_outside_the_scratch_copy_changed(hostile_class):
    course, alone, res, res_alone, before, after = hostile_class
    assert before[0] == after[0], "course files or submissions changed"
    assert before[1] == after[1], "the rnncourse package changed"
    assert before[2] == after[2], "the grader's IPython profile changed"
    for p in (os.path.join(course, f"pwned-{TOKEN}"), os.path.join(HOME, f"pwned-{TOKEN}"),
              f"/tmp/pwned-{TOKEN}", os.path.join(REPO, f"pwned-{TOKEN}")):
        assert not os.path.exists(p), p
    import sqlite3
    db = sqlite3.connect(os.path.join(course, "gradebook.db"))
    assert db.execute("SELECT COUNT(*) FROM grade WHERE manual_score IS NOT NULL").fetchone()[0] == 0


def test_no_process_of_the_sandbox_is_left_running(hostile_class):
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert TOKEN not in ps and "sleep 3131" not in ps, ps


# ----------------------------------------------------------------------------- one worker
def test_inside_the_sandbox(tmp_path):
    from rnncourse_grader import sandbox, student_view
    from rnncourse_grader.session import Session
    view = student_view.view_for_assignment(os.path.join(REPO, "solutions"), "02_forward_pass",
                                            str(tmp_path / "views"))
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "mine.txt").write_text("my own file")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    probe = textwrap.dedent(f"""
        import json, os, socket
        out = {{}}
        for p in {[os.path.join(REPO, "solutions"), os.path.join(REPO, "nbgrader_config.py"), HOME,
                   os.path.join(HOME, ".ipython"), str(sub)]!r}:
            try:
                out[p] = sorted(os.listdir(p)) if os.path.isdir(p) else open(p).read()[:20]
            except OSError as e:
                out[p] = type(e).__name__
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2); out["net"] = "connected"
        except OSError as e:
            out["net"] = type(e).__name__
        try:
            from rnncourse.rnn import rnn_step_forward
            rnn_step_forward(None, None, None)
            out["reference"] = "ran"
        except NotImplementedError as e:
            out["reference"] = str(e)
        out["own"] = open("mine.txt").read()
        open("mine.txt", "w").write("changed in the sandbox")
        try:
            open("/usr/pwned", "w"); out["root"] = "writable"
        except OSError as e:
            out["root"] = type(e).__name__
        print(json.dumps(out))
        """)
    with Session(view, str(sub), sandbox.Limits(), hide=[REPO]) as s:
        reply = s.run_cell(probe)
    server.close()
    text = "".join(o.get("text", "") for o in reply["outputs"] if o["output_type"] == "stream")
    out = json.loads(text.strip().splitlines()[-1])
    # the grader's home shows only the way to the Python installation, if it lies there
    python_dirs = {os.path.relpath(os.path.realpath(p), HOME).split(os.sep)[0]
                   for p in (sys.prefix, sys.base_prefix, sys.executable)
                   if os.path.realpath(p).startswith(HOME + os.sep)}
    assert isinstance(out[HOME], str) or set(out[HOME]) <= python_dirs, out[HOME]
    for p in (os.path.join(REPO, "solutions"), os.path.join(HOME, ".ipython"), str(sub)):
        assert out[p] in ([], "FileNotFoundError", "PermissionError"), (p, out[p])
    assert out[os.path.join(REPO, "nbgrader_config.py")] in ("FileNotFoundError", "PermissionError")
    assert out["net"] != "connected"
    assert "rnn_step_forward" in out["reference"] and "withheld" in out["reference"]
    assert out["own"] == "my own file"
    assert out["root"] in ("OSError", "PermissionError", "FileNotFoundError")
    assert (sub / "mine.txt").read_text() == "my own file"


# ----------------------------------------------------------------------------- stashed proxies
STASH = """
    import builtins
    def rnn_backward(x):
        # graded with the grader's rnn_step_backward in place of the notebook's: keep it
        builtins._kept = rnn_step_backward
        return rnn_step_backward(x)

    def later(x):
        # another function's grading: call the kept proxy for a reference answer
        try:
            return ("answer", builtins._kept(x))
        except Exception as e:
            return ("refused", type(e).__name__, str(e))

    def forged(x):
        # past the worker's own check: find the Worker in the proxy's closure, put its call
        # counter back, and call again
        cb = builtins._kept.__closure__[0].cell_contents
        cells = dict(zip(cb.__code__.co_freevars, cb.__closure__))
        worker, serial = cells["self"].cell_contents, cells["serial"].cell_contents
        saved, worker.serial = worker.serial, serial
        try:
            return ("answer", builtins._kept(x))
        except Exception as e:
            return ("refused", type(e).__name__, str(e))
        finally:
            worker.serial = saved
    """


def test_a_kept_substitute_dies_with_its_call(tmp_path):
    """A dependent function graded with a reference served as a callback keeps the proxy and
    calls it later, plainly or after resetting the worker's counter: refused both times, and
    the grader's function is never called outside the call it was passed to."""
    from rnncourse_grader import sandbox, student_view
    from rnncourse_grader.session import Session
    view = student_view.view_for_assignment(os.path.join(REPO, "solutions"), "03_bptt",
                                            str(tmp_path / "views"))
    calls = []

    def reference(x):                  # stands for the grader's rnn_step_backward
        calls.append(x)
        return 10 * x

    def other(x):                      # what a later call legitimately gets
        return -1

    with Session(view, None, sandbox.Limits()) as s:
        assert s.run_cell(textwrap.dedent(STASH))["status"] == "ok"
        first = s.call("rnn_backward", [3], {}, substitute={"rnn_step_backward": reference})
        assert first["status"] == "ok" and first["value"] == {"t": "int", "v": 30}, first
        plain = s.call("later", [4], {})
        forged = s.call("forged", [5], {}, substitute={"helper": other})
    from rnncourse_grader import codec
    plain, forged = codec.decode(plain["value"]), codec.decode(forged["value"])
    assert plain[0] == "refused" and "only be used during the call" in plain[2], plain
    assert forged[0] == "refused" and "works only during the call it was passed to" in forged[2], \
        forged
    assert calls == [3]                # the reference ran for its own call only


# ----------------------------------------------------------------------------- own folder
DIALOG = """
import json, os, sys
from jupyter_core.paths import jupyter_config_path
from nbgrader.apps import NbGrader
from nbgrader.validator import Validator
# what nbgrader's Validate button does (server_extensions/validate_assignment/handlers.py)
paths = jupyter_config_path()
paths.insert(0, os.getcwd())
app = NbGrader()
app.config_file_paths.append(paths)
app.load_config_file()
print(json.dumps(Validator(config=app.config).validate(os.path.abspath(sys.argv[1]))))
"""


def test_a_student_folder_checks_as_the_grader_does(tmp_path):
    """A release copied where `nbgrader fetch` or an unpacked zip puts it, outside the course:
    `nbgrader validate` there and the Validate dialog's call give the summary and the cells
    `make check` gives, with no line cut."""
    import shutil
    a = "02_forward_pass"
    folder = tmp_path / "rnncourse" / a
    shutil.copytree(os.path.join(REPO, "exercises", a), folder)
    nb = str(folder / f"{a}.ipynb")
    check = run([PY, os.path.join(REPO, "tools", "course.py"), "check", nb], REPO, check=False)
    cli = run([PY, "-m", "nbgrader", "validate", f"{a}.ipynb"], str(folder), check=False)
    dialog = run([PY, "-c", DIALOG, f"{a}.ipynb"], str(folder), check=False)
    assert "VALIDATION FAILED ON 14 CELL(S)" in check.stdout and check.returncode == 1, check.stdout
    summary = check.stdout.split("\n\n")[0].split("\n", 1)[1]        # after "Checking ..."
    assert summary.startswith("Summary") and "0 of 24 points" in summary, check.stdout
    assert cli.stdout.startswith(summary + "\n\n"), cli.stdout + cli.stderr
    assert "VALIDATION FAILED ON 14 CELL(S)" in cli.stdout
    for out in (check.stdout, cli.stdout):
        assert not [line for line in out.splitlines()
                    if line.endswith("...") and not line.startswith("Checking ")], out
        assert out.count("rnn_step_forward failed on test case") >= 1
    results = json.loads(dialog.stdout.strip().splitlines()[-1])
    first, *cells = results["failed"]
    assert first["summary"] and first["source"] == summary
    assert len(cells) == 14
    assert all(c["source"].split("\n")[0] in cli.stdout for c in cells)     # the same cells
