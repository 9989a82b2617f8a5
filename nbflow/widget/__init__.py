"""The lineage panel: an anywidget showing the asset graph and live run states."""
