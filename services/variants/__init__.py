"""Per-student variants of an assignment: a source notebook's papermill ``parameters`` cell,
the instructor's rule for drawing values, each student's recorded values injected into their
copy and into grading."""
