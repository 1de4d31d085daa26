"""amplify-eval: measure a trained model.

    amplify-eval tracks --checkpoint runs/fwd --data data/avdc11            # held-out episodes of the run
    amplify-eval tracks --checkpoint zero-motion --data data/avdc11 --split-from runs/fwd
    amplify-eval tracks --checkpoint runs/fwd --data data/avdc11 --split heldout --overlays out/

Metrics (docs in amplify_ros/core/metrics.py): MSE in normalised coordinates, pixel accuracy,
delta-AUC (the paper's) and TAP-Vid's delta_avg.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

from amplify_ros.core.checkpoint import CheckpointError, check_data, resolve
from amplify_ros.core.overlay import draw_prediction, label
from amplify_ros.data.dataset import list_episodes
from amplify_ros.data.windows import Split, WindowDataset
from amplify_ros.train.evaluate import evaluate, load_predictor


def jpeg_quality(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"jpeg quality must be in 1..100, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="amplify-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("tracks", help="track prediction / reconstruction metrics")
    t.add_argument("--checkpoint", required=True, help="run or checkpoint directory, or 'zero-motion'")
    t.add_argument("--data", type=Path, required=True)
    t.add_argument(
        "--split",
        choices=["val", "heldout", "train", "all"],
        default="val",
        help="which episodes (default: the run's validation episodes; train: its own training episodes)",
    )
    t.add_argument("--split-from", type=Path, help="run whose split.json to use (default: the checkpoint's run)")
    t.add_argument("--max-samples", type=int, default=2000)
    t.add_argument(
        "--decoding", choices=["expected", "argmax"], help="tokenizer decoding (default: the checkpoint's own)"
    )
    t.add_argument(
        "--code-decoding",
        choices=["autoregressive", "parallel"],
        default="autoregressive",
        help="forward model: codes one after another (greedy) or all in one pass (its parallel head)",
    )
    t.add_argument("--overlays", type=Path, help="folder for predicted-vs-true overlay images")
    t.add_argument("--json", action="store_true")

    q = sub.add_parser("policy", help="closed-loop success rate in simulation")
    q.add_argument("--checkpoint", type=Path, required=True, help="inverse (AMPLIFY) or bc run / checkpoint")
    q.add_argument("--env", choices=["metaworld"], default="metaworld")
    q.add_argument("--tasks", required=True, help="names, a suite (avdc11, mt10, mt50) or a file")
    q.add_argument("--episodes", type=int, default=25, help="episodes per task (default 25)")
    q.add_argument("--workers", type=int, default=1)
    q.add_argument("--seed", type=int, default=1_000_003, help="evaluation seed; initial states derive from it")
    q.add_argument("--max-steps", type=int, default=500)
    q.add_argument("--ensemble", choices=["temporal", "open-loop"], default="temporal")
    q.add_argument("--ensemble-k", type=float, default=0.01, help="temporal ensembling weight exp(-k i) (paper: 0.01)")
    q.add_argument("--execute", type=int, help="open loop: actions executed per chunk (default: the whole chunk)")
    q.add_argument("--video", type=Path, help="folder for rollout videos (first 2 episodes of each task)")
    q.add_argument(
        "--codes",
        choices=["policy", "expert-future"],
        default="policy",
        help="AMPLIFY: motion codes from the policy's forward model, or the tokenizer's codes of what the "
        "scripted expert does next from each state (an upper bound for forward prediction)",
    )
    q.add_argument(
        "--code-decoding",
        choices=["autoregressive", "parallel", "auto"],
        default="autoregressive",
        help="AMPLIFY: the forward model's codes one after another (greedy) or all in one pass (needs its "
        "parallel head); auto: parallel where the model has the head",
    )
    q.add_argument(
        "--runtime",
        choices=["torch", "onnxruntime"],
        default="torch",
        help="run the models in torch or as ONNX Runtime graphs (the same actions, ~2x faster on a CPU; "
        "autoregressive decoding stays in torch)",
    )
    q.add_argument(
        "--jpeg-quality",
        type=jpeg_quality,
        metavar="Q",
        help="the policy sees each frame jpeg-compressed at quality Q (1-100), as from a compressed camera "
        "topic or recording (default: the rendered frames themselves)",
    )
    q.add_argument("--json", action="store_true")
    return p


def policy_main(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from amplify_ros.core.policy import Policy
    from amplify_ros.sim.headless import configure_headless_gl
    from amplify_ros.sim.metaworld_tasks import resolve_tasks

    tasks = resolve_tasks(args.tasks)
    configure_headless_gl()
    from amplify_ros.sim.generate import episode_seed
    from amplify_ros.train import policy_eval

    policy = Policy.load(args.checkpoint)  # fail here, before any worker starts, if it does not load
    if policy.action_dim != 4:
        raise CheckpointError(
            f"the policy outputs {policy.action_dim}-D actions; Meta-World takes 4 (xyz delta + gripper)"
        )
    settings = policy_eval.EvalSettings(
        resolve(args.checkpoint),
        args.max_steps,
        args.ensemble,
        args.ensemble_k,
        args.execute,
        args.video,
        args.codes,
        args.code_decoding,
        args.runtime,
        args.jpeg_quality,
    )
    if args.codes == "expert-future":
        policy_eval.future_tokenizer(policy)  # refuse now, before any worker starts
    try:
        policy.configure(args.runtime, args.code_decoding)  # refuse now, before any worker starts
    except ValueError as err:
        raise CheckpointError(f"{args.checkpoint}: {err}") from err
    jobs = [(t, i, episode_seed(args.seed, t, i)) for t in tasks for i in range(args.episodes)]
    outcomes = []
    with tqdm(
        total=len(jobs), desc=f"{policy.kind} rollouts", unit="ep"
    ) as bar:  # stderr: --json output on stdout stays clean
        for o in policy_eval.run(jobs, settings, args.workers):
            outcomes.append(o)
            bar.set_postfix(success=f"{sum(x.success for x in outcomes)}/{len(outcomes)}")
            bar.update()
    summary = policy_eval.summarise(outcomes)
    summary.update(
        policy=policy.kind,
        checkpoint=str(args.checkpoint),
        ensemble=args.ensemble,
        codes=args.codes,
        code_decoding=policy.motion.code_decoding if policy.motion else None,
        runtime=args.runtime,
        jpeg_quality=args.jpeg_quality,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    for task, r in summary["per_task"].items():
        lo, hi = r["ci95"]
        print(f"{task:<24} {r['success']:.2f}  [{lo:.2f}, {hi:.2f}]  ({r['episodes']} episodes; {r['reasons']})")
    print(
        f"{'mean':<24} {summary['mean_success']:.2f}  "
        f"policy {summary['policy_ms_p50']:.0f} ms p50, {summary['policy_ms_p95']:.0f} ms p95"
    )
    return 0


def _episodes(args: argparse.Namespace) -> list[str]:
    if args.split == "all":
        return [str(p.relative_to(args.data)) for p in list_episodes(args.data)]
    run = args.split_from
    if run is None and args.checkpoint != "zero-motion":
        ckpt = resolve(Path(args.checkpoint))
        run = next((d for d in (ckpt, ckpt.parent, ckpt.parent.parent) if (d / "split.json").is_file()), None)
    if run is None or not (Path(run) / "split.json").is_file():
        raise CheckpointError("no split.json found: pass --split-from RUN or --split all")
    split = Split.load(Path(run) / "split.json")
    return {"val": split.val, "train": split.train, "heldout": split.heldout_tasks}[args.split]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.what == "policy":
        from amplify_ros.sim.headless import HeadlessGLError
        from amplify_ros.sim.metaworld_tasks import UnknownTaskError

        try:
            return policy_main(args)
        except (CheckpointError, UnknownTaskError, HeadlessGLError) as e:
            print(f"amplify-eval: error: {e}", file=sys.stderr)
            return 2
    try:
        predict, stats, kind = load_predictor(args.checkpoint, decoding=args.decoding, code_decoding=args.code_decoding)
        episodes = _episodes(args)
        if not episodes:
            raise CheckpointError(f"the {args.split} split is empty")
        data = WindowDataset(args.data, episodes, stats.get("cameras"))
        warnings = (
            []
            if kind == "zero-motion"
            else check_data(stats, data.image_size, data.views, int(data[0]["tracks"].shape[-3]), data.fps)
        )
        for warning in warnings:
            print(f"amplify-eval: warning: {warning}", file=sys.stderr)
        result, kept = evaluate(predict, data, args.max_samples, keep=6 if args.overlays else 0)
    except (CheckpointError, ValueError) as e:
        print(f"amplify-eval: error: {e}", file=sys.stderr)
        return 2
    result.update(
        model=kind, checkpoint=str(args.checkpoint), split=args.split, episodes=len(episodes), warnings=warnings
    )
    if args.overlays:
        args.overlays.mkdir(parents=True, exist_ok=True)
        for i, (sample, pred) in enumerate(kept):
            img = draw_prediction(sample["images"][0].numpy(), pred[0], sample["tracks"][0].numpy())
            cv2.imwrite(str(args.overlays / f"{kind}_{i}.png"), label(img, f"{kind}: {sample['task']}")[..., ::-1])
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['model']} on {result['samples']} samples of {result['episodes']} {result['split']} episodes "
            f"({result['moving_fraction']:.0%} of points move)"
        )
        print(f"{'':<8} {'MSE':>9} {'pixel acc':>9} {'ΔAUC':>7} {'δ_avg':>7}")
        for name, m in (("all", result), ("moving", result["moving"])):
            print(f"{name:<8} {m['mse']:>9.5f} {m['pixel_acc']:>9.3f} {m['delta_auc']:>7.3f} {m['delta_avg']:>7.3f}")
        print(
            f'moving-point MSE {result["moving"]["vs_zero_motion"]:.2f}x that of "nothing moves" '
            f"({result['moving']['zero_motion_mse']:.5f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
