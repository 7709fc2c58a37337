"""Database helpers shared by the domain apps (below all of them: it imports none)."""
