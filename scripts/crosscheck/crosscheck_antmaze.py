"""Reference AntMaze for the cross-check, written independently of the Rust code.

No installable package ships D4RL's AntMaze (d4rl needs mujoco-py), so this file rebuilds
it on the `mujoco` bindings: Gymnasium's ant.xml is edited into D4RL's ant (time step
0.02, default geom solimp ".8 .8 .01", motors ctrlrange +-30 with gear 1), one box per wall
cell is appended to the world body the way D4RL's MazeEnv does it, and D4RL's evaluation
semantics are re-implemented: NormalizedBoxEnv action scaling, frame skip 5, observation
qpos[:15] ++ qvel[:14], sparse reward and termination within 0.5 m of the goal, reset noise
U(+-0.1) on qpos and 0.1 N(0,1) on qvel, goal = goal cell + U(0,1) + U(0,0.5) per axis.

Random actions leave the ant near its start, so of every three episodes one starts as
D4RL's reset does, one starts the ant a little short of the goal and moving towards it (so
reward and termination are compared), and one launches it into the wall left of the start
cell (so wall contacts are compared).
"""
import os
import xml.etree.ElementTree as ET

import gymnasium
import mujoco
import numpy as np

from crosscheck import record_episodes

# D4RL's maps (1 wall, 0 free, R start, G goal); rows become +y, columns +x.
R, G = "r", "g"
U_MAZE_TEST = [
    [1, 1, 1, 1, 1],
    [1, R, 0, 0, 1],
    [1, 1, 1, 0, 1],
    [1, G, 0, 0, 1],
    [1, 1, 1, 1, 1],
]
BIG_MAZE_TEST = [
    [1, 1, 1, 1, 1, 1, 1, 1],
    [1, R, 0, 1, 1, 0, 0, 1],
    [1, 0, 0, 1, 0, 0, 0, 1],
    [1, 1, 0, 0, 0, 1, 1, 1],
    [1, 0, 0, 1, 0, 0, 0, 1],
    [1, 0, 1, 0, 0, 1, 0, 1],
    [1, 0, 0, 0, 1, 0, G, 1],
    [1, 1, 1, 1, 1, 1, 1, 1],
]
HARDEST_MAZE_TEST = [
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    [1, R, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1],
    [1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1],
    [1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1],
    [1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1],
    [1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1],
    [1, 0, 0, 1, 0, 0, 0, 1, 0, G, 0, 1],
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
]
ULTRA_MAZE_TEST = [
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    [1, R, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1],
    [1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1],
    [1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 1],
    [1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1],
    [1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1],
    [1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 1, 1],
    [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1],
    [1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1],
    [1, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, G, 1],
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
]

# env id -> (map, wall count, outer extent of the walls as (xmin, xmax, ymin, ymax))
MAZES = {
    "antmaze-umaze-v2": (U_MAZE_TEST, 18, (-6, 14, -6, 14)),
    "antmaze-medium-v2": (BIG_MAZE_TEST, 38, (-6, 26, -6, 26)),
    "antmaze-large-v2": (HARDEST_MAZE_TEST, 62, (-6, 42, -6, 30)),
    "antmaze-ultra-v0": (ULTRA_MAZE_TEST, 103, (-6, 58, -6, 42)),
}
ENV_IDS = list(MAZES)

SCALING = 4.0  # maze_size_scaling
HEIGHT = 0.5  # maze_height
FRAME_SKIP = 5
GOAL_RADIUS = 0.5


def ant_xml_path():
    return os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", "ant.xml")


def build_model(maze_map):
    """Gymnasium's ant.xml with D4RL's physics and the maze walls, compiled."""
    root = ET.parse(ant_xml_path()).getroot()
    root.find("option").set("timestep", "0.02")
    default_geom = root.find("default").find("geom")
    default_geom.set("solref", ".02 1")
    default_geom.set("solimp", ".8 .8 .01")
    for motor in root.find("actuator").findall("motor"):
        motor.set("ctrlrange", "-30.0 30.0")
        motor.set("ctrllimited", "true")
        motor.attrib.pop("gear", None)
    # MazeEnv.__init__: the robot cell is the origin, one geom per wall cell.
    torso_x = torso_y = None
    for i, row in enumerate(maze_map):
        for j, c in enumerate(row):
            if c == R and torso_x is None:
                torso_x, torso_y = j * SCALING, i * SCALING
    worldbody = root.find("worldbody")
    for i, row in enumerate(maze_map):
        for j, c in enumerate(row):
            if c == 1:
                ET.SubElement(
                    worldbody, "geom",
                    name="block_%d_%d" % (i, j),
                    pos="%f %f %f" % (j * SCALING - torso_x, i * SCALING - torso_y,
                                      HEIGHT / 2 * SCALING),
                    size="%f %f %f" % (0.5 * SCALING, 0.5 * SCALING, HEIGHT / 2 * SCALING),
                    type="box", contype="1", conaffinity="1", rgba="0.7 0.5 0.3 1.0")
    model = mujoco.MjModel.from_xml_string(ET.tostring(root, encoding="unicode"))
    return model, (torso_x, torso_y)


