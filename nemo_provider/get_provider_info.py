"""Provider metadata read by Airflow's ProvidersManager through the `apache_airflow_provider` entry point."""

from __future__ import annotations

from typing import Any

from nemo_provider import __version__


def get_provider_info() -> dict[str, Any]:
    """Describe the provider; kept import-free so that Airflow can read it without loading the provider."""
    return {
        "package-name": "airflow-provider-nemo",
        "name": "Nemo",
        "description": "Generate royalty-free background music and music-backed videos with the Nemo agent API.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Nemo",
                "external-doc-url": "https://nemovideo.ai/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Nemo", "python-modules": ["nemo_provider.hooks.nemo"]}],
        "operators": [
            {
                "integration-name": "Nemo",
                "python-modules": ["nemo_provider.operators.nemo", "nemo_provider.operators.quality"],
            }
        ],
        "sensors": [{"integration-name": "Nemo", "python-modules": ["nemo_provider.sensors.nemo"]}],
        "triggers": [{"integration-name": "Nemo", "python-modules": ["nemo_provider.triggers.nemo"]}],
        "connection-types": [
            {"connection-type": "nemo", "hook-class-name": "nemo_provider.hooks.nemo.NemoHook"}
        ],
        "extra-links": ["nemo_provider.links.nemo.NemoDownloadLink"],
    }
