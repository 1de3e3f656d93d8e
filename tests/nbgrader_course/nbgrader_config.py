# An nbgrader course as an instructor keeps it: tests/test_nbgrader_import.py copies this
# folder, adds students and submissions and runs nbgrader's own commands on it.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "adding-up"
