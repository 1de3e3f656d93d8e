"""Certificate pages and API: the rule for staff, "My certificates", downloads, and public
verification."""
