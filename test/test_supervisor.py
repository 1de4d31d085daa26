"""amplify-bringup's supervision (processes, respawn, respawn_delay): the YAML schema, the
ROS-free supervisor with ``python -c`` children, and one bringup over DDS whose node is killed."""

import os
import re
import signal
import subprocess
import sys
import threading
import types
import uuid
from pathlib import Path

import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from harness import wait_until

from amplify_ros.nodes.bringup import NODES, BringupError, main, node_processes, read_bringup, read_graph
from amplify_ros.nodes.launch_graph import launch_config
from amplify_ros.nodes.supervisor import PRCTL, Child, Supervisor, describe_exit

REPO = Path(__file__).resolve().parents[1]
EXIT = [sys.executable, "-c", "import sys; sys.exit(int(sys.argv[1]))"]  # + the code
SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]
READY_SLEEP = [
    sys.executable,
    "-c",  # + a file it creates once started
    "import pathlib, sys, time; pathlib.Path(sys.argv[1]).touch(); time.sleep(60)",
]


def write_bringup(path: Path, **settings) -> Path:
    section = {"nodes": ["policy_node", "arm_output_node"], **settings}
    path.write_text(yaml.safe_dump({"amplify_bringup": {"ros__parameters": section}}))
    return path


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_bringup_schema_reads_processes_respawn_and_delays(tmp_path):
    default = read_bringup(write_bringup(tmp_path / "a.yaml"))
    assert not default.processes and all(not n.respawn and n.respawn_delay == 0.0 for n in default.nodes)
    config = write_bringup(tmp_path / "b.yaml", processes=True, respawn=["policy_node"], respawn_delay=2)
    policy, arm = read_graph(config)
    assert (policy.respawn, policy.respawn_delay, arm.respawn, arm.respawn_delay) == (True, 2.0, False, 0.0)
    for every in ("all", True):
        config = write_bringup(
            tmp_path / "c.yaml", processes=True, respawn=every, respawn_delay={"arm_output_node": 1.5}
        )
        policy, arm = read_graph(config)
        assert (policy.respawn, policy.respawn_delay, arm.respawn, arm.respawn_delay) == (True, 0.0, True, 1.5)
    graph = read_bringup(REPO / "config" / "real_arm.yaml")
    assert graph.processes and [n.module for n in graph.nodes if n.respawn] == ["policy_node"]


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"respawn": ["policy_node"]}, r"respawn \['policy_node'\] needs processes: true"),
        ({"processes": "yes"}, "processes is true or false, not 'yes'"),
        ({"processes": True, "respawn": ["tracker_node"]}, r"respawn names \['tracker_node'\], which nodes"),
        ({"processes": True, "respawn": "policy_node"}, "respawn is a list of nodes"),
        (
            {"processes": True, "respawn": "all", "respawn_delay": -1.0},
            "respawn_delay is a number of seconds >= 0, not -1.0",
        ),
        (
            {"processes": True, "respawn": "all", "respawn_delay": {"policy_node": "soon"}},
            "respawn_delay.policy_node is a number",
        ),
        (
            {"processes": True, "respawn": ["policy_node"], "respawn_delay": {"arm_output_node": 1.0}},
            r"respawn_delay names \['arm_output_node'\], which respawn \['policy_node'\] does not restart",
        ),
        ({"processes": True, "respwan": "all"}, r"amplify_bringup has no setting \['respwan'\]"),
    ],
)
def test_bringup_schema_rejects_bad_values_and_says_why(tmp_path, settings, message):
    with pytest.raises(BringupError, match=message):
        read_graph(write_bringup(tmp_path / "bad.yaml", **settings))


def test_each_node_runs_as_its_module_with_the_arguments_build_nodes_gives_it(tmp_path):
    config = tmp_path / "graph.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "amplify_bringup": {
                    "ros__parameters": {
                        "nodes": ["keyboard_teleop_node", "recorder_node"],
                        "processes": True,
                        "respawn": ["recorder_node"],
                        "respawn_delay": 0.5,
                        "remappings": ["amplify_recorder:joint_states:=/ee_state"],
                    }
                }
            }
        )
    )
    keyboard, recorder = node_processes(config, ["--ros-args", "--log-level", "debug"])
    assert recorder.argv == [
        sys.executable,
        "-m",
        "amplify_ros.nodes.recorder_node",
        "--ros-args",
        "--log-level",
        "debug",
        "--ros-args",
        "--params-file",
        str(config),
        "-r",
        "joint_states:=/ee_state",
    ]
    assert (recorder.name, recorder.respawn, recorder.respawn_delay) == ("amplify_recorder", True, 0.5)
    assert not recorder.foreground
    assert keyboard.foreground and not keyboard.respawn  # reads keys: stays in the terminal's process group
    assert main([str(config), "--executor", "multi"]) == 2  # no executor choice when each node spins alone
    for module in NODES:  # `python -m amplify_ros.nodes.<module>` runs the node
        source = (REPO / "amplify_ros" / "nodes" / f"{module}.py").read_text()
        assert 'if __name__ == "__main__":\n    main()' in source, module


