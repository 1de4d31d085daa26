"""amplify-data: build, inspect and view episode datasets.

    amplify-data generate --env metaworld --tasks button-press-topdown,door-open --episodes 5 --out data/demo
    amplify-data info data/demo
    amplify-data view data/demo/door-open/episode_00000.h5 --out door-open.mp4
    amplify-data track data/demo --backend lk --overwrite
    amplify-data import-video clip1.mp4 frames_dir/ --task "pick up the red cup" --out data/videos
    amplify-data import-bag demo1/ demo2/ --action-topic /arm/joint_trajectory --task "pick up the red cup" \\
        --out data/bags
    amplify-data import-bag demo1/ --action-topic /arm/joint_trajectory --to lerobot --out data/demo_lerobot
    amplify-data import-lerobot data/aloha --camera observation.images.top --out data/aloha_ours
    amplify-data export-lerobot data/avdc --out data/avdc_lerobot

Unreadable inputs (truncated, empty or damaged episode files and bags) are reported one line
each, naming the file, and skipped; the rest is used. Exit status: 0 when every input was
used, 1 when some were skipped, 2 on an error (nothing usable, a bad argument).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from amplify_ros.core.tracks import IMAGE_SIZE


class CliError(Exception):
    """A problem with the user's input, reported as one line and exit status 2."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _nonneg_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amplify-data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="record scripted-expert episodes with exact ground-truth tracks")
    g.add_argument("--env", default="metaworld", choices=["metaworld"], help="simulator (default: metaworld)")
    g.add_argument(
        "--tasks",
        required=True,
        help="task names (comma-separated), a suite (mt10, mt50, avdc11) or a file with one task per line",
    )
    g.add_argument("--episodes", type=_positive_int, required=True, help="episodes per task")
    g.add_argument(
        "--out", type=Path, required=True, help="dataset folder (created, or extended if made with the same settings)"
    )
    g.add_argument(
        "--seed",
        type=int,
        default=0,
        help="dataset seed: episode seeds derive from it, the task and the index (default 0)",
    )
    g.add_argument("--workers", type=_positive_int, default=1, help="local worker processes (default 1)")
    g.add_argument(
        "--shard",
        default="0/1",
        help="i/N: make only every N-th episode starting at i, to split one dataset over machines",
    )
    g.add_argument(
        "--image-size",
        type=_positive_int,
        default=IMAGE_SIZE,
        help=f"square image side in pixels (default {IMAGE_SIZE})",
    )
    g.add_argument("--cameras", default="corner", help="comma-separated camera names (default corner)")
    g.add_argument(
        "--action-free", action="store_true", help="record no actions (video-only data for forward dynamics)"
    )
    g.add_argument(
        "--action-noise",
        type=_nonneg_float,
        default=0.1,
        help="std of Gaussian noise added to expert actions (default 0.1)",
    )
    g.add_argument(
        "--max-steps",
        type=_positive_int,
        default=None,
        help="simulator-step limit per episode (default: the task's own, 500)",
    )
    g.add_argument(
        "--action-repeat",
        type=_positive_int,
        default=1,
        help="simulator steps per recorded frame: 4 records Meta-World's 80 Hz at 20 Hz, the paper's rate, "
        "with each action the mean of the 4 applied (default 1)",
    )
    g.add_argument(
        "--no-tracks", action="store_true", help="skip ground-truth tracks (faster; a tracker can fill them in later)"
    )

    i = sub.add_parser("info", help="summarise a dataset folder")
    i.add_argument("root", type=Path)
    i.add_argument("--json", action="store_true", help="print JSON instead of a table")

    v = sub.add_parser("view", help="render an episode's tracks as an overlay video or image strip")
    v.add_argument("episode", type=Path)
    v.add_argument("--out", type=Path, required=True, help=".mp4/.avi (every frame) or .png/.jpg (a strip)")
    v.add_argument("--camera", default=None, help="camera to show (default: the first)")
    v.add_argument("--frames", type=_positive_int, default=6, help="frames in an image strip (default 6)")
    v.add_argument("--fps", type=float, default=20.0, help="video frame rate (default 20)")
    v.add_argument("--scale", type=_positive_int, default=4, help="upscaling factor (default 4)")

    t = sub.add_parser("track", help="fill in (or replace) episodes' point tracks with a tracker")
    t.add_argument("root", type=Path, help="dataset folder")
    t.add_argument(
        "--backend",
        default="lk",
        choices=["lk", "cotracker"],
        help="tracker (default lk: OpenCV Lucas-Kanade, no weights)",
    )
    t.add_argument(
        "--overwrite", action="store_true", help="replace existing tracks too (default: only episodes without them)"
    )
    t.add_argument("--workers", type=_positive_int, default=1, help="local worker processes (default 1)")
    t.add_argument(
        "--shard", default="0/1", help="i/N: only every N-th episode starting at i, to split one dataset over machines"
    )
    t.add_argument("--cotracker-repo", default=None, help="local checkout of github.com/facebookresearch/co-tracker")
    t.add_argument("--cotracker-checkpoint", default=None, help="local CoTracker checkpoint file (.pth)")
    t.add_argument(
        "--cotracker-model", default="cotracker3_offline", help="hubconf entry point (default cotracker3_offline)"
    )
    t.add_argument("--device", default="cpu", help="torch device for CoTracker (default cpu)")

    m = sub.add_parser("import-video", help="turn video files or image folders into action-free episodes")
    m.add_argument("files", type=Path, nargs="+", help="video files (mp4, avi, ...) or folders of images")
    m.add_argument(
        "--task", required=True, help='the task in words, e.g. "pick up the red cup" (folder: pick-up-the-red-cup)'
    )
    m.add_argument(
        "--out", type=Path, required=True, help="dataset folder (created, or extended if made with the same settings)"
    )
    m.add_argument(
        "--fps", type=_positive_float, default=20.0, help="output frame rate; videos are resampled to it (default 20)"
    )
    m.add_argument(
        "--size",
        type=_positive_int,
        default=IMAGE_SIZE,
        help=f"square image side after centre crop (default {IMAGE_SIZE})",
    )

    b = sub.add_parser("import-bag", help="turn rosbag2 recordings (MCAP or sqlite3) into episodes")
    b.add_argument(
        "bags",
        type=Path,
        nargs="+",
        help="bag folders or .mcap/.db3 files (damaged ones are recovered up to the damage)",
    )
    b.add_argument(
        "--out", type=Path, required=True, help="dataset folder (created, or extended if made with the same settings)"
    )
    b.add_argument("--task", default=None, help="the task in words (default: the bag's /amplify/task message)")
    b.add_argument(
        "--image-topic", default=None, help="sensor_msgs/Image or CompressedImage topic (default: the bag's only one)"
    )
    b.add_argument(
        "--extra-image-topic",
        action="append",
        default=[],
        metavar="TOPIC",
        help="another camera for multi-view models (repeat for more, in the model's order); named after its "
        "topic (/wrist/image_raw -> wrist), each frame paired with the main camera's nearest",
    )
    b.add_argument(
        "--view-skew",
        type=_nonneg_float,
        default=0.05,
        help="seconds an extra camera's frame may be from the main camera's (default 0.05)",
    )
    b.add_argument(
        "--state-topic", default=None, help="sensor_msgs/JointState topic (default: the bag's only one, if any)"
    )
    b.add_argument(
        "--state-joints", default="", help="comma-separated joints for proprio (default: those most messages name)"
    )
    b.add_argument(
        "--action-topic",
        default=None,
        help="JointTrajectory, Float64MultiArray or TwistStamped topic (default: no actions)",
    )
    b.add_argument(
        "--rate",
        type=_positive_float,
        default=None,
        help="frames per second, at most the camera's (default: the camera's rate)",
    )
    b.add_argument(
        "--tolerance",
        type=_nonneg_float,
        default=0.2,
        help="seconds a held state or action may be older than its frame (default 0.2)",
    )
    b.add_argument(
        "--size",
        type=_positive_int,
        default=IMAGE_SIZE,
        help=f"square image side after centre crop (default {IMAGE_SIZE})",
    )
    b.add_argument(
        "--to",
        choices=["episodes", "lerobot"],
        default="episodes",
        help="episodes: our dataset folder (default); lerobot: --out becomes a new LeRobotDataset v3.0 folder",
    )

    lr = sub.add_parser("import-lerobot", help="turn a LeRobotDataset v3.0 folder into episodes")
    lr.add_argument("root", type=Path, help="LeRobot dataset folder (holding meta/info.json)")
    lr.add_argument(
        "--camera",
        action="append",
        required=True,
        metavar="KEY",
        help="video feature to use, e.g. observation.images.top (repeat for more cameras, in the model's order)",
    )
    lr.add_argument(
        "--out", type=Path, required=True, help="dataset folder (created, or extended if made with the same settings)"
    )
    lr.add_argument(
        "--fps", type=_positive_float, default=20.0, help="output frame rate; episodes are resampled to it (default 20)"
    )
    lr.add_argument(
        "--size",
        type=_positive_int,
        default=IMAGE_SIZE,
        help=f"square image side after centre crop (default {IMAGE_SIZE})",
    )
    lr.add_argument("--state", default=None, help="feature used as proprio (default: observation.state, if present)")
    lr.add_argument("--action", default=None, help="feature used as actions (default: action, if present)")
    lr.add_argument("--action-free", action="store_true", help="keep video (and state) only, no actions")

    ex = sub.add_parser(
        "export-lerobot", help="write a dataset folder as a LeRobotDataset v3.0 folder (tracks are not exported)"
    )
    ex.add_argument("root", type=Path, help="our dataset folder")
    ex.add_argument("--out", type=Path, required=True, help="new LeRobot dataset folder (must not exist or be empty)")
    ex.add_argument(
        "--vcodec",
        choices=["h264", "libsvtav1", "mpeg4"],
        default="h264",
        help="video codec (default h264: libx264, read by every FFmpeg; libsvtav1 is LeRobot's own default)",
    )
    ex.add_argument(
        "--crf", type=int, default=23, help="constant quality for h264/libsvtav1, lower is better (default 23)"
    )
    return parser


