"""Tests of the installed `pars_rl` wheel. The `pars` binary (PARS_BIN, default
target/release/pars of this checkout) writes the datasets and the command-line runs the
Python runs are compared with, byte for byte."""

import os
import pathlib
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import pars_rl

ROOT = pathlib.Path(__file__).resolve().parents[2]
PARS = os.environ.get("PARS_BIN", str(ROOT / "target" / "release" / "pars"))


def pars(*args, cwd):
    r = subprocess.run([PARS, *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    pars("collect", "--quiet", "--env", "hopper-v2", "--steps", "2000", "--seed", "0",
         "--out", "hopper.hdf5", cwd=d)
    return d


# status.json holds a process id and times; the event file holds wall times (its
# scalars are compared with metrics.csv in the TensorBoard tests)
def same_run_dirs(a: pathlib.Path, b: pathlib.Path,
                  skip=("status.json", "events.out.tfevents.pars")):
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    compared = 0
    for rel in files_a:
        if rel.name in skip:
            continue
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), f"{rel} differs"
        compared += 1
    assert compared >= 5


def test_fit_predict_save_load(data_dir, tmp_path):
    data = pars_rl.load_dataset(data_dir / "hopper.hdf5")
    assert len(data) == 2000 and data.obs_dim == 11 and data.act_dim == 3
    algo = pars_rl.PARSConfig("hopper-medium-v2", hidden=32).create(seed=3)
    rows = []
    out = algo.fit(data, 300, run_dir=tmp_path / "run", callback=rows.append, progress=False)
    assert out["run_dir"] == str(tmp_path / "run") and out["steps_per_s"] > 0
    assert rows and rows[-1]["step"] == 300 and np.isfinite(rows[-1]["td_loss"])
    obs = data.observations[:17]
    actions = algo.predict(obs)
    assert actions.shape == (17, 3) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 1.0)
    np.testing.assert_array_equal(algo.predict(obs[0]), actions[0])
    algo.save_policy(tmp_path / "p.safetensors")
    loaded = pars_rl.Policy.load(tmp_path / "p.safetensors")
    np.testing.assert_array_equal(loaded(obs), actions)
    # the run's own policy file is the same actor
    np.testing.assert_array_equal(
        pars_rl.Policy.load(tmp_path / "run" / "policy.safetensors")(obs), actions
    )
    np.testing.assert_array_equal(pars_rl.Policy.load(tmp_path / "run")(obs), actions)
    with pytest.raises(ValueError, match="has no policy.safetensors"):
        pars_rl.Policy.load(tmp_path)


def test_fit_equals_pars_train(data_dir, tmp_path):
    data = pars_rl.load_dataset(data_dir / "hopper.hdf5")
    algo = pars_rl.PARSConfig("hopper-medium-v2", hidden=32).create(seed=1)
    os.chdir(data_dir)  # both runs name the dataset by the same relative path
    algo.fit(pars_rl.load_dataset("hopper.hdf5"), 400, eval_env="hopper-v2", eval_every=200,
             eval_episodes=2, run_dir=tmp_path / "py", progress=False)
    pars("train", "--quiet", "--preset", "hopper-medium-v2", "--set", "agent.hidden=32",
         "--dataset", "hopper.hdf5", "--env", "hopper-v2", "--seed", "1", "--steps", "400",
         "--set", "eval_every=200", "--set", "eval_episodes=2", "--out", str(tmp_path / "cli"),
         cwd=data_dir)
    same_run_dirs(tmp_path / "py", tmp_path / "cli")
    assert data.transitions == 2000


