"""nbgrader settings for checking this assignment in its own folder (wherever it was fetched,
unpacked or copied).  Written into every exercises/<assignment>/ by the course's
`make exercises` (tools/course.py); see the students' guide, "Check the notebook".

`nbgrader validate <notebook>.ipynb` run in this folder, and the Validate button of a Jupyter
started in this folder, then run the check the grader runs (as `make check` does): the
notebook's code in the sandbox, the tests in the checker's process from the course's own copy,
a summary first, every message whole.  That needs the course repository, found through the
installed `rnncourse` package (`pip install -e .` in a clone).  Without it, the notebook's own
test cells run, still with every line of their messages whole.
"""
import os
import sys

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

# nbgrader cuts every line longer than Validator.width - 3 (90 by default); the course's
# messages are wrapped at 88 and indented by 4, the first one after "GradingFailure: ".
c.Validator.width = 120

try:
    import rnncourse
    _root = os.path.dirname(os.path.dirname(os.path.abspath(rnncourse.__file__)))
except ImportError:
    _root = None
if _root and os.path.isfile(os.path.join(_root, "rnncourse_grader", "nbgrader_plugin.py")) \
        and os.path.isdir(os.path.join(_root, "solutions")):
    if _root not in sys.path:
        sys.path.insert(0, _root)
    import nbgrader.validator as _validator
    from nbgrader.preprocessors import ClearOutput
    from rnncourse_grader import summary as _summary
    from rnncourse_grader.nbgrader_plugin import SandboxedExecute

    c.SandboxedExecute.course_root = _root
    c.CourseDirectory.source_directory = "solutions"     # where the course's copy is
    c.CourseDirectory.release_directory = "exercises"
    _validator.Validator.class_traits()["preprocessors"].default_value = [ClearOutput,
                                                                          SandboxedExecute]
    _summary.install(_validator.Validator)
