"""Where samples come from: the source protocol, live LSL inlets, file sources and replay."""
