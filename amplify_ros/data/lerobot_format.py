"""The LeRobotDataset v3.0 layout, read and written without LeRobot (which pins an older torch).

Followed: huggingface/lerobot tag v0.6.1 (commit 7e241bd630a3719a56157a497ce5d08f244784f1,
2026-08-03), files src/lerobot/datasets/{utils,io_utils,feature_utils,dataset_metadata,
dataset_writer,compute_stats,video_utils}.py, src/lerobot/utils/constants.py and
src/lerobot/scripts/convert_dataset_v21_to_v30.py. The compatibility check
(scripts/lerobot_compat.py) loads our output with lerobot 0.4.4, the newest release that installs
on Python 3.11, which reads and writes the same v3.0 layout.

    <root>/meta/info.json                 codebase_version "v3.0", fps (int), features, totals,
                                          chunks_size, *_files_size_in_mb, data_path, video_path
    <root>/meta/stats.json                per feature: min, max, mean, std, count (+ q01..q99)
    <root>/meta/tasks.parquet             pandas frame: index "task" (the sentence), column task_index
    <root>/meta/episodes/chunk-000/file-000.parquet   one row per episode (columns below)
    <root>/data/chunk-000/file-000.parquet            one row per frame, episodes in order
    <root>/videos/<key>/chunk-000/file-000.mp4        several episodes one after another

A frame row holds every non-video feature plus ``timestamp`` (float32, seconds from the episode's
start: frame_index / fps), ``frame_index`` (in the episode), ``episode_index``, ``index`` (in the
dataset) and ``task_index`` (int64). An episode row holds ``episode_index``, ``tasks`` (list of
sentences), ``length``, ``data/chunk_index``, ``data/file_index``, ``dataset_from_index``,
``dataset_to_index`` ([from, to) in ``index``), per camera ``videos/<key>/chunk_index``,
``file_index``, ``from_timestamp`` and ``to_timestamp`` (seconds into that mp4), the
``meta/episodes/...`` indices of its own file and its stats as ``stats/<feature>/<stat>``. Frame
t of an episode is the video frame at ``from_timestamp + timestamp``.

Stats, as compute_stats.py makes them: per episode, then pooled (means weighted by count,
variances with the between-episode term, quantiles averaged weighted by count). Vectors get one
value per dimension; videos per channel, shape (3, 1, 1), on pixels / 255. Differences: our
per-episode quantiles are exact (LeRobot estimates them from histograms) and image stats use every
frame (LeRobot samples some).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CODEBASE_VERSION = "v3.0"
INFO_PATH, STATS_PATH, TASKS_PATH = "meta/info.json", "meta/stats.json", "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE + ".parquet"
CHUNKS_SIZE, DATA_FILE_MB, VIDEO_FILE_MB = 1000, 100, 200  # LeRobot's defaults (files per chunk, MB per file)
INDEX_FEATURES = {  # lerobot.utils.constants.DEFAULT_FEATURES
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)


class LeRobotFormatError(RuntimeError):
    """A folder that is not a readable LeRobotDataset v3 (or cannot become one)."""


def next_file(chunk: int, file: int, chunks_size: int = CHUNKS_SIZE) -> tuple[int, int]:
    """The (chunk, file) after this one: a chunk folder holds ``chunks_size`` files."""
    return (chunk + 1, 0) if file == chunks_size - 1 else (chunk, file + 1)


# ---- info.json ---------------------------------------------------------------------------------

def read_info(root: Path) -> dict[str, Any]:
    """meta/info.json, checked: a v3 dataset with fps, features and path templates."""
    path = root / INFO_PATH
    if not root.is_dir():
        raise LeRobotFormatError(f"{root}: no such folder")
    if not path.is_file():
        raise LeRobotFormatError(f"{root} is not a LeRobot dataset (no {INFO_PATH})")
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise LeRobotFormatError(f"{path}: unreadable ({e})") from None
    version = str(info.get("codebase_version", ""))
    if not version.startswith("v3."):
        hint = " (convert it with lerobot's convert_dataset_v21_to_v30)" if version.startswith("v2") else ""
        raise LeRobotFormatError(f"{root}: codebase_version {version or 'missing'!r} is not supported; "
                                 f"this reads LeRobotDataset {CODEBASE_VERSION}{hint}")
    missing = [k for k in ("fps", "features", "data_path", "total_episodes") if k not in info]
    if missing:
        raise LeRobotFormatError(f"{path}: missing {', '.join(missing)}")
    return info


def feature_names(feature: dict[str, Any]) -> list[str] | None:
    """A vector feature's dimension names: a list, or LeRobot's older {"motors": [...]} form."""
    names = feature.get("names")
    if isinstance(names, dict):
        names = next(iter(names.values()), None)
    return [str(n) for n in names] if isinstance(names, list) else None


def vector_feature(dim: int, names: Sequence[str] | None) -> dict[str, Any]:
    return {"dtype": "float32", "shape": [dim], "names": list(names) if names and len(names) == dim else None}


def video_feature(height: int, width: int, fps: int, codec: str, pix_fmt: str) -> dict[str, Any]:
    """A camera's feature, ``info`` as video_utils.get_video_info writes it."""
    return {
        "dtype": "video", "shape": [height, width, 3], "names": ["height", "width", "channels"],
        "info": {"video.height": height, "video.width": width, "video.codec": codec, "video.pix_fmt": pix_fmt,
                 "video.fps": fps, "video.channels": 3, "has_audio": False, "is_depth_map": False},
    }