def cmd_generate(args: argparse.Namespace) -> int:
    from amplify_ros.sim.headless import configure_headless_gl
    from amplify_ros.sim.metaworld_tasks import resolve_tasks

    tasks = resolve_tasks(args.tasks)
    cameras = tuple(c.strip() for c in args.cameras.split(",") if c.strip())
    shard = _parse_shard(args.shard)
    configure_headless_gl()

    from amplify_ros.data.dataset import prepare
    from amplify_ros.data.manifest import DatasetManifest
    from amplify_ros.sim import generate
    from amplify_ros.sim.rollout import RolloutConfig

    cfg = RolloutConfig(
        action_noise=args.action_noise,
        max_steps=args.max_steps,
        action_free=args.action_free,
        tracks=not args.no_tracks,
        action_repeat=args.action_repeat,
    )
    manifest = DatasetManifest(
        env=args.env,
        seed=args.seed,
        image_size=args.image_size,
        cameras=list(cameras),
        action_free=args.action_free,
        action_noise=args.action_noise,
        max_steps=args.max_steps,
        action_repeat=args.action_repeat if args.action_repeat > 1 else None,
        tracks="none" if args.no_tracks else "oracle",
        grid_size=cfg.grid_size,
        horizon=cfg.horizon,
    )
    _check_cameras(tasks[0], cameras)
    root = prepare(args.out, manifest)
    jobs = generate.plan(root, tasks, args.episodes, args.seed, shard)
    todo = [j for j in jobs if not j.path.exists()]
    print(
        f"{len(tasks)} task(s), {len(jobs)} episode(s) in this shard, "
        f"{len(jobs) - len(todo)} already done, {len(todo)} to make",
        file=sys.stderr,
    )
    frames = successes = 0
    start = time.perf_counter()
    with tqdm(total=len(todo), unit="ep", desc="generate") as bar:
        for result in generate.run(todo, args.image_size, cameras, cfg, args.workers):
            frames += result.frames
            successes += result.success
            bar.set_postfix(
                frames_per_s=f"{frames / (time.perf_counter() - start):.0f}", success=f"{successes}/{bar.n + 1}"
            )
            bar.update()
    print(f"wrote {len(todo)} episode(s), {frames} frames to {root}", file=sys.stderr)
    return 0