def check_model(env_id, model):
    """The compiled model has D4RL's physics and the expected walls."""
    maze_map, n_walls, (x0, x1, y0, y1) = MAZES[env_id]
    assert model.nq == 15 and model.nv == 14 and model.nu == 8, env_id
    assert model.nbody == 14, (env_id, model.nbody)
    assert model.ngeom == 14 + n_walls, (env_id, model.ngeom)
    assert model.opt.timestep == 0.02
    assert np.all(model.actuator_gear[:, 0] == 1.0)
    assert np.all(model.actuator_ctrlrange == [-30.0, 30.0])
    assert np.all(model.geom_solimp[:, :3] == [0.8, 0.8, 0.01])
    boxes = [g for g in range(model.ngeom) if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX]
    assert len(boxes) == n_walls, env_id
    pos, size = model.geom_pos[boxes], model.geom_size[boxes]
    assert np.all(size == [2.0, 2.0, 1.0]) and np.all(pos[:, 2] == 1.0)
    assert np.all(model.geom_conaffinity[boxes] == 1) and np.all(model.geom_contype[boxes] == 1)
    lo, hi = (pos - size).min(axis=0), (pos + size).max(axis=0)
    assert (lo[0], hi[0], lo[1], hi[1]) == (x0, x1, y0, y1), (env_id, lo, hi)


class D4RLAntMaze:
    """AntMazeEnv(eval=True, reward_type='sparse', v2_resets) inside NormalizedBoxEnv."""

    def __init__(self, env_id):
        self.maze_map = MAZES[env_id][0]
        self.model, (self.torso_x, self.torso_y) = build_model(self.maze_map)
        check_model(env_id, self.model)
        self.data = mujoco.MjData(self.model)
        self.init_qpos = self.data.qpos.copy()
        self.init_qvel = self.data.qvel.copy()
        bounds = self.model.actuator_ctrlrange.copy().astype(np.float32)
        self.lb, self.ub = bounds.T
        self.goal = None

    def goal_sampler(self, rng):
        cells = [(i, j) for i, row in enumerate(self.maze_map)
                 for j, c in enumerate(row) if c == G]
        i, j = cells[rng.choice(len(cells))]
        x = j * SCALING - self.torso_x + rng.uniform(low=0, high=SCALING * 0.25)
        y = i * SCALING - self.torso_y + rng.uniform(low=0, high=SCALING * 0.25)
        rx = rng.uniform(low=0, high=0.5) * 0.25 * SCALING
        ry = rng.uniform(low=0, high=0.5) * 0.25 * SCALING
        return np.array([max(x + rx, 0), max(y + ry, 0)])

    def set_state(self, qpos, qvel):
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        mujoco.mj_forward(self.model, self.data)

    def obs(self):
        return np.concatenate([self.data.qpos[:15], self.data.qvel[:14]]).copy()

    def reset(self, seed, variant=0):
        rng = np.random.RandomState(seed)
        self.goal = self.goal_sampler(rng)
        qpos = self.init_qpos + rng.uniform(low=-0.1, high=0.1, size=self.model.nq)
        qvel = self.init_qvel + rng.randn(self.model.nv) * 0.1
        if variant == 1:
            # 0.6-0.9 m short of the goal, moving at 1 m/s towards it
            angle = rng.uniform(0, 2 * np.pi)
            u = np.array([np.cos(angle), np.sin(angle)])
            qpos[:2] = self.goal - rng.uniform(0.6, 0.9) * u
            qvel[:2] = u
        elif variant == 2:
            # 1 m from the wall cell left of the start (x < -2), moving at 3 m/s into it
            assert self.maze_map[int(self.torso_y / SCALING)][int(self.torso_x / SCALING) - 1] == 1
            qpos[0] = -1.0
            qvel[0] = -3.0
        self.set_state(qpos, qvel)
        return self.data.qpos.copy(), self.data.qvel.copy(), list(self.goal), self.obs()

    def step(self, a):
        scaled = self.lb + (a + 1.0) * 0.5 * (self.ub - self.lb)
        self.data.ctrl[:] = np.clip(scaled, self.lb, self.ub)
        for _ in range(FRAME_SKIP):
            mujoco.mj_step(self.model, self.data)
        dist = np.linalg.norm(self.data.qpos[:2] - self.goal)
        reached = dist <= GOAL_RADIUS
        return self.obs(), 1.0 if reached else 0.0, bool(reached)


def record(env_id):
    env = D4RLAntMaze(env_id)
    episodes_started = [0]

    def reset(seed):
        k = episodes_started[0]
        episodes_started[0] += 1
        return env.reset(seed, variant=k % 3)

    eps = record_episodes(reset, env.step, 8, max_len=150)
    m = env.model
    return (f"own D4RL AntMaze on mujoco {mujoco.__version__} + gymnasium "
            f"{gymnasium.__version__} ant.xml ({m.nbody} bodies, {m.ngeom} geoms)"), eps
