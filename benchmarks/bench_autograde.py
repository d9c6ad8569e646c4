"""Grading a class: stock nbgrader against this grader (1 and 2 workers, a local Dask cluster).

    python benchmarks/bench_autograde.py [--students 4] [--assignments 9] [--keep]
    make bench-grade [BENCH_ARGS="--students 10"]

Builds one temporary class from solutions/: ``--students`` students x the first
``--assignments`` assignments, the students dealt in turn the kinds "correct" (the solution's
answers in the release), "blank" (the untouched release), "partly" (every answer but the first)
and "hostile" (the first answer cell replaced by ``import os; os._exit(3)``, which kills its
process: the grader restarts a fresh one and grades the rest).  Each run below starts from a
copy of the same course with a clean gradebook (assignments registered, no grades):

(a) stock ``nbgrader autograde <assignment>`` for every assignment, one after the other (the
    peer: nbgrader's only way to grade a class, one process, one notebook at a time);
(b) ``tools/course.py grade --workers 1``;  (c) ``--workers 2``;
(d) ``tools/course.py grade --scheduler ...`` on a Dask scheduler with 2 local ``dask worker``
    processes started by the benchmark (tests/servers.py).

It prints notebooks per minute for each and the ratio to (a), then checks that (a) to (d)
recorded the same score for every submission (exit status 1 if not).  Not a test and no timing
asserts: the figures depend on the machine and its load (the load average is printed).
"""
from __future__ import annotations

import argparse
import copy
import glob
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from rnncourse_grader import testing  # noqa: E402  (the temporary courses of the tests)

PY = sys.executable
BIN = os.path.dirname(PY)
COURSE_PY = testing.COURSE_PY
KINDS = ("correct", "blank", "partly", "hostile")


def assignments():
    return sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(REPO, "solutions", "*", ""))
                  if os.path.exists(os.path.join(p, os.path.basename(os.path.dirname(p)) + ".ipynb")))


def submission(release, solution, kind):
    """The release with the solution's answers filled in as ``kind`` says."""
    gid = testing.grade_id
    answers = {gid(c): c.source for c in solution.cells if gid(c)}
    nb = copy.deepcopy(release)
    cells = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
             and gid(c) in answers]
    if kind == "blank":
        return nb
    for k, c in enumerate(cells):
        if kind == "partly" and k == 0:
            continue
        c.source = "\n".join(line for line in answers[gid(c)].split("\n")
                             if line.strip() not in (testing.BEGIN, testing.END))
    if kind == "hostile" and cells:
        cells[0].source = "import os\nos._exit(3)\n"
    return nb


def env():
    e = dict(os.environ)
    e["PATH"] = BIN + os.pathsep + e.get("PATH", "")
    e.setdefault("OPENBLAS_NUM_THREADS", "1")
    e.setdefault("OMP_NUM_THREADS", "1")
    e["PYTHONWARNINGS"] = "ignore"
    return e


def build(course, names, n_students):
    """The template course at ``course`` (``testing.make_course``, the repository's cell timeout)
    with ``n_students`` submissions of each of ``names``, dealt the KINDS in turn; their ids."""
    testing.make_course(course, names, cell_timeout=None, python=PY)
    students = [f"s{k:03d}_{KINDS[k % len(KINDS)]}" for k in range(n_students)]
    for a in names:
        release, solution = testing.notebooks(course, a)
        for k, s in enumerate(students):
            testing.submit(course, s, a, submission(release, solution, KINDS[k % len(KINDS)]))
    return students


def scores(course):
    con = sqlite3.connect(os.path.join(course, "gradebook.db"))
    rows = con.execute(
        "SELECT a.name, st.id, SUM(COALESCE(g.manual_score, g.auto_score, 0)) "
        "FROM grade g JOIN submitted_notebook n ON g.notebook_id = n.id "
        "JOIN submitted_assignment sa ON n.assignment_id = sa.id "
        "JOIN assignment a ON sa.assignment_id = a.id JOIN student st ON sa.student_id = st.id "
        "JOIN grade_cells gc ON g.cell_id = gc.id GROUP BY a.name, st.id").fetchall()
    con.close()
    return {(a, s): round(float(v), 6) for a, s, v in rows}


