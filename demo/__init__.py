"""`make demo`: Airlock end to end on embedded defaults (kubesim, Prometheus, Alertmanager, Airflow)."""
