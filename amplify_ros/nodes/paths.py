"""Where shipped files (config/, models/) are: the package's share directory on a colcon install,
the source tree otherwise. Relative paths in configs work from either."""

from __future__ import annotations

from pathlib import Path


def package_share() -> Path:
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:  # a pip / source install: no ament index
        return Path(__file__).resolve().parents[2]
    try:
        return Path(get_package_share_directory("amplify_ros"))
    except (PackageNotFoundError, OSError):  # OSError: no AMENT_PREFIX_PATH (a plain virtualenv)
        return Path(__file__).resolve().parents[2]


def find(path: str | Path) -> Path:
    """``path`` as given when it exists (absolute, or relative to the working directory), else
    the same relative path inside the package (``models/metaworld_small`` from anywhere)."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    shipped = package_share() / path
    return shipped if shipped.exists() else path


def find_config(name_or_path: str | Path) -> Path:
    """A config YAML path, or the name of a shipped one (``sim_demo`` -> config/sim_demo.yaml)."""
    text = str(name_or_path)
    return find(text if text.endswith((".yaml", ".yml")) else f"config/{text}.yaml")
