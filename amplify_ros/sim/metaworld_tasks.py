"""Meta-World task names, suites and the sentence that describes each task.

Names are accepted with or without Meta-World's ``-v3`` suffix. A task list is a comma-separated
list of names, a suite name (``mt10``, ``mt50``, ``avdc11``) or a file with one name per line
(``#`` starts a comment).
"""

from __future__ import annotations

from pathlib import Path

SENTENCES: dict[str, str] = {
    "assembly": "pick up the nut and place it onto the peg",
    "basketball": "pick up the ball and dunk it into the basket",
    "bin-picking": "pick up the cube and place it into the other bin",
    "box-close": "pick up the lid and close the box with it",
    "button-press-topdown": "press the button from the top",
    "button-press-topdown-wall": "press the button from the top behind the wall",
    "button-press": "press the button from the front",
    "button-press-wall": "press the button from the front behind the wall",
    "coffee-button": "push the button on the coffee machine",
    "coffee-pull": "pull the mug out of the coffee machine",
    "coffee-push": "push the mug under the coffee machine",
    "dial-turn": "rotate the dial a full turn",
    "disassemble": "pick the nut off the peg",
    "door-close": "push the door closed",
    "door-lock": "turn the lock on the door to lock it",
    "door-open": "open the door by pulling its handle",
    "door-unlock": "turn the lock on the door to unlock it",
    "hand-insert": "insert the gripper into the hole",
    "drawer-close": "push the drawer closed",
    "drawer-open": "pull the drawer open",
    "faucet-open": "rotate the faucet handle to the left to open it",
    "faucet-close": "rotate the faucet handle to the right to close it",
    "hammer": "pick up the hammer and hit the nail into the wall",
    "handle-press-side": "press the handle down from the side",
    "handle-press": "press the handle down",
    "handle-pull-side": "pull the handle up from the side",
    "handle-pull": "pull the handle up",
    "lever-pull": "pull the lever up",
    "peg-insert-side": "insert the peg into the hole from the side",
    "pick-place-wall": "pick up the puck and place it at the goal behind the wall",
    "pick-out-of-hole": "pick the peg out of the hole",
    "reach": "move the gripper to the goal position",
    "push-back": "pull the puck back to the goal",
    "push": "push the puck to the goal",
    "pick-place": "pick up the puck and place it at the goal",
    "plate-slide": "slide the plate into the cabinet",
    "plate-slide-side": "slide the plate sideways into the cabinet",
    "plate-slide-back": "slide the plate out of the cabinet",
    "plate-slide-back-side": "slide the plate sideways out of the cabinet",
    "peg-unplug-side": "unplug the peg from the side",
    "soccer": "kick the ball into the goal",
    "stick-push": "grasp the stick and push the box with it",
    "stick-pull": "grasp the stick and pull the box with it",
    "push-wall": "push the puck around the wall to the goal",
    "reach-wall": "move the gripper over the wall to the goal position",
    "shelf-place": "pick up the block and place it on the shelf",
    "sweep-into": "sweep the puck into the hole",
    "sweep": "sweep the puck off the table",
    "window-open": "slide the window open",
    "window-close": "slide the window closed",
}

SUITES: dict[str, tuple[str, ...]] = {
    "mt10": (
        "reach",
        "push",
        "pick-place",
        "door-open",
        "drawer-open",
        "drawer-close",
        "button-press-topdown",
        "peg-insert-side",
        "window-open",
        "window-close",
    ),
    "mt50": tuple(SENTENCES),
    # The 11 tasks of the AVDC paper, the Meta-World benchmark we report on.
    "avdc11": (
        "door-open",
        "door-close",
        "basketball",
        "shelf-place",
        "button-press",
        "button-press-topdown",
        "faucet-close",
        "faucet-open",
        "handle-press",
        "hammer",
        "assembly",
    ),
}


class UnknownTaskError(ValueError):
    pass


def canonical(name: str) -> str:
    """'door-open-v3' or 'door-open' -> 'door-open'; raises UnknownTaskError listing valid names."""
    base = name.strip().removesuffix("-v3")
    if base not in SENTENCES:
        raise UnknownTaskError(
            f"unknown Meta-World task {name!r}; valid tasks: {', '.join(sorted(SENTENCES))} "
            f"(or a suite: {', '.join(SUITES)})"
        )
    return base


def env_name(task: str) -> str:
    """Meta-World's own name for a task."""
    return canonical(task) + "-v3"


def sentence(task: str) -> str:
    return SENTENCES[canonical(task)]


def resolve_tasks(spec: str) -> list[str]:
    """A task spec (names, a suite, or a file of names) -> canonical names, in order, no repeats."""
    path = Path(spec)
    if spec not in SUITES and path.is_file():
        items = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    else:
        items = spec.split(",")
    names: list[str] = []
    for item in filter(None, (i.strip() for i in items)):
        for name in SUITES.get(item.lower(), (item,)):
            name = canonical(name)
            if name not in names:
                names.append(name)
    if not names:
        raise UnknownTaskError(f"no tasks in {spec!r}")
    return names
