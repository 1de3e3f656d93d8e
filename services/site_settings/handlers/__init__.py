"""The site settings' own pages and files (the settings form itself is administration's)."""
