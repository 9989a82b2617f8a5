"""Running steps: executors, I/O managers and the asset runner. Meets the store only via events."""
