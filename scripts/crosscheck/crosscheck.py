"""Record reference trajectories from the Python environments for `pars envs crosscheck`.

For each environment: reset the Python reference with a seed, save its exact start state
(qpos, qvel and the task's own values), step it with seeded random actions (float32, so
both sides apply the same numbers) and save observations, rewards and termination. The
Rust side starts from the saved state, applies the same actions and compares.

Usage: python crosscheck.py OUT_DIR [ENV_ID ...]   (default: every environment)
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

STEPS = 300  # steps per environment, over as many episodes as it takes
SEED = 0


def random_actions(rng, act_dim):
    """Uniform in [-1, 1], exactly representable as float32."""
    return rng.uniform(-1.0, 1.0, size=act_dim).astype(np.float32)


def record_episodes(reset, step, act_dim, steps=STEPS, seed=SEED, max_len=None):
    """Run `reset(seed) -> (qpos, qvel, task, obs)` and `step(a) -> (obs, r, term)` for
    `steps` steps in all, starting a new episode after termination or `max_len` steps."""
    rng = np.random.default_rng(seed + 12345)
    episodes, done, k = [], 0, 0
    while done < steps:
        qpos, qvel, task, obs = reset(seed + k)
        ep = dict(qpos=list(map(float, qpos)), qvel=list(map(float, qvel)),
                  task=list(map(float, task)), obs=[list(map(float, obs))],
                  actions=[], rewards=[], terminated=[])
        t = 0
        while done < steps:
            a = random_actions(rng, act_dim)
            obs, r, term = step(a.astype(np.float64))
            ep["actions"].append([float(x) for x in a])
            ep["obs"].append(list(map(float, obs)))
            ep["rewards"].append(float(r))
            ep["terminated"].append(bool(term))
            done += 1
            t += 1
            if term or (max_len is not None and t >= max_len):
                break
        episodes.append(ep)
        k += 1
    return episodes


# D4RL semantics are Gymnasium's v4; the v5 ids are Gymnasium's v5 (Minari's MuJoCo data).
LOCOMOTION = {"hopper-v2": "Hopper-v4", "halfcheetah-v2": "HalfCheetah-v4",
              "walker2d-v2": "Walker2d-v4", "hopper-v5": "Hopper-v5",
              "halfcheetah-v5": "HalfCheetah-v5", "walker2d-v5": "Walker2d-v5"}


def locomotion(env_id):
    import gymnasium as gym

    name = LOCOMOTION[env_id]
    env = gym.make(name).unwrapped
    data = env.data

    def reset(seed):
        obs, _ = env.reset(seed=seed)
        return data.qpos.copy(), data.qvel.copy(), [], obs

    def step(a):
        obs, r, term, _, _ = env.step(a)
        return obs, r, term

    eps = record_episodes(reset, step, env.action_space.shape[0], max_len=1000)
    return f"gymnasium {gym.__version__} {name}", eps


def references():
    refs = {k: locomotion for k in LOCOMOTION}
    try:
        import crosscheck_antmaze
        refs.update({k: crosscheck_antmaze.record for k in crosscheck_antmaze.ENV_IDS})
    except ImportError:
        pass
    try:
        import crosscheck_pointmaze
        refs.update({k: crosscheck_pointmaze.record for k in crosscheck_pointmaze.ENV_IDS})
    except ImportError:
        pass
    try:
        import crosscheck_adroit
        refs.update({k: crosscheck_adroit.record for k in crosscheck_adroit.ENV_IDS})
    except ImportError:
        pass
    return refs


def main():
    out = sys.argv[1]
    refs = references()
    ids = sys.argv[2:] or list(refs)
    os.makedirs(out, exist_ok=True)
    for env_id in ids:
        if env_id not in refs:
            sys.exit(f"no reference for {env_id}; known: {', '.join(refs)}")
        reference, episodes = refs[env_id](env_id)
        path = os.path.join(out, f"{env_id}.json")
        with open(path, "w") as f:
            json.dump(dict(env=env_id, reference=reference, episodes=episodes), f)
        n = sum(len(e["actions"]) for e in episodes)
        print(f"{env_id}: {len(episodes)} episodes, {n} steps -> {path}")


if __name__ == "__main__":
    main()
