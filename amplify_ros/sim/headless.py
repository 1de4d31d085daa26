"""Pick an off-screen OpenGL backend for MuJoCo before MuJoCo is imported.

MuJoCo reads ``MUJOCO_GL`` once, when the module is first imported, and a missing system
library then surfaces as a deep ImportError. Checking here turns that into one clear sentence.
"""

from __future__ import annotations

import ctypes.util
import os

# backend -> (shared library to look for, Debian package that provides it)
_BACKENDS = {
    "osmesa": ("OSMesa", "libosmesa6"),
    "egl": ("EGL", "libegl1 libegl-mesa0"),
}


class HeadlessGLError(RuntimeError):
    """No usable off-screen OpenGL library for MuJoCo rendering."""


def configure_headless_gl() -> str:
    """Default ``MUJOCO_GL`` to osmesa when no display is set; verify its library is installed.

    Returns the backend in use. Raises HeadlessGLError naming the package to install.
    """
    backend = os.environ.get("MUJOCO_GL", "").strip().lower()
    if not backend:
        if os.environ.get("DISPLAY"):
            return "glfw"
        backend = os.environ["MUJOCO_GL"] = "osmesa"
    if backend in _BACKENDS:
        library, package = _BACKENDS[backend]
        if ctypes.util.find_library(library) is None:
            raise HeadlessGLError(
                f"MuJoCo rendering with MUJOCO_GL={backend} needs lib{library}, which is not "
                f"installed: run `sudo apt-get install {package}` (or `make setup`)"
            )
    return backend