def test_numpy_fit_equals_pars_train_on_its_dataset_copy(data_dir, tmp_path):
    f = pars_rl.load_dataset(data_dir / "hopper.hdf5")
    # other dtypes are converted: float64 observations, 0/1 int flags
    data = pars_rl.Dataset(f.observations.astype(np.float64), f.actions, f.rewards,
                           f.terminals.astype(np.int64), f.timeouts)
    os.chdir(tmp_path)
    pars_rl.TD3PlusBCConfig(hidden=32).create(seed=2).fit(data, 300, run_dir="py",
                                                          progress=False)
    assert (tmp_path / "py" / "dataset.hdf5").is_file()
    pars("train", "--quiet", "--preset", "td3bc", "--set", "agent.hidden=32", "--dataset",
         "py/dataset.hdf5", "--seed", "2", "--steps", "300", "--out", "cli", cwd=tmp_path)
    (tmp_path / "cli" / "dataset.hdf5").write_bytes((tmp_path / "py" / "dataset.hdf5").read_bytes())
    same_run_dirs(tmp_path / "py", tmp_path / "cli")


def test_resume_continues_the_run(data_dir, tmp_path):
    data = pars_rl.load_dataset(data_dir / "hopper.hdf5")
    cfg = pars_rl.PARSConfig(hidden=32, checkpoint_every=100, log_every=50)
    cfg.create(seed=0).fit(data, 200, run_dir=tmp_path / "whole", progress=False)

    class Crash(Exception):
        pass

    def crash(row):
        if row["step"] == 150:  # after the checkpoint at step 100
            raise Crash

    with pytest.raises(Crash):
        cfg.create(seed=0).fit(data, 200, run_dir=tmp_path / "part", callback=crash,
                               progress=False)
    assert not (tmp_path / "part" / "policy.safetensors").exists()
    algo = cfg.create(seed=0)
    algo.fit(None, 200, run_dir=tmp_path / "part", resume=True, progress=False)
    for f in ("metrics.csv", "policy.safetensors"):
        assert (tmp_path / "whole" / f).read_bytes() == (tmp_path / "part" / f).read_bytes()


@pytest.mark.parametrize("env_id", pars_rl.env_ids())
def test_env_checker(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unbounded-observation-box notes
        check_env(pars_rl.make_env(env_id), skip_render_check=True)
        env = gym.make(f"pars_rl/{env_id}")
        check_env(env.unwrapped, skip_render_check=True)
    env = pars_rl.make_env(env_id, seed=5)
    o1, _ = env.reset()
    o2, _ = pars_rl.make_env(env_id).reset(seed=5)
    np.testing.assert_array_equal(o1, o2)


def test_env_episode_ends_at_its_limit():
    env = pars_rl.make_env("pointmaze-umaze-v0", seed=0)
    env.reset()
    steps, done = 0, False
    while not done:
        _, _, term, trunc, info = env.step(np.zeros(2, dtype=np.float32))
        steps += 1
        done = term or trunc
    assert steps == env.max_episode_steps and trunc and "success" in info
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(2, dtype=np.float32))


def test_evaluate_native_and_python_agree(data_dir, tmp_path):
    algo = pars_rl.PARSConfig("hopper-medium-v2", hidden=32).create(seed=0)
    algo.fit(pars_rl.load_dataset(data_dir / "hopper.hdf5"), 100, run_dir=tmp_path / "r",
             progress=False)
    native = pars_rl.evaluate(algo, "hopper-v2", episodes=3)
    policy = algo.policy()
    python = pars_rl.evaluate(lambda o: policy(o), "hopper-v2", episodes=3)
    assert native["returns"] == pytest.approx(python["returns"], rel=1e-9)
    lo, hi = pars_rl._native.reference_returns("hopper-v2")
    assert native["scores"][0] == pytest.approx(100 * (native["returns"][0] - lo) / (hi - lo))
    assert native["success_rate"] is None and len(native["lengths"]) == 3


def test_maze_policy_beats_random(tmp_path):
    pars("collect", "--quiet", "--env", "pointmaze-umaze-v0", "--steps", "50000", "--seed",
         "0", "--out", "maze.hdf5", cwd=tmp_path)
    data = pars_rl.load_dataset(tmp_path / "maze.hdf5")
    algo = pars_rl.PARSConfig("pointmaze", hidden=64, gamma=0.99).create(seed=0)
    algo.fit(data, 10_000, run_dir=tmp_path / "run", progress=False)
    rng = np.random.default_rng(0)
    random = pars_rl.evaluate(lambda o: rng.uniform(-1, 1, 2), "pointmaze-umaze-v0", 10)
    trained = pars_rl.evaluate(algo, "pointmaze-umaze-v0", 10)
    assert trained["success_rate"] >= 0.8, trained
    assert trained["success_rate"] >= random["success_rate"] + 0.5


