"""The Airflow UI plugin: the Nemo tracks page (registered through the provider info)."""