def test_launch_files_pass_respawn_to_launch_ros(tmp_path, monkeypatch):
    """launch and launch_ros are not on PyPI: stand-ins that record what the launch file asks for."""
    made = []
    fakes = {
        "launch": {"LaunchDescription": list},
        "launch.actions": {"DeclareLaunchArgument": lambda *a, **k: None, "OpaqueFunction": lambda function: function},
        "launch_ros": {},
        "launch_ros.actions": {"Node": lambda **kwargs: made.append(kwargs)},
    }
    for name, attrs in fakes.items():
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))
    config = write_bringup(tmp_path / "graph.yaml", processes=True, respawn=["policy_node"], respawn_delay=3.0)
    values = {"config": str(config), "terminal": "xterm -e"}
    monkeypatch.setitem(
        sys.modules,
        "launch.substitutions",
        types.SimpleNamespace(
            LaunchConfiguration=lambda name: types.SimpleNamespace(perform=lambda context: values[name])
        ),
    )
    _, _, nodes_of = launch_config("sim_demo")()
    nodes_of(None)
    assert [(n["name"], n["respawn"], n["respawn_delay"]) for n in made] == [
        ("amplify_policy", True, 3.0),
        ("amplify_arm_output", False, 0.0),
    ]


def test_exit_statuses_read_as_words():
    assert describe_exit(0) == "exit code 0" and describe_exit(3) == "exit code 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL" and describe_exit(-signal.SIGINT) == "killed by SIGINT"


def test_a_respawning_child_restarts_after_its_delay_and_counts_restarts():
    log = []
    child = Child("quitter", [*EXIT, "3"], respawn=True, respawn_delay=5.0)
    supervisor = Supervisor([child], log=log.append)
    try:
        supervisor.start()
        for restart in (1, 2):
            pid = child.proc.pid
            child.proc.wait(timeout=20)
            assert supervisor.poll(now=100.0)  # times of our own: the 5 s delay without waiting for it
            assert log[-1] == f"quitter (pid {pid}) exited: exit code 3; restarting in 5 s"
            assert child.proc is None and supervisor.poll(now=104.9) and child.proc is None
            assert supervisor.poll(now=105.0) and child.proc is not None
            assert log[-1] == f"quitter restarted (pid {child.proc.pid}, restart {restart})"
            assert child.restarts == restart
    finally:
        supervisor.stop()


def test_a_child_without_respawn_stays_down_while_the_rest_run_on(tmp_path):
    log = []
    quitter = Child("quitter", [*EXIT, "0"])
    sleeper = Child("sleeper", [*READY_SLEEP, str(tmp_path / "ready")], respawn=True)
    supervisor = Supervisor([quitter, sleeper], log=log.append, grace=60.0)  # a loaded machine: no SIGKILL race
    try:
        supervisor.start()
        pid, sleeping = quitter.proc.pid, sleeper.proc.pid
        wait_until(lambda: supervisor.poll() and quitter.proc is None, "the quitter to be seen gone")
        assert log[-1] == f"quitter (pid {pid}) exited: exit code 0; not restarted (respawn is off)"
        assert supervisor.poll() and quitter.proc is None and sleeper.proc.poll() is None and sleeper.restarts == 0
        wait_until(
            (tmp_path / "ready").exists, "the sleeper to start"
        )  # past its start-up, where a SIGINT reads as exit code 1
    finally:
        supervisor.stop()
    assert log[-1] == f"sleeper (pid {sleeping}) stopped: killed by SIGINT"  # Python's default Ctrl-C


def test_stop_kills_a_child_that_ignores_sigint_after_the_grace_period(tmp_path):
    ready = tmp_path / "ready"
    stubborn = Child(
        "stubborn",
        [
            sys.executable,
            "-c",
            "import pathlib, signal, sys, time; "
            "signal.signal(signal.SIGINT, signal.SIG_IGN); pathlib.Path(sys.argv[1]).touch(); "
            "time.sleep(60)",
            str(ready),
        ],
    )
    log = []
    supervisor = Supervisor([stubborn], log=log.append, grace=0.3)
    supervisor.start()
    pid = stubborn.proc.pid
    wait_until(ready.exists, "the stubborn child to start")
    supervisor.stop()
    assert log[-2:] == [
        f"stubborn (pid {pid}) still running 0.3 s after SIGINT: SIGKILL",
        f"stubborn (pid {pid}) stopped: killed by SIGKILL",
    ]
    assert not alive(pid)


