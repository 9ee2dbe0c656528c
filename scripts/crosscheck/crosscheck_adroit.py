"""Reference trajectories for the Adroit tasks (pen, door, hammer, relocate), used by
crosscheck.py: gymnasium-robotics' AdroitHand*-v1 environments, with the two places where
they differ from D4RL (whose semantics our environments follow) corrected from the
reference's own state after each step:

- door, hammer, relocate: gymnasium-robotics adds +0.1·‖palm − object‖ to the reward where
  D4RL subtracts it (Gymnasium-Robotics PR #220), so D4RL's reward is the reference reward
  minus 0.2·‖palm − object‖;
- pen: D4RL ends the episode when the pen falls below z = 0.075; gymnasium-robotics
  never terminates.

Episodes are cut at D4RL's limits (pen 100 steps, the others 200).
"""
import numpy as np

GYM_IDS = {"pen-v1": "AdroitHandPen-v1", "door-v1": "AdroitHandDoor-v1",
           "hammer-v1": "AdroitHandHammer-v1", "relocate-v1": "AdroitHandRelocate-v1"}

# D4RL's semantics (corrected below), and gymnasium-robotics' own under its ids
ENV_IDS = list(GYM_IDS) + list(GYM_IDS.values())

D4RL_LIMITS = {"pen-v1": 100, "door-v1": 200, "hammer-v1": 200, "relocate-v1": 200}


def task_state(env_id, u):
    """The task values our `set_episode_state` takes, read from the model as
    gymnasium-robotics' `reset_model` left them."""
    m = u.model
    if env_id == "pen-v1":
        return list(m.body_quat[u.target_obj_body_id])  # desired_orien (quaternion)
    if env_id == "door-v1":
        return list(m.body_pos[u.door_body_id])  # door_body_pos
    if env_id == "hammer-v1":
        return list(m.body_pos[u.target_body_id])  # board_pos
    # relocate: obj_pos (ball body) and target_pos (target site, parent world)
    return list(m.body_pos[u.obj_body_id]) + list(m.site_pos[u.target_obj_site_id])


def d4rl_correction(env_id, u, reward, terminated):
    """D4RL's reward and termination from gymnasium-robotics' ones and its state after
    the step (the same, not re-computed, positions its own reward used)."""
    d = u.data
    if env_id == "pen-v1":
        # D4RL: done = True when the pen drops (its -5 penalty is already in the reward).
        return reward, bool(d.xpos[u.obj_body_id][2] < 0.075)
    if env_id == "door-v1":
        palm, other = d.site_xpos[u.grasp_site_id], d.site_xpos[u.handle_site_id]
    else:  # hammer, relocate: palm to the hammer / the ball
        palm, other = d.site_xpos[u.S_grasp_site_id], d.xpos[u.obj_body_id]
    # gymnasium-robotics: +0.1·‖palm − X‖ (sign bug); D4RL: −0.1·‖palm − X‖.
    return reward - 0.2 * np.linalg.norm(palm - other), terminated


def record(env_id):
    import gymnasium as gym
    import gymnasium_robotics

    from crosscheck import record_episodes

    gym.register_envs(gymnasium_robotics)
    own = env_id not in GYM_IDS
    name = env_id if own else GYM_IDS[env_id]
    d4rl_id = next(k for k, v in GYM_IDS.items() if name == v)
    env = gym.make(name).unwrapped
    data = env.data

    def reset(seed):
        obs, _ = env.reset(seed=seed)
        return data.qpos.copy(), data.qvel.copy(), task_state(d4rl_id, env), obs

    def step(a):
        obs, r, term, _, _ = env.step(a)
        if not own:
            r, term = d4rl_correction(env_id, env, r, term)
        return obs, r, term

    limit = 200 if own else D4RL_LIMITS[env_id]
    eps = record_episodes(reset, step, env.action_space.shape[0], max_len=limit)
    fix = "" if own else " (D4RL termination)" if env_id == "pen-v1" else " (D4RL reward sign)"
    reference = f"gymnasium-robotics {gymnasium_robotics.__version__} {name}{fix}"
    return reference, eps
