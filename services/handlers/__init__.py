"""HTTP handlers of the course service, one module per resource."""
