"""``make lock``: the pinned requirements files get the exact versions installed in the venv.

    python tools/lock.py [--check] [FILE ...]     (default: requirements.txt requirements-test.txt)

Every ``name==version`` line of each file is rewritten with the version ``pip freeze`` reports
for that distribution in this Python's environment (a local label such as ``+cpu`` of an
installed version equal to the pinned one is not written: ``torch==2.13.0`` already matches
``2.13.0+cpu``); comments, ``-r`` lines and the order stay.
Which file a package belongs to is decided by hand: a distribution the environment has but no
file pins is listed at the end (add it to the right file), as is a pinned one the environment
lacks (kept as it is).  ``--check`` changes nothing and exits 1 if a file would change.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?P<rest>.*)$")


def canonical(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed(python: str = sys.executable) -> dict:
    """{canonical name: version} of ``pip freeze`` (editable installs and URLs left out)."""
    out = subprocess.run([python, "-m", "pip", "--disable-pip-version-check", "freeze", "--all",
                          "--exclude-editable"], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        m = PIN.match(line.strip())
        if m:
            found[canonical(m["name"])] = m["version"]
    return found


def relock(text: str, versions: dict) -> tuple:
    """(``text`` with every pin set to ``versions``, canonical names pinned here, names missing)."""
    lines, pinned, missing = [], set(), []
    for line in text.splitlines(keepends=True):
        m = PIN.match(line)
        if m:
            name = canonical(m["name"])
            pinned.add(name)
            if name not in versions:
                missing.append(m["name"])
            elif versions[name].split("+")[0] != m["version"]:
                end = "\n" if line.endswith("\n") else ""
                line = f"{m['name']}=={versions[name]}{m['rest'].rstrip(chr(10))}{end}"
        lines.append(line)
    return "".join(lines), pinned, missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", default=["requirements.txt", "requirements-test.txt"])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    opts = parser.parse_args(argv)
    versions = installed()
    pinned, changed = set(), []
    for name in opts.files:
        path = os.path.join(ROOT, name)
        with open(path) as fh:
            old = fh.read()
        new, here, missing = relock(old, versions)
        pinned |= here
        for m in missing:
            print(f"{name}: {m} is pinned but not installed in this environment (kept)")
        if new != old:
            changed.append(name)
            if not opts.check:
                with open(path, "w") as fh:
                    fh.write(new)
    unpinned = sorted(set(versions) - pinned - {"rnncourse", "pip"})
    if unpinned:
        print("installed but pinned nowhere (add each to the right file): "
              + ", ".join(f"{n}=={versions[n]}" for n in unpinned))
    verb = "would change" if opts.check else "updated"
    print(f"{verb}: {', '.join(changed)}" if changed else "pins already match the environment")
    return 1 if (opts.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
