"""Sphinx extension: the ``exercise-notebook`` directive, a chapter's link to its graded notebook.

Usage in a MyST page::

    ```{exercise-notebook} 02_forward_pass
    ```

renders a box "Graded exercise: <title>" (the title is the notebook's first heading, or the
``:title:`` option) with

* a download link to ``exercises/<stem>/<stem>.ipynb`` and to ``exercises/<stem>.zip`` (the
  notebook with the files that its test cells need, such as ``checks.py``); at the end of
  the build every released ``exercises/<stem>/`` folder is copied into the HTML output under
  the same path and zipped, so the links are plain relative links that work from
  ``file://``, from a local server and when the HTML is published;
* how to work on it: ``make lab`` and ``make check NB=...``.

While ``exercises/<stem>/<stem>.ipynb`` does not exist the box says, without a Sphinx warning,
that the notebook is not released yet; the page depends on that path, so it is rebuilt on
every build until the notebook appears, and the links appear with it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.osutil import relative_uri

logger = logging.getLogger(__name__)

EXERCISES = "exercises"
_STEM = re.compile(r"^[A-Za-z0-9_.-]+$")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".DS_Store")


class exercise_link(nodes.reference):
    """A link to a file under ``exercises/`` given relative to the HTML root (``rootpath``);
    turned into a page-relative ``refuri`` once the builder is known."""


def notebook_title(path: Path) -> str | None:
    """First Markdown heading of a notebook, without the leading #s, or None."""
    try:
        nb = json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError):
        return None
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        for line in src.splitlines():
            m = re.match(r"^\s*#{1,6}\s+(.*\S)\s*$", line)
            if m:
                return m.group(1)
    return None


def _literal_para(prefix: str, code: str, suffix: str = "") -> nodes.paragraph:
    para = nodes.paragraph()
    para += nodes.Text(prefix)
    para += nodes.literal(code, code)
    if suffix:
        para += nodes.Text(suffix)
    return para


class ExerciseNotebook(SphinxDirective):
    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec = {"title": directives.unchanged}

    def run(self):
        stem = self.arguments[0].strip()
        if not _STEM.match(stem):
            raise self.error(f"exercise-notebook: {stem!r} is not a notebook name "
                             "(letters, digits, '_', '-', '.')")
        rel_nb = f"{EXERCISES}/{stem}/{stem}.ipynb"
        nb_path = Path(self.env.srcdir) / rel_nb
        # Rebuild this page when the notebook changes or appears (Sphinx treats a missing
        # dependency as "changed", so an unreleased notebook is looked for on every build).
        self.env.note_dependency(str(nb_path))
        exists = nb_path.is_file()

        title = self.options.get("title") or (notebook_title(nb_path) if exists else None) or stem
        box = nodes.admonition(classes=["exercise-notebook", "tip"])
        box += nodes.title("", f"Graded exercise: {title}")
        self.set_source_info(box)

        if not exists:
            note = nodes.paragraph()
            note += nodes.Text("The graded notebook for this chapter, ")
            note += nodes.literal(rel_nb, rel_nb)
            note += nodes.Text(", is not released yet. It will be linked here, ready to "
                               "download, as soon as it is published in the repository's ")
            note += nodes.literal(f"{EXERCISES}/", f"{EXERCISES}/")
            note += nodes.Text(" folder.")
            box += note
            box["classes"].append("exercise-not-released")
            return [box]

        links = nodes.paragraph()
        links += nodes.Text("Download: ")
        links += self._link(f"{stem}.ipynb", rel_nb)
        links += nodes.Text(" (the notebook) or ")
        links += self._link(f"{stem}.zip", f"{EXERCISES}/{stem}.zip")
        links += nodes.Text(" (the notebook with the checks its test cells use; keep them "
                            "in one folder).")
        box += links

        steps = nodes.bullet_list()
        items = [
            _literal_para("In a clone of the repository, ", "make lab",
                          " opens the exercises in JupyterLab, with nbgrader's Validate "
                          "button."),
            _literal_para("", f"make check NB={rel_nb}",
                          " runs the same tests as the grader and prints your points; "
                          "a failing test says what it expected and names common mistakes."),
            _literal_para("Implement the functions yourself: an answer that calls ",
                          "rnncourse", "'s own function scores zero for that part."),
        ]
        for para in items:
            item = nodes.list_item()
            item += para
            steps += item
        box += steps
        return [box]

    def _link(self, text: str, rootpath: str) -> nodes.Node:
        ref = exercise_link("", "", internal=False, rootpath=rootpath,
                            classes=["exercise-download"])
        ref += nodes.literal(text, text)
        ref["refuri"] = rootpath            # replaced by a page-relative URI when resolved
        return ref


def resolve_links(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    try:
        base = app.builder.get_target_uri(docname)
    except Exception:                      # builders without URIs (e.g. linkcheck)
        return
    for node in doctree.findall(exercise_link):
        node["refuri"] = relative_uri(base, node["rootpath"])


def copy_exercises(app: Sphinx, exception) -> None:
    """Copy each released ``exercises/<stem>/`` into the HTML output and zip it."""
    if exception is not None or app.builder.format != "html":
        return
    src_root = Path(app.srcdir) / EXERCISES
    if not src_root.is_dir():
        return
    out_root = Path(app.outdir) / EXERCISES
    for folder in sorted(p for p in src_root.iterdir() if p.is_dir()):
        if not (folder / f"{folder.name}.ipynb").is_file():
            continue
        target = out_root / folder.name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(folder, target, ignore=_IGNORE)
        _zip_folder(target, out_root / f"{folder.name}.zip")


def _zip_folder(folder: Path, zip_path: Path) -> None:
    """A reproducible zip (sorted names, fixed timestamps) with ``<stem>/`` at its root."""
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            arc = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            info = zipfile.ZipInfo(arc, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    os.replace(tmp, zip_path)


def visit_exercise_link(self, node):
    self.visit_reference(node)


def depart_exercise_link(self, node):
    self.depart_reference(node)


def setup(app: Sphinx):
    app.add_node(exercise_link,
                 html=(visit_exercise_link, depart_exercise_link),
                 latex=(visit_exercise_link, depart_exercise_link),
                 text=(visit_exercise_link, depart_exercise_link))
    app.add_directive("exercise-notebook", ExerciseNotebook)
    app.connect("doctree-resolved", resolve_links)
    app.connect("build-finished", copy_exercises)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
