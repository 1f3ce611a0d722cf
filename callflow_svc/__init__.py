"""callflow_svc: route requests, number and pattern matching, flow execution (callflow.md)."""
