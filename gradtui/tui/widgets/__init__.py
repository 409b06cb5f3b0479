"""One panel a file. Each draws from the latest Snapshot (and History) alone, as its own Rich renderable."""
