"""The offline demo: simulated vendors, a mixed workload, an outage."""
