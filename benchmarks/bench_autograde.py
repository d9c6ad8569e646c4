"""Seconds to autograde one student's complete set of notebooks (goal: < 60 s for the course).

    python benchmarks/bench_autograde.py [ASSIGNMENT ...] [--keep]

Builds a temporary course from solutions/ (generate_assignment), submits for one student the
released notebooks with the solutions filled in (the slowest honest case: every test runs to the
end), then times `tools/course.py grade` (autograde, one notebook after another, as the class
run does) and prints seconds per notebook and in all, then the feedback time separately.
Not a test: the figures depend on the machine and its load (the load average is printed).
"""
from __future__ import annotations

import argparse
import copy
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

import nbformat

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
COURSE_PY = os.path.join(REPO, "tools", "course.py")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def assignments():
    return sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(REPO, "solutions", "*", ""))
                  if os.path.exists(os.path.join(p, os.path.basename(os.path.dirname(p)) + ".ipynb")))


def solved(release, solution):
    gid = lambda c: c.get("metadata", {}).get("nbgrader", {}).get("grade_id")  # noqa: E731
    answers = {gid(c): c.source for c in solution.cells if gid(c)}
    nb = copy.deepcopy(release)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("solution") and gid(c) in answers:
            c.source = "\n".join(l for l in answers[gid(c)].split("\n") if l.strip() not in (BEGIN, END))
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--keep", action="store_true", help="keep the temporary course")
    opts = parser.parse_args(argv)
    names = opts.assignments or assignments()
    env = dict(os.environ, PATH=os.path.dirname(PY) + os.pathsep + os.environ.get("PATH", ""))
    tmp = tempfile.mkdtemp(prefix="rnncourse-bench-")
    course = os.path.join(tmp, "course")
    try:
        for a in names:
            shutil.copytree(os.path.join(REPO, "solutions", a), os.path.join(course, "solutions", a))
        with open(os.path.join(course, "nbgrader_config.py"), "w") as fh:
            fh.write(textwrap.dedent(f"""
                c = get_config()
                load_subconfig("nbgrader_config.py", path={REPO!r})
                c.CourseDirectory.root = {course!r}
                c.Exchange.root = {os.path.join(course, "exchange")!r}
                """))
        subprocess.run([PY, COURSE_PY, "--course", course, "exercises"], check=True, env=env,
                       capture_output=True)
        for a in names:
            d = os.path.join(course, "submitted", "student", a)
            shutil.copytree(os.path.join(course, "exercises", a), d)
            rel = nbformat.read(os.path.join(d, f"{a}.ipynb"), 4)
            sol = nbformat.read(os.path.join(course, "solutions", a, f"{a}.ipynb"), 4)
            nbformat.write(solved(rel, sol), os.path.join(d, f"{a}.ipynb"))
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"{len(names)} notebook(s), one student; load average {load:.1f} on {os.cpu_count()} CPU(s)")
        t0 = time.perf_counter()
        res = subprocess.run([PY, COURSE_PY, "--course", course, "grade", "--no-feedback", "--csv", ""],
                             env=env, capture_output=True, text=True)
        total = time.perf_counter() - t0
        per = re.findall(r"\] (\S+) student: (.*)\(([\d.]+) s\)", res.stdout)
        for a, score, secs in per:
            print(f"  {a:<20} {float(secs):6.1f} s   {score.strip()}")
        graded = sum(float(s) for *_, s in per)
        print(f"autograde: {graded:.1f} s for the notebooks, {total:.1f} s with start-up "
              f"(goal < 60 s for the whole course)")
        t0 = time.perf_counter()
        failed = []
        for a in names:
            fb = subprocess.run([PY, "-m", "nbgrader", "generate_feedback", a, "--force", "--student=student"],
                                cwd=course, env=env, capture_output=True, text=True)
            if fb.returncode != 0:
                failed.append(f"{a}: {fb.stderr[-1000:]}")
        print(f"feedback:  {time.perf_counter() - t0:.1f} s for {len(names)} report(s) "
              f"(one nbgrader process each)" + ("".join("\nFAILED " + f for f in failed)))
        if res.returncode != 0:
            print(res.stdout + res.stderr)
            return 1
        return 0
    finally:
        if opts.keep:
            print(f"course kept in {course}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