def test_presets_and_configs():
    p = pars_rl.presets()
    assert p["pars"]["agent"]["critic_layer_norm"] is True
    assert p["td3bc"]["agent"]["critic_layer_norm"] is False
    assert "rebrac-hopper-medium-v2" in p
    assert pars_rl.ReBRACConfig("hopper-medium-v2").preset == "rebrac-hopper-medium-v2"
    assert 'hidden = 64' in pars_rl.PARSConfig(hidden=64).to_toml()


@pytest.mark.parametrize(
    "make, err, msg",
    [
        (lambda: pars_rl.PARSConfig("nosuch"), ValueError, "unknown preset 'nosuch'"),
        (lambda: pars_rl.PARSConfig(nosuch=1), ValueError, "unknown setting 'nosuch'"),
        (lambda: pars_rl.PARSConfig("iql"), ValueError, "use IQLConfig"),
        (lambda: pars_rl.PARSConfig(alpha=[1]), TypeError, "must be a bool, int, float or str"),
        (lambda: pars_rl.ReBRACConfig(), ValueError, "needs the dataset"),
        (lambda: pars_rl.make_env("nosuch-v0"), ValueError, "nosuch-v0"),
        (lambda: pars_rl.load_dataset("missing.hdf5"), ValueError, "missing.hdf5"),
    ],
)
def test_bad_names(make, err, msg):
    with pytest.raises(err, match=msg):
        make()


def arrays(n=50, obs=4, act=2):
    rng = np.random.default_rng(0)
    return dict(observations=rng.normal(size=(n, obs)), actions=rng.uniform(-1, 1, (n, act)),
                rewards=rng.normal(size=n), terminals=np.zeros(n, bool))


@pytest.mark.parametrize(
    "change, err, msg",
    [
        (dict(observations=np.zeros(50)), ValueError, "'observations' must be 2-D"),
        (dict(actions=np.zeros((50, 2, 1))), ValueError, "'actions' must be 2-D"),
        (dict(rewards=np.zeros((50, 2))), ValueError, "'rewards' must be 1-D"),
        (dict(rewards=np.zeros(49)), ValueError, "expected 49 rows"),
        (dict(terminals=np.zeros(51, bool)), ValueError, "'terminals' has 51 values"),
        (dict(observations=np.array([["a"] * 4] * 50)), TypeError, "numeric array"),
        (dict(rewards=np.array([None] * 50)), TypeError, "numeric array"),
    ],
)
def test_bad_arrays(change, err, msg):
    a = arrays()
    a.update(change)
    with pytest.raises(err, match=msg):
        pars_rl.Dataset(**a)


