"""Background jobs: the one way to defer a job (procrastinate), its schema, and the worker's
shared context.
"""
