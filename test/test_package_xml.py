"""package.xml names every package the installed code imports (what rosdep installs on a ROS machine)."""

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# import name -> package.xml key, for imports whose key is not the import name itself
KEYS = {
    "numpy": "python3-numpy",
    "cv2": "python3-opencv",
    "h5py": "python3-h5py",
    "yaml": "python3-yaml",
    "tqdm": "python3-tqdm",
    "lz4": "python3-lz4",
    "torch": "python3-torch-pip",
    "mujoco": "python3-mujoco-pip",
    "metaworld": "python3-metaworld-pip",
    "safetensors": "python3-safetensors-pip",
    "rosbags": "python3-rosbags-pip",
    "einops": "python3-einops-pip",
    "tensorboard": "python3-tensorboard-pip",
    "pyarrow": "python3-pyarrow-pip",
    "av": "python3-av-pip",
    "pyrealsense2": "python3-pyrealsense2-pip",
    "backports": "python3-backports-zstd-pip",
    "onnxruntime": "python3-onnxruntime-pip",  # onnx and onnxscript: imported by torch.onnx.export, listed too
}
LOCAL = {"amplify_ros", "compression"}  # our own package; the standard library's zstd from Python 3.14


def imported_modules() -> set[str]:
    """Top-level names of every module imported by the package and its launch files."""
    names = set()
    for path in [*ROOT.glob("amplify_ros/**/*.py"), *ROOT.glob("launch/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - LOCAL


def test_every_imported_package_is_an_exec_depend():
    declared = {e.text for e in ET.parse(ROOT / "package.xml").getroot().iter("exec_depend")}
    keys = {name: KEYS.get(name, name) for name in imported_modules()}
    missing = sorted(f"{name} ({key})" for name, key in keys.items() if key not in declared)
    assert not missing, f"package.xml lacks exec_depend for {missing}"
