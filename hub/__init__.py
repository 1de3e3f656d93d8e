"""CourseHub JupyterHub customisation: authenticator, spawner, templates and shared constants."""
