"""Pure model: specs, registry, graph, selection, states, events, versions (stdlib only)."""
