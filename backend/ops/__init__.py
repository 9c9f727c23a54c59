"""Operating the service: health checks, request ids and structured logs, metrics."""
