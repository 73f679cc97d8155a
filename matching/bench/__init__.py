"""Scripts the linkage benchmark runs in its own venv (var/bench-venv), never imported here."""