def make_info(fps: int, features: dict[str, Any], episodes: int, frames: int, tasks: int, robot_type: str | None) -> dict[str, Any]:
    has_video = any(f["dtype"] == "video" for f in features.values())
    return {
        "codebase_version": CODEBASE_VERSION, "robot_type": robot_type, "total_episodes": episodes,
        "total_frames": frames, "total_tasks": tasks, "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": DATA_FILE_MB, "video_files_size_in_mb": VIDEO_FILE_MB, "fps": fps,
        "splits": {"train": f"0:{episodes}"}, "data_path": DATA_PATH, "video_path": VIDEO_PATH if has_video else None,
        "features": features,
    }


# ---- parquet tables ----------------------------------------------------------------------------

def vector_column(rows: np.ndarray) -> pa.Array:
    """(N, D) -> fixed_size_list<D> (what datasets.Sequence(length=D) reads)."""
    rows = np.ascontiguousarray(rows)
    return pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1)), rows.shape[1])


def column_rows(table: pa.Table, name: str, dtype: type = np.float32) -> np.ndarray:
    """A list or fixed-size-list column as an (N, D) array (a scalar column as (N, 1))."""
    col = table.column(name).combine_chunks()
    if pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type) or pa.types.is_large_list(col.type):
        flat = col.flatten().to_numpy(zero_copy_only=False).astype(dtype)
        return flat.reshape(len(col), -1) if len(col) else flat.reshape(0, 0)
    return col.to_numpy(zero_copy_only=False).astype(dtype).reshape(-1, 1)


def write_tasks(path: Path, sentences: Sequence[str]) -> None:
    """meta/tasks.parquet as pandas writes LeRobot's frame (index "task", column task_index):
    the b"pandas" schema metadata makes ``pd.read_parquet`` give the sentences back as the index,
    which LeRobot's ``tasks.iloc[i].name`` reads."""
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
                            "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": None},
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.2.3",
    }
    table = pa.table({"task_index": pa.array(range(len(sentences)), pa.int64()), "task": pa.array(list(sentences), pa.string())})
    table = table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def read_tasks(root: Path) -> dict[int, str]:
    """task_index -> sentence. The sentence is the "task" column (pandas' index), else the
    column pandas' metadata names as the index."""
    path = root / TASKS_PATH
    if not path.is_file():
        raise LeRobotFormatError(f"{root}: no {TASKS_PATH}")
    table = pq.read_table(path)
    name = "task"
    if name not in table.column_names:
        meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
        index = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
        if not index or "task_index" not in table.column_names:
            raise LeRobotFormatError(f"{path}: no task column")
        name = index[0]
    return dict(zip(table.column("task_index").to_pylist(), map(str, table.column(name).to_pylist())))


def read_tables(folder: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """Every chunk-*/file-*.parquet under ``folder``, in order, as one table."""
    paths = sorted(folder.glob("chunk-*/file-*.parquet"))
    if not paths:
        raise LeRobotFormatError(f"{folder}: no parquet files")
    try:
        return pa.concat_tables([pq.read_table(p, columns=list(columns) if columns else None) for p in paths], promote_options="default")
    except (pa.ArrowInvalid, KeyError, OSError) as e:
        raise LeRobotFormatError(f"{folder}: unreadable table ({e})") from None


def read_episodes(root: Path) -> list[dict[str, Any]]:
    """The episodes table's rows (stats columns left out), by episode_index."""
    table = read_tables(root / EPISODES_DIR)
    keep = [c for c in table.column_names if not c.startswith("stats/")]
    rows = table.select(keep).to_pylist()
    return sorted(rows, key=lambda r: r["episode_index"])


# ---- stats -------------------------------------------------------------------------------------

def feature_stats(values: np.ndarray, image: bool = False) -> dict[str, np.ndarray]:
    """Stats of one episode's feature. ``values`` (N, D) for vectors and scalars; (N, H, W, 3)
    uint8 for images, reduced per channel to (3, 1, 1) on pixels / 255."""
    if image:
        x = values.reshape(-1, 3).astype(np.float64) / 255.0
        shape: tuple[int, ...] = (3, 1, 1)
    else:
        x = values.reshape(len(values), -1).astype(np.float64)
        shape = (x.shape[1],)
    stats = {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0)}
    stats.update({f"q{round(q * 100):02d}": np.quantile(x, q, axis=0) for q in QUANTILES})
    stats = {k: v.reshape(shape) for k, v in stats.items()}
    stats["count"] = np.array([len(values)])
    return stats


def aggregate_stats(per_episode: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Pooled stats of several episodes' (compute_stats.aggregate_feature_stats)."""
    counts = np.stack([s["count"] for s in per_episode]).astype(np.float64)  # (E, 1)
    means = np.stack([s["mean"] for s in per_episode])
    w = counts.reshape(-1, *([1] * (means.ndim - 1)))
    total = counts.sum()
    mean = (means * w).sum(0) / total
    var = ((np.stack([s["std"] for s in per_episode]) ** 2 + (means - mean) ** 2) * w).sum(0) / total
    out = {"min": np.min([s["min"] for s in per_episode], 0), "max": np.max([s["max"] for s in per_episode], 0),
           "mean": mean, "std": np.sqrt(var), "count": np.array([int(total)])}
    for key in per_episode[0]:
        if key.startswith("q"):
            out[key] = (np.stack([s[key] for s in per_episode]) * w).sum(0) / total
    return out


def stats_json(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    return {feat: {k: v.tolist() for k, v in s.items()} for feat, s in stats.items()}
