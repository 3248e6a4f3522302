"""The operator's command-line tool (``ld-audit-admin``)."""
