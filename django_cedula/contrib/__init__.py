"""Optional integrations with other packages (each needs its extra installed)."""
