"""Pages of help and support: ``/help``, ``/support`` and the admins' ``/admin/support``."""
