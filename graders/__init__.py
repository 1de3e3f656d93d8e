"""CourseHub's autograding engine: nbgrader assignments graded in a sandbox.

A pure library (no database, no web server); the job queue calls it. The public API:

- ``coursehub.graders.limits.GradingLimits``
- ``coursehub.graders.assignment_notebooks``: ``read_source``, ``student_version``,
  ``read_submission``, ``InvalidNotebook``, ``SourceAssignment``, ``GradeCellSpec``
- ``coursehub.graders.autograde``: ``grade``, ``GradeResult`` (``flags`` for staff only;
  ``student_json()`` for the student), ``CellGrade``, ``InfrastructureFault``
- ``coursehub.graders.autotests``: ``expand_autotests``, ``expand_autotests_sandboxed``
  (nbgrader's AUTOTEST directives, expanded at release with ``InstantiateTests``)
- ``coursehub.graders.command``: ``main(argv)`` and ``grade_files`` behind
  ``coursehub grade SOURCE.ipynb SUBMISSION.ipynb [--json]``

The steps of ``grade``, one module each: ``rebuild`` (restore the instructor's cells),
``sandbox_job`` with ``job_cgroup`` (bubblewrap, cgroups, deadline), ``runner`` with its
``judge`` and ``grading_kernel`` (inside the sandbox; ``judge_wire`` is what crosses between
them; ``judge`` holds the threat model), ``outcome``, ``verdict``, ``suspicion`` and
``feedback`` (outside it). This package imports nothing here, so that the runner started in
the sandbox loads only what it needs.
"""
