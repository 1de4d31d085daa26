"""MuJoCo worlds (Meta-World) and exact ground-truth point tracks from the simulator.

MuJoCo picks its OpenGL backend once, when first imported, so the package chooses an
off-screen backend (osmesa unless MUJOCO_GL or DISPLAY say otherwise) before any of its
modules import MuJoCo, and fails here, naming the Debian package, when its library is missing.
"""

from amplify_ros.sim.headless import configure_headless_gl

configure_headless_gl()