def test_run_returns_once_every_child_is_down_for_good():
    for codes, expected in (((0, 0), 0), ((0, 1), 1)):
        stop = threading.Event()
        deadline = threading.Timer(30.0, stop.set)  # a hung run() returns 0 here, and the assert says so
        deadline.start()
        log = []
        try:
            supervisor = Supervisor([Child(f"c{i}", [*EXIT, str(c)]) for i, c in enumerate(codes)], log=log.append)
            assert supervisor.run(stop, 0.02) == expected
        finally:
            deadline.cancel()
        assert log[-1] == "every node has exited"


@pytest.mark.skipif(PRCTL is None, reason="PR_SET_PDEATHSIG is Linux's")
def test_children_do_not_outlive_a_supervisor_killed_with_sigkill(tmp_path):
    script = (
        "import sys, threading; from amplify_ros.nodes.supervisor import Child, Supervisor; "
        f"Supervisor([Child('sleeper', {SLEEP!r})]).run(threading.Event())"
    )
    log = tmp_path / "supervisor.log"
    with log.open("w") as out:
        supervisor = subprocess.Popen([sys.executable, "-c", script], stderr=out)
    try:
        wait_until(
            lambda: "sleeper started (pid" in log.read_text(), lambda: "the sleeper to start; log:\n" + log.read_text()
        )
        pid = int(re.search(r"sleeper started \(pid (\d+)\)", log.read_text())[1])
        assert alive(pid)
        supervisor.kill()
        supervisor.wait(timeout=20)
        wait_until(lambda: not alive(pid), f"pid {pid} to end with its supervisor")
    finally:
        supervisor.kill()


@pytest.mark.timeout(120)
def test_bringup_restarts_a_node_killed_with_sigkill_over_dds(ros, tmp_path):
    """A real arm_output_node as a process: kill -9, logged and restarted with its parameters and
    remappings (it reports 'running', enabled from the YAML, on its remapped /diagnostics), then
    SIGTERM stops the bringup and every node."""
    topic = f"/diagnostics_{uuid.uuid4().hex[:8]}"
    config = tmp_path / "arm.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "amplify_bringup": {
                    "ros__parameters": {
                        "nodes": ["arm_output_node"],
                        "processes": True,
                        "respawn": ["arm_output_node"],
                        "respawn_delay": {"arm_output_node": 0.5},
                        "remappings": [f"amplify_arm_output:/diagnostics:={topic}"],
                    }
                },
                "amplify_arm_output": {"ros__parameters": {"joint_names": ["j0"], "enabled": True}},
            }
        )
    )
    log = tmp_path / "bringup.log"
    with log.open("w") as out:
        bringup = subprocess.Popen(
            [str(Path(sys.executable).parent / "amplify-bringup"), str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    diagnostics = ros.listen(DiagnosticArray, topic, 10)

    def logged(pattern: str) -> re.Match:
        ros.spin_until(
            lambda: re.search(pattern, log.read_text()), lambda: f"{pattern!r} in the log:\n{log.read_text()}", 60.0
        )
        return re.search(pattern, log.read_text())

    def running() -> bool:
        return any(s.message == "running" for m in diagnostics for s in m.status)

    pids = []
    try:
        pids.append(int(logged(r"amplify_arm_output started \(pid (\d+)\)")[1]))
        ros.spin_until(running, lambda: "the node's 'running' on /diagnostics; log:\n" + log.read_text(), 60.0)
        os.kill(pids[0], signal.SIGKILL)
        exited = rf"amplify_arm_output \(pid {pids[0]}\) exited: killed by SIGKILL; restarting in 0.5 s"
        logged(exited)
        pids.append(int(logged(r"amplify_arm_output restarted \(pid (\d+), restart 1\)")[1]))
        diagnostics.clear()  # what comes now comes from the new process
        ros.spin_until(
            running, lambda: "the restarted node's 'running' on /diagnostics; log:\n" + log.read_text(), 60.0
        )
        bringup.send_signal(signal.SIGTERM)
        assert bringup.wait(timeout=30) == 0, log.read_text()
        assert f"amplify_arm_output (pid {pids[1]}) stopped: exit code 0" in log.read_text()  # clean, on SIGINT
        wait_until(
            lambda: not any(alive(pid) for pid in pids),
            lambda: f"every node to end; alive: {[p for p in pids if alive(p)]}",
        )
    finally:
        bringup.kill()  # the nodes follow it (PR_SET_PDEATHSIG)
