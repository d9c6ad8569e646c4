"""Trusted grading of the course's notebooks: student code in a sandbox, scores decided outside it.

``rnncourse.grading`` is what a student's notebook imports to check its own work interactively.
When a notebook is *graded* (``make grade``, ``make check``, JupyterLab's Validate button,
formgrader's autograde), none of the test cells run in the student's process.  Instead:

* :mod:`rnncourse_grader.sandbox` starts :mod:`rnncourse_grader.worker` under bubblewrap
  (``bwrap``): read-only root, private /tmp and home (tmpfs), no network, own PID namespace,
  a different user id when the grader is root, resource limits (memory, CPU time, processes,
  file size, wall clock).  The course directory, the grader's home and every other student's
  files are not visible.
* :mod:`rnncourse_grader.student_view` builds the copy of ``rnncourse`` the sandbox sees: the
  functions an assignment grades (and everything it does not give the student) are replaced by
  stubs that raise a clear error, so delegating to the reference fails instead of being detected.
* :mod:`rnncourse_grader.harness` (the grader's process) runs the notebook's answer and code cells
  in the worker, one by one, and at each grade cell builds the test inputs from the instructor's
  ``checks.py``, computes the expected values with the reference, calls the student's function
  across the process boundary, compares, and writes the cell's output itself.
* :mod:`rnncourse_grader.codec` is the only format that crosses the boundary: JSON trees whose
  arrays are ``.npy`` bytes (``allow_pickle=False``), rebuilt on the trusted side into the
  course's NamedTuples; anything else becomes an "unsupported value" that fails its test case.

Protocol between the harness and the worker
-------------------------------------------
Messages are UTF-8 JSON objects, each preceded by its length as 8 ASCII hex digits.  The worker
reads requests on its original stdin and writes replies on its original stdout; at start it moves
both to private descriptors and points fd 0 at /dev/null and fds 1 and 2 at its stderr pipe
(the harness keeps at most 64 KiB of it), so nothing a student prints can reach the channel.

``{"op": "run", "code": str, "time_limit": float}``
    Run one cell with IPython (magics work) and reply ``{"status": "ok"|"error",
    "outputs": [nbformat v4 output dicts]}`` (streams, ``execute_result``, ``display_data``
    with ``text/plain``/``image/png``, ``error`` with ``ename``, ``evalue``, ``traceback``).
``{"op": "lookup", "name": str}``
    ``{"defined": bool, "callable": bool, "type": str, "module": str|None, "value": tree|None}``;
    ``value`` is the codec tree of a non-callable value (None if it cannot be encoded).
``{"op": "call", "name": str, "args": [tree], "kwargs": {str: tree}, "time_limit": float}``
    Call the notebook's global ``name`` on decoded copies of the arguments (optional
    ``"substitute": {global: tree}``: globals the notebook sees instead of its own during this
    call, e.g. the grader's ``rnn_step_forward`` while ``rnn_forward`` is graded).  While it runs, the
    worker may send ``{"op": "callback", "id": int, "args": [tree], "kwargs": {}}`` (a callable
    argument, encoded as ``{"t": "callable", "id": int}`` with an id no other call of the
    session had, was called) and waits for
    ``{"status": "ok", "value": tree}`` or ``{"status": "error", "ename": str, "evalue": str}``.
    Final reply: ``{"status": "ok", "value": tree, "mutated": str|None, "notes": [str]}`` or
    ``{"status": "error", "ename": str, "evalue": str, "frames": [str], "notes": [str]}``
    (``ename`` is ``"TimeLimit"`` when ``time_limit`` seconds passed).
``{"op": "exit"}``
    The worker exits.
"""
