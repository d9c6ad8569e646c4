#!/usr/bin/env python3
"""Fetch a pinned MathJax 3 from the npm registry so the book renders math offline.

Sphinx loads MathJax from a CDN by default; a reader without network then sees raw TeX.
This script downloads the npm tarball of ``mathjax@3.2.2`` once, checks it against the
``dist.integrity`` (sha512) that the registry publishes for that version, and extracts the
browser build (``es5/``: the ``tex-chtml``/``tex-svg`` components, the extensions that
MathJax loads on demand, and the CHTML web fonts) to::

    _build/.mathjax/site/mathjax/es5/...

``_config.yml`` lists ``_build/.mathjax/site`` in ``html_static_path`` (so the built book has
``_static/mathjax/es5/tex-chtml.js``) and sets ``mathjax_path: mathjax/es5/tex-chtml.js``.
Sphinx reads a relative ``mathjax_path`` as relative to ``_static/`` and writes it as a
page-relative link (``../_static/mathjax/...`` from ``book/*.html``), so the book works from
``file://``, from ``http.server`` and from any sub-path such as a GitHub Pages project site.

Standard library only.  Re-running is a no-op once the files are in place.  On a machine
without access to the registry, put the tarball somewhere and point ``RNNCOURSE_MATHJAX_TGZ``
(or ``--tarball``) at it; its integrity is checked all the same.

Usage::

    python tools/fetch_mathjax.py [--dest DIR] [--tarball FILE] [--force]
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

VERSION = "3.2.2"
TARBALL_URL = f"https://registry.npmjs.org/mathjax/-/mathjax-{VERSION}.tgz"
# ``dist.integrity`` of https://registry.npmjs.org/mathjax/3.2.2 (npm's Subresource Integrity).
INTEGRITY = ("sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZG"
             "JvtRZM1vO+geW0OhGw==")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = ROOT / "_build" / ".mathjax"
# Only what a browser needs: two combined components, the core/loader (for on-demand
# components), the input extensions (autoload), output fonts, menu and accessibility parts.
KEEP_FILES = {"LICENSE", "es5/tex-chtml.js", "es5/tex-svg.js", "es5/startup.js", "es5/core.js",
              "es5/loader.js"}
KEEP_DIRS = ("es5/input/", "es5/output/", "es5/ui/", "es5/a11y/", "es5/sre/", "es5/adaptors/")
ENTRY = "mathjax/es5/tex-chtml.js"      # relative to the extra path; mathjax_path in _config.yml


class IntegrityError(RuntimeError):
    pass


def check_integrity(data: bytes, integrity: str = INTEGRITY) -> None:
    algo, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if digest != expected:
        raise IntegrityError(f"mathjax-{VERSION}.tgz: {algo} is {digest}, expected {expected} "
                             "(download corrupted or tampered with)")


def download(url: str = TARBALL_URL, attempts: int = 3, timeout: float = 60.0) -> bytes:
    last = None
    for i in range(attempts):
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "rnncourse-fetch-mathjax"})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.read()
        except OSError as err:                     # URLError, timeouts, resets
            last = err
            time.sleep(1 + 2 * i)
    raise RuntimeError(f"could not download {url}: {last}\n"
                       "Without network access to the npm registry, download that file "
                       "elsewhere and set RNNCOURSE_MATHJAX_TGZ=/path/to/mathjax-"
                       f"{VERSION}.tgz") from last


def _wanted(name: str) -> bool:
    return name in KEEP_FILES or name.startswith(KEEP_DIRS)


def extract(data: bytes, site: Path) -> int:
    """Extract the wanted part of ``package/es5`` into ``site/mathjax/es5``; return file count."""
    target = site / "mathjax"
    tmp = Path(tempfile.mkdtemp(prefix=".mathjax-", dir=site.parent))
    count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                name = member.name
                if not name.startswith("package/") or not member.isfile():
                    continue
                rel = name[len("package/"):]
                parts = Path(rel).parts
                if ".." in parts or Path(rel).is_absolute() or not _wanted(rel):
                    continue
                out = tmp / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                count += 1
        (tmp / "README.txt").write_text(
            f"MathJax {VERSION} (https://www.mathjax.org), Apache License 2.0 (see LICENSE).\n"
            f"Unpacked from {TARBALL_URL} by tools/fetch_mathjax.py.\n", encoding="utf8")
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return count


def ensure(cache: Path = DEFAULT_CACHE, tarball: str | None = None, force: bool = False,
           log=print) -> Path:
    """Make sure ``cache/site/mathjax/es5/tex-chtml.js`` exists; return the ``site`` dir."""
    cache = Path(cache)
    site = cache / "site"
    stamp = site / "mathjax" / f".version-{VERSION}"
    if stamp.exists() and (site / ENTRY).exists() and not force:
        return site
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / f"mathjax-{VERSION}.tgz"
    tarball = tarball or os.environ.get("RNNCOURSE_MATHJAX_TGZ")
    data = None
    if tarball:
        data = Path(tarball).read_bytes()
    elif tgz.exists() and not force:
        data = tgz.read_bytes()
        try:
            check_integrity(data)
        except IntegrityError:
            data = None                            # a broken cache: fetch again
    if data is None:
        log(f"fetch_mathjax: downloading {TARBALL_URL}")
        data = download()
    check_integrity(data)
    if not tarball:
        tgz.write_bytes(data)
    site.mkdir(parents=True, exist_ok=True)
    n = extract(data, site)
    stamp.write_text(INTEGRITY + "\n", encoding="utf8")
    log(f"fetch_mathjax: MathJax {VERSION} ({n} files, integrity checked) in {site / 'mathjax'}")
    return site


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dest", default=str(DEFAULT_CACHE),
                    help="cache directory (default: _build/.mathjax)")
    ap.add_argument("--tarball", help="use this mathjax-%s.tgz instead of downloading" % VERSION)
    ap.add_argument("--force", action="store_true", help="download and extract again")
    args = ap.parse_args(argv)
    try:
        ensure(Path(args.dest), args.tarball, args.force)
    except (RuntimeError, OSError) as err:
        print(f"fetch_mathjax: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
