"""Operations: backups that restore (``backup``, ``restore``, ``backup_jobs``), the metrics
an operator scrapes (``metrics``) and the files that deploy CourseHub on many machines
(``deploy/``: Zero to JupyterHub Helm values, a Grafana dashboard)."""
