"""Assessment: notebook assignments, submissions, autograding, manual grading, rubrics,
feedback release, grade categories and the gradebook.
"""
