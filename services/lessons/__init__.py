"""Lessons: who may open which lesson, the lesson server (Voilà) and its kernels, and lessons
in JupyterLab.
"""
