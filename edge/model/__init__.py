"""The model: bundle files and their trust (checksums, signatures), the spec, engine and backends."""
