"""Sample schema, spool, InfluxDB writers, provisioning and queries (issue 6)."""