def test_nan_and_bad_fit_write_nothing(tmp_path):
    a = arrays()
    a["observations"][7, 1] = np.nan
    with pytest.raises(ValueError, match=r"'observations' has a non-finite value \(NaN\) at row 7"):
        pars_rl.Dataset(**a)
    data = pars_rl.Dataset(**arrays())
    algo = pars_rl.PARSConfig(hidden=16).create()
    with pytest.raises(ValueError, match="unknown environment|nosuch"):
        algo.fit(data, 10, eval_env="nosuch-v0", run_dir=tmp_path / "r", progress=False)
    with pytest.raises(ValueError, match="n_steps"):
        algo.fit(data, 0, run_dir=tmp_path / "r", progress=False)
    with pytest.raises(TypeError, match="pars_rl.Dataset"):
        algo.fit(arrays(), 10, run_dir=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()
    with pytest.raises(RuntimeError, match="not trained"):
        algo.predict(np.zeros((1, 4)))
    algo.fit(data, 10, run_dir=tmp_path / "r", progress=False)
    with pytest.raises(ValueError, match="columns"):
        algo.predict(np.zeros((1, 5)))
    with pytest.raises(ValueError, match="non-finite"):
        algo.predict(np.full((1, 4), np.inf))
    # a second fit into a finished run is refused unless forced
    with pytest.raises(RuntimeError, match="force|exists|holds"):
        algo.fit(data, 10, run_dir=tmp_path / "r", progress=False)


def test_callback_exception_is_raised_as_itself(data_dir, tmp_path):
    class Stop(Exception):
        pass

    def cb(row):
        raise Stop("from the callback")

    algo = pars_rl.PARSConfig(hidden=16, log_every=10).create()
    with pytest.raises(Stop, match="from the callback"):
        algo.fit(pars_rl.load_dataset(data_dir / "hopper.hdf5"), 50, run_dir=tmp_path / "r",
                 callback=cb, progress=False)


def test_quickstart_example_runs(tmp_path):
    """docs/python.md's example, shortened to 200 steps."""
    pytest.importorskip("matplotlib")
    script = ROOT / "python" / "examples" / "quickstart.py"
    env = dict(os.environ, PARS_EXAMPLE_STEPS="200")
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "PARS" in r.stdout and "steps/s" in r.stdout
    assert (tmp_path / "quickstart.png").stat().st_size > 10_000
    assert (tmp_path / "runs" / "quickstart" / "metrics.csv").is_file()


def test_fit_releases_the_gil(data_dir, tmp_path):
    import threading

    data = pars_rl.load_dataset(data_dir / "hopper.hdf5")
    algo = pars_rl.PARSConfig(hidden=64).create(seed=0, threads=1)
    ticks, stop = [0], threading.Event()

    def count():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        before = ticks[0]
        algo.fit(data, 400, run_dir=tmp_path / "r", progress=False)
        during = ticks[0] - before
    finally:
        stop.set()
        t.join()
    # a held GIL would leave the counting thread only the interpreter's switch interval
    assert during > 10_000, during


CTRL_C_SCRIPT = """
import pathlib, sys, pars_rl
data = pars_rl.load_dataset(sys.argv[1])
algo = pars_rl.PARSConfig(hidden=32, log_every=50).create(seed=0)
def started(row):
    pathlib.Path(sys.argv[3]).touch()
try:
    algo.fit(data, 10_000_000, run_dir=sys.argv[2], callback=started, progress=False)
except KeyboardInterrupt as e:
    print("KeyboardInterrupt:", e)
    sys.exit(7)
"""


def test_ctrl_c_checkpoints_then_raises_keyboard_interrupt(data_dir, tmp_path):
    import json
    import signal
    import time

    script, run, flag = tmp_path / "fit.py", tmp_path / "run", tmp_path / "started"
    script.write_text(CTRL_C_SCRIPT)
    p = subprocess.Popen([sys.executable, str(script), str(data_dir / "hopper.hdf5"), str(run),
                          str(flag)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not flag.exists():
        assert p.poll() is None and time.time() < deadline, p.communicate()
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 7, (out, err)
    assert "KeyboardInterrupt" in out
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "interrupted" and status["last_checkpoint"] == status["step"]
    # it goes on from there
    algo = pars_rl.PARSConfig(hidden=32, log_every=50).create(seed=0)
    out = algo.fit(None, status["step"] + 50, run_dir=run, resume=True, progress=False)
    assert out["metrics"][-1]["step"] == status["step"] + 50


def tensorboard_scalars(run: pathlib.Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = [p.name for p in run.iterdir() if "tfevents" in p.name]
    assert files == ["events.out.tfevents.pars"], files
    ea = EventAccumulator(str(run), size_guidance={"scalars": 0})
    ea.Reload()
    return {t: [(e.step, e.value) for e in ea.Scalars(t)] for t in ea.Tags()["scalars"]}


def csv_scalars(run: pathlib.Path):
    import csv

    out = {}
    with open(run / "metrics.csv") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if k != "step" and v != "" and v.lower() != "nan":
                    out.setdefault(k, []).append((int(row["step"]), float(v)))
    return out


def assert_events_match_metrics(run: pathlib.Path):
    tb, csv_ = tensorboard_scalars(run), csv_scalars(run)
    assert sorted(tb) == sorted(csv_) and "td_loss" in tb
    for tag, rows in csv_.items():
        assert [s for s, _ in tb[tag]] == [s for s, _ in rows], tag
        np.testing.assert_allclose([v for _, v in tb[tag]], [v for _, v in rows],
                                   rtol=1e-6, err_msg=tag)


def test_tensorboard_event_files_hold_the_metrics(tmp_path):
    pytest.importorskip("tensorboard")
    pars("collect", "--quiet", "--env", "pointmaze-umaze-v0", "--steps", "3000", "--out",
         "u.hdf5", cwd=tmp_path)
    pars("train", "--quiet", "--dataset", "u.hdf5", "--env", "pointmaze-umaze-v0",
         "--hidden", "32", "--steps", "300", "--log-every", "50", "--eval-every", "100",
         "--eval-episodes", "2", "--out", "off", cwd=tmp_path)
    assert_events_match_metrics(tmp_path / "off")
    assert "eval_score" in tensorboard_scalars(tmp_path / "off")
    pars("online", "--quiet", "--algo", "sac", "--env", "pointmaze-umaze-v0", "--hidden", "32",
         "--steps", "600", "--random-steps", "200", "--learning-starts", "200",
         "--log-every", "100", "--eval-every", "300", "--eval-episodes", "2", "--out", "on",
         cwd=tmp_path)
    assert_events_match_metrics(tmp_path / "on")
    pars("train", "--quiet", "--dataset", "u.hdf5", "--hidden", "32", "--steps", "100",
         "--no-tensorboard", "--out", "none", cwd=tmp_path)
    assert not (tmp_path / "none" / "events.out.tfevents.pars").exists()
    # a resumed run's file is rewritten from its checkpoint: no row twice
    data = pars_rl.load_dataset(tmp_path / "u.hdf5")
    cfg = pars_rl.PARSConfig(hidden=32, checkpoint_every=100, log_every=50)

    def crash(row):
        if row["step"] == 150:
            raise KeyError("stop")

    with pytest.raises(KeyError):
        cfg.create().fit(data, 200, run_dir=tmp_path / "res", callback=crash, progress=False)
    assert [s for s, _ in tensorboard_scalars(tmp_path / "res")["td_loss"]] == [50, 100, 150]
    cfg.create().fit(None, 200, run_dir=tmp_path / "res", resume=True, progress=False)
    assert [s for s, _ in tensorboard_scalars(tmp_path / "res")["td_loss"]] == [50, 100, 150, 200]
    assert_events_match_metrics(tmp_path / "res")


def collect_minari(env, dataset_id, episodes, seed=0, refs=(-20.0, 3234.3)):
    """A dataset written by Minari's own DataCollector, random actions."""
    from minari import DataCollector

    collector = DataCollector(env)
    collector.action_space.seed(seed)
    for ep in range(episodes):
        collector.reset(seed=seed + ep)
        done = False
        while not done:
            _, _, term, trunc, _ = collector.step(collector.action_space.sample())
            done = term or trunc
    return collector.create_dataset(dataset_id=dataset_id, algorithm_name="uniform random",
                                    author="pars tests", ref_min_score=refs[0],
                                    ref_max_score=refs[1])


class GoalDict(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """A native maze with Gymnasium-Robotics' dict observation layout."""

    def __init__(self, env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        box = lambda n: gym.spaces.Box(-np.inf, np.inf, (n,), np.float32)
        self.observation_space = gym.spaces.Dict(
            observation=box(4), achieved_goal=box(2), desired_goal=box(2))

    def observation(self, obs):
        return {"observation": obs, "achieved_goal": obs[:2].copy(),
                "desired_goal": np.array([7.0, 8.0], dtype=np.float32)}


def test_minari_datasets_by_id_with_dict_observations(tmp_path, monkeypatch):
    minari = pytest.importorskip("minari")
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = collect_minari(gym.make("pars_rl/hopper-v2"), "pars/hopper/random-v0", 4)
        collect_minari(GoalDict(gym.make("pars_rl/pointmaze-umaze-v0")), "pars/umaze/dict-v0", 2)
        assert minari.load_dataset("pars/hopper/random-v0").total_steps == flat.total_steps
    env = dict(os.environ)
    info = subprocess.run([PARS, "data", "info", "pars/hopper/random-v0"], capture_output=True,
                          text=True, env=env, cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    for s in ("main_data.hdf5", "Minari metadata", "pars/hopper/random-v0", "pars_rl/hopper-v2",
              "min -20, max 3234.3", "uniform random", "pars tests"):
        assert s in info.stdout, (s, info.stdout)
    # by id, by directory, from Python; the rows are the collector's
    data = pars_rl.load_dataset("pars/hopper/random-v0")
    assert len(data) == flat.total_steps and data.obs_dim == 11
    first = next(iter(flat.iterate_episodes()))
    np.testing.assert_array_equal(data.observations[: len(first.actions)],
                                  first.observations[:-1])
    pars("train", "--quiet", "--dataset", str(root / "pars/hopper/random-v0"), "--env",
         "hopper-v2", "--hidden", "32", "--steps", "50", "--eval-episodes", "1", cwd=tmp_path)
    runs = [p.name for p in (tmp_path / "runs").iterdir()]
    assert runs == ["pars-pars-hopper-random-v0-s0"], runs
    # dict observations: observation then desired_goal by default, or --obs-keys
    d = pars_rl.load_dataset("pars/umaze/dict-v0")
    assert d.obs_dim == 6 and np.all(d.observations[:, 4:] == [7.0, 8.0])
    d = pars_rl.load_dataset("pars/umaze/dict-v0", obs_keys=["observation"])
    assert d.obs_dim == 4
    out = pars_rl.PARSConfig("pointmaze", hidden=32).create().fit(
        d, 50, eval_env="pointmaze-umaze-v0", eval_episodes=1, run_dir=tmp_path / "dict",
        progress=False)
    assert "final_score" in out
    assert 'obs_keys = ["observation"]' in (tmp_path / "dict" / "config.toml").read_text()
    # an id that is not there: the local ones are listed, nothing is fetched
    with pytest.raises(ValueError, match=r"'pars/hopper/expert-v0' is not in .*does not download.*"
                       r"local ids: pars/hopper/random-v0, pars/umaze/dict-v0"):
        pars_rl.load_dataset("pars/hopper/expert-v0")


def test_a_gymnasium_hopper_v5_dataset_trains_and_evaluates_in_hopper_v5(tmp_path, monkeypatch):
    """Minari's MuJoCo datasets come from Gymnasium's v5 environments: `pars train` without
    --env evaluates in the native hopper-v5 and normalises with the dataset's scores."""
    import json
    import tomllib

    pytest.importorskip("minari")
    pytest.importorskip("mujoco")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect_minari(gym.make("Hopper-v5"), "mujoco/hopper/medium-v0", 3, refs=(-5.0, 995.0))
    pars("train", "--quiet", "--dataset", "mujoco/hopper/medium-v0", "--preset",
         "hopper-medium-v2", "--steps", "50", "--hidden", "32", "--eval-episodes", "2",
         "--out", "run", cwd=tmp_path)
    cfg = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert cfg["env"] == "hopper-v5" and cfg["score_reference"] == [-5.0, 995.0]
    ev = json.loads((tmp_path / "run" / "final_eval.json").read_text())
    assert ev["mean_score"] == pytest.approx((ev["mean_return"] + 5.0) / 10.0, abs=1e-9)
    # the same from Python: a fit on the loaded dataset takes its environment and scores
    out = pars_rl.PARSConfig("hopper-medium-v2", hidden=32).create(seed=0).fit(
        pars_rl.load_dataset("mujoco/hopper/medium-v0"), 50, eval_episodes=2,
        run_dir=tmp_path / "py", progress=False)
    cfg = tomllib.loads((tmp_path / "py" / "config.toml").read_text())
    assert cfg["env"] == "hopper-v5" and cfg["score_reference"] == [-5.0, 995.0]
    assert out["final_score"] == pytest.approx((out["final_return"] + 5.0) / 10.0, abs=1e-9)


def test_a_gymnasium_robotics_point_maze_dataset_evaluates_in_its_maze(tmp_path, monkeypatch):
    """A dict-observation PointMaze_UMaze-v3 dataset from Minari's DataCollector: flattened
    to the `observation` part, evaluated without --env in the native PointMaze_UMaze-v3
    made from the dataset's spec, scored with the dataset's reference scores."""
    import json
    import tomllib

    pytest.importorskip("minari")
    gymnasium_robotics = pytest.importorskip("gymnasium_robotics")
    gym.register_envs(gymnasium_robotics)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect_minari(gym.make("PointMaze_UMaze-v3"), "D4RL/pointmaze/umaze-v2", 2,
                       refs=(10.0, 110.0))
    data = pars_rl.load_dataset("D4RL/pointmaze/umaze-v2")
    assert data.obs_dim == 4 and len(data) == 600
    pars("train", "--quiet", "--dataset", "D4RL/pointmaze/umaze-v2", "--preset", "pointmaze",
         "--steps", "50", "--hidden", "32", "--eval-episodes", "2", "--out", "run", cwd=tmp_path)
    cfg = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    env = json.loads(cfg["env"])
    assert env["id"] == "PointMaze_UMaze-v3" and env["max_episode_steps"] == 300
    assert env["kwargs"]["reward_type"] == "sparse" and env["kwargs"]["continuing_task"]
    assert cfg["score_reference"] == [10.0, 110.0]
    ev = json.loads((tmp_path / "run" / "final_eval.json").read_text())
    assert ev["mean_length"] == 300
    assert ev["mean_score"] == pytest.approx(ev["mean_return"] - 10.0, abs=1e-9)


def test_pars_collect_writes_a_dataset_minari_opens(tmp_path, monkeypatch):
    minari = pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    pars("collect", "--quiet", "--env", "pointmaze-umaze-v0", "--steps", "2000", "--format",
         "minari", "--dataset-id", "pars/umaze/diverse-v0", cwd=tmp_path)
    d = minari.load_dataset("pars/umaze/diverse-v0")
    ours = pars_rl.load_dataset("pars/umaze/diverse-v0")
    assert d.total_steps == len(ours) == 2000
    assert d.observation_space.shape == (4,) and d.action_space.shape == (2,)
    rows = 0
    for ep in d.iterate_episodes():
        t = len(ep.actions)
        np.testing.assert_array_equal(ep.observations[:-1], ours.observations[rows:rows + t])
        np.testing.assert_array_equal(ep.observations[1:], ours.next_observations[rows:rows + t])
        np.testing.assert_array_equal(ep.rewards, ours.rewards[rows:rows + t])
        rows += t
    assert rows == 2000
    # the environment comes back as the native one, through pars_rl's registration
    env = d.recover_environment()
    assert isinstance(env.unwrapped, pars_rl.ParsEnv)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4,)
    # an existing dataset is not overwritten; a bad id is refused before collecting
    for args, msg in ((["--dataset-id", "pars/umaze/diverse-v0"], "exists"),
                      (["--dataset-id", "umaze"], "not a Minari id")):
        r = subprocess.run([PARS, "collect", "--env", "pointmaze-umaze-v0", "--steps", "10",
                            "--format", "minari", *args], cwd=tmp_path, capture_output=True,
                           text=True)
        assert r.returncode == 1 and msg in r.stderr, r.stderr
