"""Apache Airflow provider for the Nemo agent API (AI background music and music-backed video)."""

__version__ = "0.2.0"
