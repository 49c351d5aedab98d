from __future__ import annotations

import importlib
import json
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema

from nemo_provider.get_provider_info import get_provider_info


def _schema() -> dict:
    path = Path(airflow.__file__).parent / "provider_info.schema.json"
    return json.loads(path.read_text())


def test_provider_info_validates_against_airflow_schema() -> None:
    jsonschema.validate(get_provider_info(), _schema())


def test_entry_point_is_registered() -> None:
    eps = [ep for ep in entry_points(group="apache_airflow_provider") if ep.name == "provider_info"]
    values = {ep.value for ep in eps}
    assert "nemo_provider.get_provider_info:get_provider_info" in values


def test_every_listed_module_and_class_imports() -> None:
    info = get_provider_info()
    modules = [
        m
        for section in ("hooks", "operators", "sensors", "triggers")
        for item in info.get(section, [])
        for m in item.get("python-modules", [])
    ]
    for module in modules:
        importlib.import_module(module)
    for conn in info.get("connection-types", []):
        module_name, _, class_name = conn["hook-class-name"].rpartition(".")
        assert hasattr(importlib.import_module(module_name), class_name)
