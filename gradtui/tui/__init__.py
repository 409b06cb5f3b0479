"""The Textual dashboard. Panels draw only from the latest Snapshot (and the History built from snapshots)."""
