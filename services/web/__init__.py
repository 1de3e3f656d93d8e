"""The web layer every domain's handlers stand on: the base handler, the staff base, hub sign-
in, status, templates, static files and the OpenAPI document.
"""
