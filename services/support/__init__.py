"""Help and support: help pages written in Markdown in the repository (``help/*.md``),
searchable; and support requests that become tickets in the administrators' queue."""