def _check_cameras(task: str, cameras: tuple[str, ...]) -> None:
    """Fail before starting workers when a camera name is wrong."""
    from amplify_ros.sim.metaworld_env import camera_names

    valid = camera_names(task)
    unknown = [c for c in cameras if c not in valid]
    if unknown or not cameras:
        raise CliError(f"unknown camera(s) {unknown or cameras}; Meta-World cameras: {', '.join(valid)}")


def _parse_shard(text: str) -> tuple[int, int]:
    from amplify_ros.sim.generate import parse_shard

    try:
        return parse_shard(text)
    except ValueError as e:
        raise CliError(str(e)) from None


def cmd_info(args: argparse.Namespace) -> int:
    from amplify_ros.data.dataset import summarize

    if not args.root.is_dir():
        raise CliError(f"{args.root} is not a folder")
    info = summarize(args.root).as_dict()
    if args.json:
        print(json.dumps(info, indent=2))
        return 1 if info["corrupt"] else 0
    rows = [
        ("folder", info["root"]),
        ("episodes", info["episodes"]),
        ("frames", info["frames"]),
        ("tasks", ", ".join(f"{t} ({n})" for t, n in info["tasks"].items()) or "-"),
        ("with actions", info["with_actions"]),
        ("with tracks", f"{info['with_tracks']} " + ", ".join(f"{s}: {n}" for s, n in info["track_sources"].items())),
        ("cameras", ", ".join(info["cameras"]) or "-"),
        ("image size", ", ".join(info["image_sizes"]) or "-"),
        ("fps", ", ".join(f"{f:g}" for f in info["fps"]) or "-"),
        ("success rate", "-" if info["success_rate"] is None else f"{info['success_rate']:.2f}"),
        ("corrupt files", len(info["corrupt"])),
    ]
    if info["leftover_temp_files"]:
        rows.append(("leftover temp files", f"{info['leftover_temp_files']} (interrupted writes; safe to delete)"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for path, reason in info["corrupt"].items():
        print(f"  corrupt: {path}: {reason}")
    return 1 if info["corrupt"] else 0


def cmd_view(args: argparse.Namespace) -> int:
    from amplify_ros.data.episode import CorruptEpisodeError, read_episode
    from amplify_ros.data.viewer import write_view

    if not args.episode.is_file():
        raise CliError(f"{args.episode}: no such episode file")
    try:
        ep = read_episode(args.episode)
    except CorruptEpisodeError as e:
        raise CliError(str(e)) from None
    camera = args.camera or ep.cameras[0]
    if camera not in ep.tracks:
        print(f"note: {args.episode} has no tracks for {camera!r}; showing images only", file=sys.stderr)
    try:
        out = write_view(ep, camera, args.out, frames=args.frames, fps=args.fps, scale=args.scale)
    except (ValueError, RuntimeError) as e:
        raise CliError(str(e)) from None
    print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_track(args: argparse.Namespace) -> int:
    from amplify_ros.data.dataset import list_episodes
    from amplify_ros.tracking import TrackerSpec
    from amplify_ros.tracking.cotracker import CoTrackerUnavailable
    from amplify_ros.tracking.preprocess import run, select_shard

    if not args.root.is_dir():
        raise CliError(f"{args.root} is not a folder")
    shard = _parse_shard(args.shard)
    spec = TrackerSpec(args.backend, args.cotracker_repo, args.cotracker_checkpoint, args.cotracker_model, args.device)
    try:
        tracker = spec.build()  # fails now, not in a worker, when CoTracker is missing
    except CoTrackerUnavailable as e:
        raise CliError(str(e)) from None
    paths = select_shard(list_episodes(args.root), shard)
    counts = {"tracked": 0, "skipped": 0, "corrupt": 0}
    frames = 0
    start = time.perf_counter()
    with tqdm(total=len(paths), unit="ep", desc=f"track ({args.backend})") as bar:
        for result in run(paths, spec, tracker, args.overwrite, args.workers):
            counts[result.status] += 1
            if result.status == "corrupt":
                tqdm.write(f"amplify-data: skipped {result.detail}", file=sys.stderr)
            elif result.status == "tracked":
                frames += result.frames
                bar.set_postfix(frames_per_s=f"{frames / (time.perf_counter() - start):.0f}")
            bar.update()
    print(
        f"{counts['tracked']} episode(s) tracked with {args.backend}, {counts['skipped']} already had tracks"
        f"{' (use --overwrite to replace them)' if counts['skipped'] else ''}, {counts['corrupt']} unreadable",
        file=sys.stderr,
    )
    return 1 if counts["corrupt"] else 0


def cmd_import_video(args: argparse.Namespace) -> int:
    from amplify_ros.data.video_import import import_videos

    imported = skipped = 0
    try:
        for result in import_videos(args.files, args.task, args.out, args.fps, args.size):
            if result.path is None:
                skipped += 1
                print(f"amplify-data: skipped {result.error}", file=sys.stderr)
            else:
                imported += 1
                print(f"{result.source} -> {result.path} ({result.frames} frames)", file=sys.stderr)
    except ValueError as e:  # a task sentence that names no folder
        raise CliError(str(e)) from None
    return _import_status(imported, skipped, "video", args.out)


def _import_status(imported: int, skipped: int, what: str, out: Path) -> int:
    """0 when every input was imported, 1 when some were skipped; none imported is an error (2)."""
    if not imported:
        raise CliError(f"none of the {skipped} input(s) could be imported")
    print(f"imported {imported} {what}(s) into {out}, skipped {skipped}", file=sys.stderr)
    return 1 if skipped else 0


def cmd_import_bag(args: argparse.Namespace) -> int:
    if args.to == "lerobot":
        return _bag_to_lerobot(args)
    from amplify_ros.data.bag_import import DROP_REASONS, BagImportSettings, import_bags

    imported = skipped = 0
    try:
        settings = BagImportSettings(
            image_topic=args.image_topic,
            state_topic=args.state_topic,
            action_topic=args.action_topic,
            state_joints=tuple(j.strip() for j in args.state_joints.split(",") if j.strip()),
            rate=args.rate,
            tolerance=args.tolerance,
            size=args.size,
            extra_image_topics=tuple(args.extra_image_topic),
            view_skew=args.view_skew,
        )
        for result in import_bags(args.bags, args.task, args.out, settings):
            for note in result.notes:
                print(f"amplify-data: {result.source}: {note}", file=sys.stderr)
            if not result.paths:
                skipped += 1
                print(f"amplify-data: skipped {result.error}", file=sys.stderr)
                continue
            imported += 1
            print(
                f"{result.source} -> {len(result.paths)} episode(s) from {result.paths[0]}, {result.frames} frames",
                file=sys.stderr,
            )
            if result.dropped:
                print(
                    "  dropped: " + "; ".join(f"{n} {DROP_REASONS[k]}" for k, n in result.dropped.items()),
                    file=sys.stderr,
                )
    except ValueError as e:  # a task sentence that names no folder, clashing camera names
        raise CliError(str(e)) from None
    return _import_status(imported, skipped, "bag", args.out)


def _bag_to_lerobot(args: argparse.Namespace) -> int:
    """import-bag --to lerobot: the bags become our episodes in a temporary folder beside --out,
    which is then exported to --out and removed."""
    import shutil
    import tempfile

    from amplify_ros.data.lerobot_export import export_lerobot
    from amplify_ros.data.lerobot_format import LeRobotFormatError

    out = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"{out} already exists and is not empty: choose a new --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.episodes-", dir=out.parent))
    try:
        status = cmd_import_bag(argparse.Namespace(**{**vars(args), "to": "episodes", "out": staging}))
        try:
            result = export_lerobot(staging, out)
        except LeRobotFormatError as e:
            raise CliError(str(e)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(
        f"wrote LeRobot dataset {out}: {result.episodes} episode(s), {result.frames} frames ({result.codec})",
        file=sys.stderr,
    )
    return status


def cmd_import_lerobot(args: argparse.Namespace) -> int:
    from amplify_ros.data.lerobot_format import LeRobotFormatError
    from amplify_ros.data.lerobot_import import LeRobotImportSettings, import_lerobot

    imported = skipped = 0
    try:
        settings = LeRobotImportSettings(
            tuple(args.camera), args.fps, args.size, args.state, args.action, args.action_free
        )
        for result in import_lerobot(args.root, args.out, settings):
            if result.path is None:
                skipped += 1
                print(f"amplify-data: skipped episode {result.episode}: {result.error}", file=sys.stderr)
            else:
                imported += 1
                print(f"episode {result.episode} -> {result.path} ({result.frames} frames)", file=sys.stderr)
    except (LeRobotFormatError, ValueError) as e:
        raise CliError(str(e)) from None
    return _import_status(imported, skipped, "episode", args.out)


def cmd_export_lerobot(args: argparse.Namespace) -> int:
    from amplify_ros.data.lerobot_export import export_lerobot
    from amplify_ros.data.lerobot_format import LeRobotFormatError

    bar: tqdm | None = None  # opened at the first episode, so that a refusal prints one line only

    def progress(path: Path, frames: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(unit="ep", desc="export-lerobot")
        bar.update()

    try:
        result = export_lerobot(args.root, args.out, args.vcodec, args.crf, progress=progress)
    except LeRobotFormatError as e:
        raise CliError(str(e)) from None
    finally:
        if bar is not None:
            bar.close()
    for reason in result.skipped.values():
        print(f"amplify-data: skipped {reason}", file=sys.stderr)
    print(
        f"wrote LeRobot dataset {result.out}: {result.episodes} episode(s), {result.frames} frames ({result.codec}); "
        f"tracks are not exported",
        file=sys.stderr,
    )
    return 1 if result.skipped else 0


def main(argv: list[str] | None = None) -> int:
    from amplify_ros.data.dataset import DatasetMismatchError
    from amplify_ros.sim.headless import HeadlessGLError
    from amplify_ros.sim.metaworld_tasks import UnknownTaskError

    args = build_parser().parse_args(argv)
    handlers = {
        "generate": cmd_generate,
        "info": cmd_info,
        "view": cmd_view,
        "track": cmd_track,
        "import-video": cmd_import_video,
        "import-bag": cmd_import_bag,
        "import-lerobot": cmd_import_lerobot,
        "export-lerobot": cmd_export_lerobot,
    }
    try:
        return handlers[args.command](args)
    except (CliError, UnknownTaskError, DatasetMismatchError, HeadlessGLError) as e:
        print(f"amplify-data: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "amplify-data: interrupted; finished episodes are kept, rerun the same command to resume", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
