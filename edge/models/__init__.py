"""Package data: the shipped default model (default/) and the demo's seizure recording; see edge.default_model."""
