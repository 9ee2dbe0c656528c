"""numpy arrays → PARS → evaluation → a plot of the run.

A dataset is rolled out in the native Hopper with a noisy hand-made controller (any
logged data works the same way: five numpy arrays), PARS is trained on it while it is
evaluated every `EVAL_EVERY` steps, the result is scored, and the learning curve is saved
as quickstart.png. PARS_EXAMPLE_STEPS shortens it (the tests run it with 200)."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import pars_rl

STEPS = int(os.environ.get("PARS_EXAMPLE_STEPS", "20000"))
EVAL_EVERY = max(STEPS // 10, 1)

# 1. A dataset as numpy arrays: 20 episodes of a random linear controller plus noise.
env = pars_rl.make_env("hopper-v2", seed=0)
rng = np.random.default_rng(0)
gain = rng.normal(0.0, 0.3, size=(env.action_space.shape[0], env.observation_space.shape[0]))
obs_l, act_l, rew_l, term_l, tout_l = [], [], [], [], []
for episode in range(20):
    obs, _ = env.reset(seed=episode)
    done = False
    while not done:
        action = np.clip(gain @ obs + rng.normal(0.0, 0.3, size=gain.shape[0]), -1, 1)
        next_obs, reward, terminated, truncated, _ = env.step(action.astype(np.float32))
        obs_l.append(obs)
        act_l.append(action)
        rew_l.append(reward)
        term_l.append(terminated)
        tout_l.append(truncated)
        obs, done = next_obs, terminated or truncated
data = pars_rl.Dataset(
    observations=np.asarray(obs_l, dtype=np.float32),
    actions=np.asarray(act_l, dtype=np.float32),
    rewards=np.asarray(rew_l, dtype=np.float32),
    terminals=np.asarray(term_l),
    timeouts=np.asarray(tout_l),
)
print(data)

# 2. PARS with the paper's Hopper settings, at width 64 to keep this quick on a laptop.
algo = pars_rl.PARSConfig("hopper-medium-v2", hidden=64).create(seed=0)
result = algo.fit(
    data, n_steps=STEPS, eval_env="hopper-v2", eval_every=EVAL_EVERY, eval_episodes=5,
    run_dir="runs/quickstart", force=True,
)
print(f"{result['steps_per_s']:.0f} steps/s, run in {result['run_dir']}")

# 3. Score the policy (D4RL normalised: 0 = random, 100 = expert) next to the data's own.
score = pars_rl.evaluate(algo, "hopper-v2", episodes=10)
behaviour = pars_rl.evaluate(
    lambda o: np.clip(gain @ o, -1, 1).astype(np.float32), "hopper-v2", episodes=10
)
print(f"PARS {score['mean_score']:.1f} ± {score['std_score']:.1f}, "
      f"behaviour controller {behaviour['mean_score']:.1f}")

# 4. The learning curve and the critic's estimate on the data, from the metrics rows.
rows = result["metrics"]
evals = [r for r in rows if "eval_score" in r]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
ax1.plot([r["step"] for r in evals], [r["eval_score"] for r in evals], marker="o")
ax1.set(xlabel="gradient step", ylabel="normalised score", title="evaluation")
ax2.plot([r["step"] for r in rows], [r["q_data"] for r in rows])
ax2.set(xlabel="gradient step", ylabel="Q on data", title="critic")
fig.tight_layout()
fig.savefig("quickstart.png", dpi=120)

# 5. Ship the policy: a safetensors file that Policy.load, `pars eval` and Rust read.
algo.save_policy("quickstart-policy.safetensors")
policy = pars_rl.Policy.load("quickstart-policy.safetensors")
assert np.array_equal(policy(data.observations[:5]), algo.predict(data.observations[:5]))
