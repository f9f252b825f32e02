"""The signal chain of one stream: channel map, quality masks, resampler, ring buffer, windows."""
