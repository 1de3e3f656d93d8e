"""Only a work-around; pyproject.toml holds all of CourseHub's packaging.

setuptools means to put data files into editable wheels too, but asks the distribution
``has_data()``, which does not exist (the method is ``has_data_files()``), so
``pip install -e .`` silently skips them. CourseHub's extensions enable themselves through
data files (pyproject.toml, ``[tool.setuptools.data-files]``), so give it the name it asks for.
"""

from setuptools import setup
from setuptools.dist import Distribution

if not hasattr(Distribution, "has_data"):
    Distribution.has_data = Distribution.has_data_files  # type: ignore[attr-defined]

setup()
