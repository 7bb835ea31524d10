"""Builds the `deploy_<service>` DAG from a ServiceSpec (Airflow-side; the core stays in airlock/)."""
