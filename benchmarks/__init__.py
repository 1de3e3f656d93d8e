"""CourseHub's benchmarks: each scenario measured side by side with its baselines.

Run ``.venv/bin/python -m benchmarks --help``; benchmarks/README.md explains the output.
"""
