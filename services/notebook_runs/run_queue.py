"""The job queue of whole-notebook runs in the background: report runs and the pre-generated
variants of calculated quiz questions. They have a queue of their own, beside grading's, so
that a report running for its full time limit never holds a worker that students' submissions
wait for: ``coursehub worker`` serves it with a worker loop of its own."""

NOTEBOOK_RUNS_QUEUE = "notebook-runs"
