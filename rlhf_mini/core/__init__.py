"""The plumbing every layer uses: array namespaces and backends, input checks, numerics."""
