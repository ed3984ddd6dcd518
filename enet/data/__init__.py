"""Tabular data: chunked readers, column roles and validation."""
