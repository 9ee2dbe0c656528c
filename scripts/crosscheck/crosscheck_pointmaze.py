"""Reference mazes for the cross-check: Gymnasium-Robotics' own `PointMaze_*-v3` and
`AntMaze_*-v4`.

The recorded observation is what our environment returns: PointMaze's `observation`
(x, y, vx, vy), AntMaze's `achieved_goal` then `observation` (qpos then qvel, 29 numbers);
the task state is the goal. Random actions seldom reach a goal, so
every second episode moves the goal to 0.3 beside the start (the sparse reward is then
paid on some steps); the dense variant compares exp(-distance) on every step.
"""
import numpy as np

from crosscheck import record_episodes

ENV_IDS = [
    "PointMaze_UMaze-v3",
    "PointMaze_MediumDense-v3",
    "PointMaze_Open_Diverse_GR-v3",
    "AntMaze_UMaze-v4",
    "AntMaze_MediumDense-v4",
    "AntMaze_Large_Diverse_GR-v4",
]


def record(env_id):
    import gymnasium as gym
    import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)
    env = gym.make(env_id).unwrapped
    data = env.data
    count = [0]

    def flat(obs):
        if env_id.startswith("AntMaze"):
            return np.concatenate([obs["achieved_goal"], obs["observation"]])
        return obs["observation"]

    def reset(seed):
        obs, _ = env.reset(seed=seed)
        if count[0] % 2 == 1:
            env.goal = data.qpos[:2] + np.array([0.3, 0.0])
            env.update_target_site_pos()
        count[0] += 1
        return data.qpos.copy(), data.qvel.copy(), list(env.goal), flat(obs)

    def step(a):
        obs, r, term, _, _ = env.step(a)
        return flat(obs), r, term

    eps = record_episodes(reset, step, env.action_space.shape[0], max_len=100)
    return f"gymnasium-robotics {gymnasium_robotics.__version__} {env_id}", eps
