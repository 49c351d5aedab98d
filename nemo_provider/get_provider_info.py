"""Provider metadata read by Airflow's ProvidersManager through the `apache_airflow_provider` entry point."""

from __future__ import annotations

from typing import Any

from nemo_provider import __version__

#: The connection form (Airflow 3.3 reads it from here; no wtforms needed). NemoHook's
#: get_ui_field_behaviour returns the same dict in its Python spelling: this is the one definition.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"host": "API base URL", "password": "API token"},
    "placeholders": {
        "host": "http://127.0.0.1:8765 (empty: https://mega-api-prod.nemovideo.ai)",
        "password": "nmv_usr_… (leave empty for an anonymous token)",
        "extra": '{"client_id": "<stable uuid>", "language": "en", "timeout": 30, "platform": "airflow"}',
    },
}

#: Typed extras of the connection form; their values land in the connection's Extra JSON.
CONN_FIELDS: dict[str, Any] = {
    "client_id": {
        "label": "Client id",
        "description": "A stable UUID for this deployment (empty: derived from the connection id and URL).",
        "schema": {"type": ["string", "null"]},
    },
    "language": {
        "label": "Language",
        "description": "The agent's language for replies and titles.",
        "schema": {"type": ["string", "null"], "enum": ["en", "zh", None], "default": "en"},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Per-request timeout; long renders are polled, not waited on in one request.",
        "schema": {"type": ["number", "null"], "minimum": 1, "maximum": 600, "default": 30},
    },
    "platform": {
        "label": "Platform",
        "description": "Reported to Nemo with every request (X-Skill-Platform).",
        "schema": {"type": ["string", "null"], "default": "airflow"},
    },
}


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
                "python-modules": [
                    "nemo_provider.operators.nemo",
                    "nemo_provider.operators.prompt",
                    "nemo_provider.operators.quality",
                ],
            }
        ],
        "sensors": [{"integration-name": "Nemo", "python-modules": ["nemo_provider.sensors.nemo"]}],
        "triggers": [{"integration-name": "Nemo", "python-modules": ["nemo_provider.triggers.nemo"]}],
        "connection-types": [
            {
                "connection-type": "nemo",
                "hook-class-name": "nemo_provider.hooks.nemo.NemoHook",
                "hook-name": "Nemo",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
        "extra-links": [
            "nemo_provider.links.nemo.NemoTrackLink",
            "nemo_provider.links.nemo.NemoDownloadLink",
        ],
        "plugins": [
            {"name": "nemo_tracks", "plugin-class": "nemo_provider.plugins.nemo_tracks.NemoTracksPlugin"}
        ],
    }
