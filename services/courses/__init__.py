"""Courses: the catalog, categories, authoring, enrollment, course staff and instructors'
figures.
"""
