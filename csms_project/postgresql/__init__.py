"""Django's PostgreSQL backend, failing fast while the database cannot be reached (base.py)."""