def timed(args, cwd):
    t0 = time.perf_counter()
    res = subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True)
    return time.perf_counter() - t0, res


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=4, help="students in the class (default 4)")
    parser.add_argument("--assignments", type=int, default=9, help="the first N assignments (default 9)")
    parser.add_argument("--skip", default="", help="comma-separated runs to leave out (a,b,c,d)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary courses")
    opts = parser.parse_args(argv)
    names = assignments()[:opts.assignments]
    skip = set(opts.skip.split(",")) - {""}
    tmp = tempfile.mkdtemp(prefix="rnncourse-bench-")
    template = os.path.join(tmp, "template")
    sys.path.insert(0, os.path.join(REPO, "tests"))
    import servers
    results, recorded, problems = [], {}, []
    try:
        students = build(template, names, opts.students)
        n = len(names) * len(students)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"{len(students)} students x {len(names)} assignments = {n} notebooks "
              f"({', '.join(KINDS)} in turn); load average {load:.1f} on {os.cpu_count()} CPU(s)", flush=True)
        grade = [PY, COURSE_PY, "--course", None, "grade", "--no-feedback", "--csv", ""]

        def course_grade(course, *extra):
            args = list(grade)
            args[3] = course
            return timed(args + list(extra), REPO)

        def stock(course):
            total, out = 0.0, []
            for a in names:
                secs, res = timed([PY, "-m", "nbgrader", "autograde", a], course)
                total += secs
                out.append(res)
                if res.returncode != 0:
                    break
            return total, out[-1]

        runs = [("a", "stock nbgrader autograde, sequential", stock),
                ("b", "course.py grade --workers 1", lambda c: course_grade(c, "--workers", "1")),
                ("c", "course.py grade --workers 2", lambda c: course_grade(c, "--workers", "2"))]
        for key, label, fn in runs:
            if key in skip:
                continue
            course = testing.clone(template, os.path.join(tmp, key), cell_timeout=None)
            secs, res = fn(course)
            if res.returncode not in (0, 1) or not scores(course):
                problems.append(f"({key}) {label} failed ({res.returncode}):\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
            results.append((key, label, secs))
            recorded[key] = scores(course)
            print(f"  ({key}) {label}: {secs:.1f} s (load average {os.getloadavg()[0]:.1f} after)", flush=True)
        if "d" not in skip:
            course = testing.clone(template, os.path.join(tmp, "d"), cell_timeout=None)
            with servers.dask_cluster(2, env=env()) as (address, _procs):
                secs, res = course_grade(course, "--scheduler", address)
            label = "course.py grade --scheduler (Dask, 2 local workers)"
            if res.returncode not in (0, 1) or not scores(course):
                problems.append(f"(d) failed ({res.returncode}):\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
            results.append(("d", label, secs))
            recorded["d"] = scores(course)
            print(f"  (d) {label}: {secs:.1f} s (load average {os.getloadavg()[0]:.1f} after)", flush=True)

        base = next((secs for key, _, secs in results if key == "a"), None)
        print(f"\n| run | seconds | notebooks/min | ratio to (a) |\n|---|---:|---:|---:|")
        for key, label, secs in results:
            ratio = f"{base / secs:.2f}x" if base else "-"
            print(f"| ({key}) {label} | {secs:.1f} | {60 * n / secs:.1f} | {ratio} |")
        ref_key = next(iter(recorded), None)
        same = True
        for key, got in recorded.items():
            if got != recorded[ref_key]:
                same = False
                diff = sorted(k for k in set(got) | set(recorded[ref_key]) if got.get(k) != recorded[ref_key].get(k))
                problems.append(f"({key}) scores differ from ({ref_key}) for {diff[:10]}")
        print(f"\nsame score for every submission in {', '.join(f'({k})' for k in recorded)}: "
              f"{'yes' if same else 'NO'} ({len(recorded.get(ref_key, {}))} submissions, mean score "
              f"{sum(recorded[ref_key].values()) / max(1, len(recorded[ref_key])):.2f})" if ref_key else "")
        for p in problems:
            print("PROBLEM:", p)
        return 1 if problems else 0
    finally:
        if opts.keep:
            print(f"courses kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
