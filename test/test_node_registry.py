"""The node registry is what setup.py installs and amplify-bringup starts, and it names each
node as its class does."""

import importlib
import inspect
import runpy
from pathlib import Path

import setuptools

from amplify_ros.nodes import bringup
from amplify_ros.nodes.registry import NODES

REPO = Path(__file__).resolve().parents[1]


def setup_kwargs(monkeypatch) -> dict:
    """What setup.py passes to setuptools.setup, without building anything."""
    seen = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: seen.update(kwargs))
    monkeypatch.chdir(REPO)
    runpy.run_path("setup.py", run_name="__main__")
    return seen


def test_setup_py_installs_a_console_script_per_registered_node(monkeypatch):
    scripts = dict(s.replace(" ", "").split("=") for s in setup_kwargs(monkeypatch)["entry_points"]["console_scripts"])
    nodes = {name: target for name, target in scripts.items() if name in NODES}
    assert nodes == {m: f"amplify_ros.nodes.{m}:main" for m in NODES}
    assert all(name.startswith("amplify-") for name in scripts.keys() - nodes.keys())  # the rest are the tools


def test_bringup_starts_the_registered_class_under_its_node_name():
    assert bringup.NODES is NODES and bringup.TERMINAL_NODES == {"keyboard_teleop_node"}
    for entry in NODES.values():
        module = importlib.import_module(f"amplify_ros.nodes.{entry.module}")
        assert callable(module.main), entry.module
        source = inspect.getsource(getattr(module, entry.cls))
        assert f'"{entry.name}"' in source, f"{entry.cls} is not named {entry.name}"
