"""Notebooks run top to bottom with papermill in the grading sandbox: lessons checked before
students see them, assignment sources checked at upload (issue 22)."""
