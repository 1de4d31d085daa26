"""sim_bridge_node: a Meta-World arm and camera in MuJoCo behind the topics a real setup uses.

Publishes camera/image_raw + camera/camera_info (with ``compression`` jpeg or png also
camera/image_raw/compressed, as image_transport would), joint_states, ee_state, /clock, the task on
amplify/task, sim/success and sim/episode_result; takes amplify/command (the policy's next
action); sim/reset (std_srvs/Trigger) cuts the episode short, or runs one more after the last of
``episodes``. With ``publish_expert`` the scripted expert's action for each frame goes out as a
teleoperator's twist on sim/expert_twist (the mapping of ``amplify_ros.control.teleop``), so
teleop_node can drive the arm with it exactly as it relays a human's joystick. Two ways to step:

- lockstep (default): a frame is published, the simulation waits for the command stamped with
  that frame, then steps. The clock is the simulation's, so results do not depend on how fast
  the machine is; a frame is published again if no command comes within ``command_timeout``.
  An episode's first frame waits until something publishes on amplify/command (a policy still
  loading would miss it, or its task).
- realtime: the simulation steps at ``rate`` Hz whatever happens, using the latest command if it
  is fresh and holding still (a zero action) otherwise, as a real arm's controller would.

The schedule of both is ``amplify_ros.sim.stepping.StepSchedule``; this node renders, publishes
and steps as it says.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Header, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.control.teleop import action_twist
from amplify_ros.core.tracks import IMAGE_SIZE
from amplify_ros.nodes.bringup import NodeStartError, run_node
from amplify_ros.nodes.camera_msgs import CompressedPublisher, Compression, camera_info, compressed_publisher
from amplify_ros.nodes.command_msgs import twist_stamped_msg
from amplify_ros.nodes.conversions import numpy_to_imgmsg
from amplify_ros.nodes.diagnostics import DiagnosticsReporter, Health
from amplify_ros.nodes.parameters import LiveParameters
from amplify_ros.nodes.qos import image_qos, latched_qos
from amplify_ros.nodes.stamps import header_at, stamp_seconds
from amplify_ros.nodes.tensor_msgs import trajectory_to_chunk
from amplify_ros.sim.session import EE_STATE_NAMES, EpisodeResult, SimSession, check_action
from amplify_ros.sim.stepping import StepSchedule

WAITING = "waiting for a publisher on amplify/command"  # lockstep: a first frame nobody could answer


@dataclass(frozen=True)
class SimCamera:
    name: str  # MuJoCo camera
    frame_id: str
    k: np.ndarray  # 3x3 intrinsics
    image_pub: object
    info_pub: object
    compressed_pub: CompressedPublisher | None  # <namespace>/image_raw/compressed


class SimBridgeNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("amplify_sim_bridge", **kwargs)
        self.health = Health()
        p = LiveParameters(self)
        task = p.declare(
            "task",
            "button-press-topdown",
            "Meta-World task (e.g. door-open); changing it starts episode 0 of the new task",
            apply=self._set_task,
        )
        image_size = p.declare("image_size", IMAGE_SIZE, "rendered image side (px)", range=(32, 1024))
        camera = p.declare("camera", "corner", "MuJoCo camera to render on camera/image_raw")
        self.extra_cameras = p.declare(
            "extra_cameras",
            [],
            "more MuJoCo cameras (e.g. corner2, gripperPOV), each on "
            "<name>/image_raw + <name>/camera_info with the main frame's stamp, published "
            "before it (for multi-view policies: the same names in their extra_cameras)",
        )
        seed = p.declare(
            "seed", 1_000_003, "episode i starts from a variation seeded by (seed, task, i)", range=(0, 2**31 - 1)
        )
        self.mode = p.declare(
            "mode",
            "lockstep",
            "lockstep: wait for each frame's command; realtime: step at 'rate' whatever happens",
            choices=("lockstep", "realtime"),
        )
        self.rate = p.declare(
            "rate",
            80.0,
            "realtime mode: frames (= commands) per second, each advancing "
            "action_repeat simulator steps (Meta-World real time: 80 / action_repeat)",
            range=(1.0, 1000.0),
        )
        max_steps = p.declare(
            "max_steps",
            500,
            "simulator-step limit of an episode (Meta-World: 500)",
            range=(1, 100000),
            apply=lambda value: setattr(self.session, "max_steps", value),
        )
        self.episodes = p.declare(
            "episodes",
            0,
            "stop stepping after this many episodes (0: never)",
            range=(0, 1000000),
            apply=p.setter("episodes"),
        )
        timeout = p.declare(
            "command_timeout",
            1.0,
            "lockstep: republish the frame after this long without its "
            "command; realtime: older commands are not used (s, wall)",
            range=(0.001, 60.0),
            apply=lambda value: setattr(self.schedule, "command_timeout", value),
        )
        pause = p.declare(
            "reset_pause",
            0.2,
            "wait after publishing a new episode's task before its first frame, so every node has seen it (s, wall)",
            range=(0.0, 10.0),
            apply=lambda value: setattr(self.schedule, "reset_pause", value),
        )
        self.schedule = StepSchedule(self.mode, timeout, pause)
        self.frame_id = p.declare("frame_id", "camera_optical_frame", "frame_id of the image and camera info")

        repeat = p.declare(
            "action_repeat",
            1,
            "simulator steps per frame and command: a policy trained on data "
            "recorded with --action-repeat K acts every K steps (80/K Hz)",
            range=(1, 100),
        )
        try:
            self.session = SimSession(task, image_size, (camera, *self.extra_cameras), seed, max_steps, repeat)
        except ValueError as err:  # a camera the task's model does not have
            raise NodeStartError(str(err)) from err
        qos = image_qos(
            p.declare("image_qos", "reliable", "camera QoS (see policy_node)", choices=("sensor_data", "reliable"))
        )
        self.compression = Compression.declare(p, "each <camera>/image_raw")
        self.cameras = [self.camera_out(camera, "camera", self.frame_id, qos)]
        self.cameras += [self.camera_out(name, name, f"{name}_optical_frame", qos) for name in self.extra_cameras]
        self.joints_pub = self.create_publisher(JointState, "joint_states", 10)
        self.ee_pub = self.create_publisher(JointState, "ee_state", 10)
        self.clock_pub = self.create_publisher(Clock, "/clock", 10)
        self.task_pub = self.create_publisher(String, "amplify/task", latched_qos())
        self.success_pub = self.create_publisher(Bool, "sim/success", 10)
        self.result_pub = self.create_publisher(String, "sim/episode_result", QoSProfile(depth=100))
        publish_expert = p.declare(
            "publish_expert",
            False,
            "publish the scripted expert's action for each frame on "
            "sim/expert_twist (geometry_msgs/TwistStamped, the frame's header), for teleop_node",
        )
        self.expert_pub = self.create_publisher(TwistStamped, "sim/expert_twist", 10) if publish_expert else None
        self.create_subscription(JointTrajectory, "amplify/command", self.on_command, QoSProfile(depth=10))
        self.create_service(Trigger, "sim/reset", self.on_reset)
        self.diagnostics = DiagnosticsReporter(self, self.health)

        self.health.status = "running"
        self.start_episode()
        # wall-clock timer, fires whatever /clock does; lockstep: it only watches for a missing command
        self.create_timer(0.05 if self.mode == "lockstep" else 1.0 / self.rate, self.on_tick)

    def camera_out(self, name: str, namespace: str, frame_id: str, qos: QoSProfile) -> SimCamera:
        """The publishers of one rendered camera: <namespace>/image_raw, <namespace>/camera_info and,
        with compression, <namespace>/image_raw/compressed."""
        return SimCamera(
            name,
            frame_id,
            self.session.sim.camera_models[name].intrinsics(),
            self.create_publisher(Image, f"{namespace}/image_raw", qos),
            self.create_publisher(CameraInfo, f"{namespace}/camera_info", qos),
            compressed_publisher(self, f"{namespace}/image_raw", qos, self.compression),
        )

    # --- parameters -------------------------------------------------------------------------
    def _set_task(self, task: str) -> None:
        self.session.set_task(task)  # raises ValueError naming the valid tasks: the change is rejected
        self.schedule.finished = False
        self.start_episode()

    # --- publishing -------------------------------------------------------------------------
    def start_episode(self) -> None:
        self.task_pub.publish(String(data=self.session.sentence))
        self.get_logger().info(f"{self.session.task} episode {self.session.episode}: {self.session.sentence!r}")
        self.schedule.start_episode(time.monotonic())

    def publish_observation(self) -> None:
        header = header_at(round(self.session.time * 1e9), self.frame_id)
        self.clock_pub.publish(Clock(clock=header.stamp))
        names, q = self.session.arm_joints()
        self.joints_pub.publish(JointState(header=header, name=names, position=q.tolist()))
        self.ee_pub.publish(
            JointState(header=header, name=EE_STATE_NAMES, position=self.session.ee_state().astype(float).tolist())
        )
        for cam in reversed(self.cameras):  # the main camera last: when it arrives, the others are there
            image = self.session.render(cam.name)
            frame = Header(stamp=header.stamp, frame_id=cam.frame_id)
            cam.info_pub.publish(camera_info(cam.k, *image.shape[:2], frame))
            cam.image_pub.publish(numpy_to_imgmsg(image, "rgb8", frame))
            if cam.compressed_pub is not None:  # after the raw frame: encoding never delays it
                cam.compressed_pub.publish(image, frame)
        if self.expert_pub is not None:  # after the frame: a teleoperator acts on what it sees
            self.expert_pub.publish(twist_stamped_msg(action_twist(self.session.expert_action()), header))
        self.schedule.frame_sent(self.session.time, time.monotonic())

    # --- stepping ---------------------------------------------------------------------------
    def on_command(self, msg: JointTrajectory) -> None:
        try:
            action = check_action(trajectory_to_chunk(msg)[0])
        except ValueError as err:
            self.health.drop("bad_command", str(err))
            self.get_logger().error(f"ignoring command: {err}", throttle_duration_sec=2.0)
            return
        if self.schedule.command(action, stamp_seconds(msg.header), time.monotonic()):
            self.advance(action)

    def advance(self, action: np.ndarray) -> None:
        start = time.perf_counter()
        result = self.session.step(action)
        self.success_pub.publish(Bool(data=result is not None and result.success))
        if result is not None:
            self.report(result)
        elif self.mode == "lockstep":
            self.publish_observation()
        self.health.ok((time.perf_counter() - start) * 1e3)

    def on_tick(self) -> None:
        tick = self.schedule.tick(time.monotonic(), lambda: self.count_publishers("amplify/command") > 0)
        if tick.waiting or self.health.status == WAITING:
            self.health.status = WAITING if tick.waiting else "running"
        if tick.refusal is not None:
            self.health.drop(tick.refusal)  # realtime: holding still, as a controller without commands does
        if tick.action is not None:
            self.advance(tick.action)
            if self.schedule.finished or self.schedule.awaiting_first_frame:  # the episode ended
                return
        if tick.publish:
            self.publish_observation()

    def report(self, result: EpisodeResult) -> None:
        self.result_pub.publish(String(data=json.dumps(result.as_dict())))
        done = len(self.session.results)
        wins = sum(r.success for r in self.session.results)
        self.get_logger().info(
            f"episode {result.index} of {result.task}: {result.reason} after {result.steps} steps "
            f"({wins}/{done} successful so far)"
        )
        if self.episodes and done >= self.episodes:
            self.schedule.finished = True
            self.health.status = f"finished {done} episodes"
            return
        self.start_episode()

    def on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.schedule.finished:  # after the last of `episodes`: run one more (its simulation is reset already)
            self.schedule.finished = False
            self.health.status = "running"
            self.start_episode()
        else:
            self.report(self.session.finish("reset"))
        response.success = True
        response.message = (
            f"finished {len(self.session.results)} episodes; reset again to run one more"
            if self.schedule.finished
            else f"started episode {self.session.episode} of {self.session.task}"
        )
        return response


def main(args: list[str] | None = None) -> None:
    run_node(SimBridgeNode, args)


if __name__ == "__main__":
    main()
