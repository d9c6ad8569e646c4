"""Sphinx extension: keep the built book readable offline and free of console errors.

* Before Sphinx validates ``html_static_path``, make sure the local MathJax there exists
  (``tools/fetch_mathjax.py``: pinned npm tarball, sha512-checked, cached in
  ``_build/.mathjax``), so a plain ``jupyter-book build .`` works as well as ``make book``.
* Refuse a ``mathjax_path`` that points at a network host: the book must not need one.
* Remove duplicated scripts: with Sphinx 7.4 every page of a default Jupyter Book 1.0.4
  declared sphinx-thebe's ``const THEBE_JS_URL`` twice, a JavaScript ``SyntaxError``
  (see :func:`dedupe_scripts`).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _load_fetcher(srcdir: Path):
    path = srcdir / "tools" / "fetch_mathjax.py"
    spec = importlib.util.spec_from_file_location("_rnncourse_fetch_mathjax", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_mathjax(app: Sphinx, config) -> None:
    mathjax_path = config.mathjax_path or ""
    if "://" in mathjax_path or mathjax_path.startswith("//"):
        raise ConfigError(f"mathjax_path={mathjax_path!r} loads MathJax from the network; "
                          "the book must render math offline (see tools/fetch_mathjax.py)")
    srcdir = Path(app.srcdir)
    fetcher = _load_fetcher(srcdir)
    wanted = [srcdir / p for p in config.html_static_path]
    default_site = fetcher.DEFAULT_CACHE / "site"
    if any(p.resolve() == default_site.resolve() for p in wanted):
        fetcher.ensure(log=lambda msg: logger.info(msg))
        if not (default_site / mathjax_path).is_file():
            raise ConfigError(f"mathjax_path={mathjax_path!r} is not in {default_site}")


def _dedupe(assets: list) -> None:
    seen, kept = set(), []
    for js in assets:
        key = (getattr(js, "filename", None) or "", js.priority,
               tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    assets[:] = kept


def dedupe_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Drop repeated scripts (keep the first) before a page is rendered.

    Sphinx 7.4 registers an inline script added after ``Builder.init()`` twice: once as
    ``_JavaScript(None, body=...)`` and again, in ``prepare_writing``, as
    ``_JavaScript('', body=...)``; the two do not compare equal, so pages carried
    sphinx-thebe's ``const THEBE_JS_URL`` (a SyntaxError) and the togglebutton selector twice.
    """
    builder = app.builder
    for name in ("_orig_js_files", "_js_files"):
        assets = getattr(builder, name, None)
        if isinstance(assets, list):
            _dedupe(assets)
    if isinstance(context.get("script_files"), list):
        _dedupe(context["script_files"])


def setup(app: Sphinx):
    # Before sphinx.builders.html's validate_html_static_path (default priority 500).
    app.connect("config-inited", ensure_mathjax, priority=100)
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
