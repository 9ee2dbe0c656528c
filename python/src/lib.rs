//! `pars_rl._native`: the Rust side of the Python module. It holds no training code of
//! its own: datasets, configs, runs, policies, environments and evaluation are the
//! library's, called the way the `pars` commands call them, so a `fit` writes the run
//! directory `pars train` writes. The Python API (`pars_rl/__init__.py`) wraps these.
use anyhow::Context;
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pars::config::presets::{preset_names, resolve_train_config, TrainSources};
use pars::config::{Algorithm, IqlConfig, SacConfig, TrainConfig};
use pars::data::{RawDataset, Transitions};
use pars::nn::Tape;
use pars::run::MetricsRow;
use pars::training::{FinishedRun, Interrupted, RowHook};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The CLI's one-line form of an error (causes outermost first).
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn value_error(e: anyhow::Error) -> PyErr {
    PyValueError::new_err(one_line(&e))
}

/// A dataset: the arrays of a D4RL-layout file, and the file they came from (if any).
#[pyclass(module = "pars_rl._native", frozen)]
struct Dataset {
    raw: RawDataset,
    path: Option<PathBuf>,
    /// The dict observation keys it was read with (a fit passes them on).
    obs_keys: Option<Vec<String>>,
    /// (s, a, r, s', done) rows training samples from.
    transitions: usize,
}

#[pymethods]
impl Dataset {
    /// From arrays already checked for shape and dtype by the Python layer.
    #[staticmethod]
    #[pyo3(signature = (observations, actions, rewards, terminals, timeouts, next_observations=None))]
    fn from_arrays(
        observations: PyReadonlyArray2<'_, f32>,
        actions: PyReadonlyArray2<'_, f32>,
        rewards: PyReadonlyArray1<'_, f32>,
        terminals: PyReadonlyArray1<'_, bool>,
        timeouts: PyReadonlyArray1<'_, bool>,
        next_observations: Option<PyReadonlyArray2<'_, f32>>,
    ) -> PyResult<Self> {
        let obs = observations.as_array();
        let act = actions.as_array();
        let raw = RawDataset {
            obs_dim: obs.ncols(),
            act_dim: act.ncols(),
            observations: obs.iter().copied().collect(),
            actions: act.iter().copied().collect(),
            rewards: rewards.as_array().iter().copied().collect(),
            terminals: terminals.as_array().iter().copied().collect(),
            timeouts: timeouts.as_array().iter().copied().collect(),
            next_observations: next_observations.map(|n| n.as_array().iter().copied().collect()),
        };
        let transitions = Transitions::from_raw(&raw).map_err(value_error)?.len();
        Ok(Self {
            raw,
            path: None,
            obs_keys: None,
            transitions,
        })
    }

    /// A D4RL or Minari HDF5 file, a Minari dataset directory or id, read and checked
    /// as `pars train` reads it.
    #[staticmethod]
    #[pyo3(signature = (path, obs_keys=None))]
    fn load(path: PathBuf, obs_keys: Option<Vec<String>>) -> PyResult<Self> {
        let (raw, tr) =
            pars::data::load_transitions_with(&path, obs_keys.as_deref()).map_err(value_error)?;
        Ok(Self {
            raw,
            path: Some(path),
            obs_keys,
            transitions: tr.len(),
        })
    }

    /// Write the arrays as a D4RL-layout HDF5 file.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let raw = &self.raw;
        py.detach(|| pars::data::write_d4rl(&path, raw))
            .map_err(|e| PyRuntimeError::new_err(one_line(&e)))
    }

    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.path.clone()
    }
    #[getter]
    fn obs_dim(&self) -> usize {
        self.raw.obs_dim
    }
    #[getter]
    fn act_dim(&self) -> usize {
        self.raw.act_dim
    }
    /// Rows of the arrays.
    fn __len__(&self) -> usize {
        self.raw.len()
    }
    #[getter]
    fn transitions(&self) -> usize {
        self.transitions
    }
    #[getter]
    fn observations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        rows(py, &self.raw.observations, self.raw.obs_dim)
    }
    #[getter]
    fn actions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        rows(py, &self.raw.actions, self.raw.act_dim)
    }
    #[getter]
    fn next_observations<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<Bound<'py, PyArray2<f32>>>> {
        self.raw
            .next_observations
            .as_ref()
            .map(|n| rows(py, n, self.raw.obs_dim))
            .transpose()
    }
    #[getter]
    fn rewards<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_slice(py, &self.raw.rewards)
    }
    #[getter]
    fn terminals<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        PyArray1::from_slice(py, &self.raw.terminals)
    }
    #[getter]
    fn timeouts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        PyArray1::from_slice(py, &self.raw.timeouts)
    }
    /// What `pars data info` prints about it.
    fn summary(&self) -> String {
        pars::data::summarize(&self.raw).to_string()
    }
}

/// `data` ([n·width]) as an [n, width] array.
fn rows<'py>(py: Python<'py>, data: &[f32], width: usize) -> PyResult<Bound<'py, PyArray2<f32>>> {
    PyArray1::from_slice(py, data).reshape([data.len() / width.max(1), width])
}

/// A Python value as a config value.
fn toml_value(key: &str, v: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    // bool before int: Python's bool is an int
    if let Ok(b) = v.cast::<pyo3::types::PyBool>() {
        return Ok(toml::Value::Boolean(b.is_true()));
    }
    if let Ok(i) = v.extract::<i64>() {
        return Ok(toml::Value::Integer(i));
    }
    if let Ok(f) = v.extract::<f64>() {
        return Ok(toml::Value::Float(f));
    }
    if let Ok(s) = v.extract::<String>() {
        return Ok(toml::Value::String(s));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "setting '{key}' must be a bool, int, float or str, not {}",
        v.get_type().name()?
    )))
}

/// Where a bare setting name lives: the top level of the config, `agent`, `iql` or `sac`.
fn dotted_key(key: &str) -> anyhow::Result<String> {
    if key.contains('.') {
        return Ok(key.to_string());
    }
    let full = TrainConfig {
        iql: Some(IqlConfig::default()),
        sac: Some(SacConfig::default()),
        ..TrainConfig::default()
    };
    let v = toml::Value::try_from(&full)?;
    let t = v.as_table().context("config is a table")?;
    let tables = ["agent", "iql", "sac"];
    if t.contains_key(key) && !tables.contains(&key) {
        return Ok(key.to_string());
    }
    let homes: Vec<&str> = tables
        .iter()
        .copied()
        .filter(|tab| t[*tab].as_table().is_some_and(|x| x.contains_key(key)))
        .collect();
    match homes.as_slice() {
        [one] => Ok(format!("{one}.{key}")),
        [] => anyhow::bail!("unknown setting '{key}' (see `pars presets NAME` for the settings)"),
        many => anyhow::bail!(
            "setting '{key}' is ambiguous: name it as one of {}",
            many.iter()
                .map(|m| format!("'{m}.{key}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Resolve a preset plus overrides into a training config (TOML), as `pars train
/// --preset P --set K=V ...` does. Bad names and values raise `ValueError`.
#[pyfunction]
#[pyo3(signature = (preset, algorithm=None, overrides=None))]
fn resolve_config(
    preset: String,
    algorithm: Option<String>,
    overrides: Option<Bound<'_, PyDict>>,
) -> PyResult<String> {
    let mut flags = Vec::new();
    if let Some(a) = algorithm {
        flags.push(("algorithm".to_string(), toml::Value::String(a)));
    }
    if let Some(d) = overrides {
        for (k, v) in d.iter() {
            let k: String = k.extract()?;
            let key = dotted_key(&k).map_err(value_error)?;
            flags.push((key, toml_value(&k, &v)?));
        }
    }
    let cfg = resolve_train_config(&TrainSources {
        preset: Some(preset),
        flags,
        ..TrainSources::default()
    })
    .map_err(value_error)?;
    pars::run::config_toml(&cfg).map_err(|e| PyRuntimeError::new_err(one_line(&e)))
}

/// Every preset's resolved config, as JSON text keyed by name.
#[pyfunction]
fn presets_json() -> PyResult<String> {
    let mut out = serde_json::Map::new();
    for name in preset_names() {
        let cfg = resolve_train_config(&TrainSources {
            preset: Some(name.clone()),
            ..TrainSources::default()
        })
        .map_err(value_error)?;
        out.insert(
            name,
            serde_json::to_value(&cfg).map_err(|e| PyRuntimeError::new_err(e.to_string()))?,
        );
    }
    Ok(serde_json::Value::Object(out).to_string())
}

/// A metrics row as a dict of its non-empty columns.
fn row_dict<'py>(py: Python<'py>, row: &MetricsRow) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let line = row.csv_line();
    for (name, v) in pars::run::METRICS_HEADER.split(',').zip(line.split(',')) {
        if v.is_empty() {
            continue;
        }
        if name == "step" {
            d.set_item(name, v.parse::<u64>().unwrap_or(0))?;
        } else if let Ok(x) = v.parse::<f64>() {
            if !x.is_nan() {
                d.set_item(name, x)?;
            }
        }
    }
    Ok(d)
}

/// The thread pool a learner's work runs on: the training loop on one of its workers,
/// as the `pars` binary runs it (its layers then share that worker).
fn make_pool(threads: Option<usize>) -> PyResult<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new().stack_size(8 << 20);
    if let Some(n) = threads {
        if n == 0 {
            return Err(PyValueError::new_err("threads must be at least 1"));
        }
        b = b.num_threads(n);
    }
    b.build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the thread pool: {e}")))
}

/// An offline learner: a resolved config, and once trained, its networks.
#[pyclass(module = "pars_rl._native", unsendable)]
struct Trainer {
    cfg: TrainConfig,
    pool: Arc<rayon::ThreadPool>,
    threads: Option<usize>,
    learner: Option<Box<dyn pars::algos::Learner>>,
}

#[pymethods]
impl Trainer {
    #[new]
    #[pyo3(signature = (config_toml, seed=0, threads=None))]
    fn new(config_toml: &str, seed: u64, threads: Option<usize>) -> PyResult<Self> {
        let mut cfg: TrainConfig = toml::from_str(config_toml)
            .map_err(|e| PyValueError::new_err(format!("invalid configuration: {e}")))?;
        cfg.seed = seed;
        cfg.validate().map_err(value_error)?;
        Ok(Self {
            cfg,
            pool: Arc::new(make_pool(threads)?),
            threads,
            learner: None,
        })
    }

    #[getter]
    fn config_toml(&self) -> PyResult<String> {
        pars::run::config_toml(&self.cfg).map_err(|e| PyRuntimeError::new_err(one_line(&e)))
    }
    #[getter]
    fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| self.pool.current_num_threads())
    }
    #[getter]
    fn is_trained(&self) -> bool {
        self.learner.is_some()
    }

    /// Train on `dataset` for `n_steps` gradient steps in the run directory `run_dir`
    /// (default `runs/<label>-<dataset stem>-s<seed>`, `numpy` for arrays), or continue
    /// the run there with `resume`. `on_row(dict)` sees every metrics row.
    #[pyo3(signature = (dataset, n_steps, run_dir=None, eval_env=None, eval_every=None, eval_episodes=None, force=false, resume=false, on_row=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        &mut self,
        py: Python<'_>,
        dataset: Option<Py<Dataset>>,
        n_steps: u64,
        run_dir: Option<PathBuf>,
        eval_env: Option<String>,
        eval_every: Option<u64>,
        eval_episodes: Option<usize>,
        force: bool,
        resume: bool,
        on_row: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyDict>> {
        let mut cfg = self.cfg.clone();
        cfg.steps = n_steps;
        if eval_env.is_some() {
            cfg.env = eval_env;
        }
        if let Some(e) = eval_every {
            cfg.eval_every = e;
        }
        if let Some(e) = eval_episodes {
            cfg.eval_episodes = e;
        }
        cfg.validate().map_err(value_error)?;
        // an unknown evaluation environment is bad input, found before anything is written
        if let Some(id) = cfg.env.as_deref() {
            if !pars::envs::list_envs().iter().any(|e| e.id == id) {
                pars::envs::make_env(id).map(drop).map_err(value_error)?;
            }
        }
        let data = dataset.as_ref().map(|d| d.get());
        if let Some(keys) = data.and_then(|d| d.obs_keys.clone()) {
            cfg.obs_keys = Some(keys);
        }
        let run_dir = match (run_dir, data) {
            (Some(d), _) => d,
            (None, _) if resume => {
                return Err(PyValueError::new_err(
                    "resume needs the run directory (run_dir)",
                ))
            }
            (None, Some(d)) => pars::training::default_run_dir(
                &cfg,
                d.path.as_deref().unwrap_or(std::path::Path::new("numpy")),
            ),
            (None, None) => return Err(PyValueError::new_err("fit needs a dataset")),
        };
        // an exception raised by the callback, handed back as itself
        let raised: Arc<Mutex<Option<PyErr>>> = Arc::new(Mutex::new(None));
        let hook: Option<RowHook<'static>> = on_row.map(|cb| {
            let raised = Arc::clone(&raised);
            Box::new(move |row: &MetricsRow| {
                Python::attach(|py| {
                    let r = row_dict(py, row).and_then(|d| cb.call1(py, (d,)).map(|_| ()));
                    r.map_err(|e| {
                        let msg = e.to_string();
                        *raised.lock().unwrap() = Some(e);
                        anyhow::anyhow!("the callback raised: {msg}")
                    })
                })
            }) as RowHook<'static>
        });
        pars::run::signals::install_flag_only();
        pars::run::signals::clear();
        let pool = Arc::clone(&self.pool);
        let result: anyhow::Result<FinishedRun> = py.detach(|| {
            pool.install(|| {
                if resume {
                    // a changed length only (some schedules cannot change it)
                    let stored =
                        std::fs::read_to_string(pars::run::RunPaths::new(&run_dir).config())
                            .ok()
                            .and_then(|t| toml::from_str::<TrainConfig>(&t).ok())
                            .map(|c| c.steps);
                    let flags = if stored == Some(n_steps) {
                        vec![]
                    } else {
                        vec![("steps".to_string(), toml::Value::Integer(n_steps as i64))]
                    };
                    return pars::training::resume_run_hooked(&run_dir, flags, &[], false, hook);
                }
                let d = data.context("fit needs a dataset")?;
                match &d.path {
                    Some(p) => {
                        pars::training::train_run_hooked(&cfg, p, &run_dir, force, false, hook)
                    }
                    None => pars::training::train_run_in_memory(
                        &cfg, &d.raw, &run_dir, force, false, hook,
                    ),
                }
            })
        });
        let done = match result {
            Ok(done) => done,
            Err(e) => {
                if let Some(err) = raised.lock().unwrap().take() {
                    return Err(err);
                }
                if e.downcast_ref::<Interrupted>().is_some() {
                    // the interpreter's own handler saw the signal too: let it raise
                    py.check_signals()?;
                    return Err(PyKeyboardInterrupt::new_err(one_line(&e)));
                }
                return Err(PyRuntimeError::new_err(one_line(&e)));
            }
        };
        let out = PyDict::new(py);
        out.set_item("run_dir", done.dir.clone())?;
        out.set_item("steps_per_s", done.result.steps_per_s)?;
        if let Some(ev) = &done.result.final_eval {
            out.set_item("final_return", ev.mean_return)?;
            out.set_item("final_score", ev.mean_score)?;
            if let Some(s) = ev.success_rate {
                out.set_item("final_success", s)?;
            }
        }
        let metrics = PyList::empty(py);
        for row in &done.result.metrics {
            metrics.append(row_dict(py, row)?)?;
        }
        out.set_item("metrics", metrics)?;
        if resume {
            // the run's own config (it may have had other settings than this trainer)
            let text = std::fs::read_to_string(pars::run::RunPaths::new(&done.dir).config())
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            self.cfg = toml::from_str(&text)
                .map_err(|e| PyRuntimeError::new_err(format!("invalid configuration: {e}")))?;
        }
        self.learner = Some(done.result.agent);
        Ok(out.unbind())
    }

    /// Deterministic actions for a batch of observations ([n, obs_dim] float32).
    fn predict<'py>(
        &self,
        py: Python<'py>,
        obs: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let l = self.trained()?;
        act_rows(py, l.actor(), obs)
    }

    /// Write the actor as a policy file (`policy.safetensors` format).
    fn save_policy(&self, path: PathBuf) -> PyResult<()> {
        let l = self.trained()?;
        let config =
            serde_json::to_string(&self.cfg).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let info = [
            ("steps", l.steps().to_string()),
            ("algo", self.cfg.algo.clone()),
            ("q_min", l.q_min().to_string()),
        ];
        pars::policy::save_policy(&path, l.actor(), Some(&config), &info)
            .map_err(|e| PyRuntimeError::new_err(one_line(&e)))
    }

    /// The actor as a `Policy`.
    fn policy(&self) -> PyResult<Policy> {
        Ok(Policy {
            inner: pars::policy::Policy::new(self.trained()?.actor().clone()),
        })
    }
}

impl Trainer {
    fn trained(&self) -> PyResult<&dyn pars::algos::Learner> {
        self.learner.as_deref().ok_or_else(|| {
            PyRuntimeError::new_err("the algorithm is not trained yet: call fit first")
        })
    }
}

/// Actions of `net` for each row of `obs`.
fn act_rows<'py>(
    py: Python<'py>,
    net: &pars::nn::EnsembleMlp,
    obs: PyReadonlyArray2<'py, f32>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let a = obs.as_array();
    let (n, d) = (a.nrows(), a.ncols());
    if d != net.spec.input {
        return Err(PyValueError::new_err(format!(
            "observations have {d} columns, the policy takes {}",
            net.spec.input
        )));
    }
    let flat: Vec<f32> = a.iter().copied().collect();
    if let Some(pos) = flat.iter().position(|v| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "'observations' has a non-finite value ({}) at row {}",
            flat[pos],
            pos / d.max(1)
        )));
    }
    let policy = pars::policy::Policy::new(net.clone());
    let ad = policy.act_dim();
    let mut out = vec![0.0f32; n * ad];
    if n > 0 {
        py.detach(|| {
            // in chunks, so a large batch does not need a tape of its size
            const CHUNK: usize = 4096;
            let mut tape = Tape::new(&policy.net, CHUNK.min(n));
            for (o, a) in flat.chunks(CHUNK * d).zip(out.chunks_mut(CHUNK * ad)) {
                policy.act_batch(o, o.len() / d, &mut tape, a);
            }
        });
    }
    rows(py, &out, ad)
}

/// A deployable policy: `policy.safetensors` (or an agent file's actor).
#[pyclass(module = "pars_rl._native")]
struct Policy {
    inner: pars::policy::Policy,
}

#[pymethods]
impl Policy {
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let inner = pars::policy::Policy::load(&path).map_err(value_error)?;
        Ok(Self { inner })
    }
    #[getter]
    fn obs_dim(&self) -> usize {
        self.inner.obs_dim()
    }
    #[getter]
    fn act_dim(&self) -> usize {
        self.inner.act_dim()
    }
    #[getter]
    fn stochastic(&self) -> bool {
        self.inner.is_stochastic()
    }
    /// Actions for [n, obs_dim] float32 observations.
    fn act<'py>(
        &self,
        py: Python<'py>,
        obs: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        act_rows(py, &self.inner.net, obs)
    }
    /// Evaluate in a native environment: per-episode returns, scores and successes.
    #[pyo3(signature = (env_id, episodes=10, seed=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        env_id: &str,
        episodes: usize,
        seed: Option<u64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        if episodes == 0 {
            return Err(PyValueError::new_err("episodes must be at least 1"));
        }
        let mut env = pars::envs::make_env(env_id).map_err(value_error)?;
        if env.obs_dim() != self.obs_dim() || env.act_dim() != self.act_dim() {
            return Err(PyValueError::new_err(format!(
                "the policy takes obs/action dimensions {}/{} but environment {env_id} has {}/{}",
                self.obs_dim(),
                self.act_dim(),
                env.obs_dim(),
                env.act_dim()
            )));
        }
        let mut policy = pars::policy::Policy::new(self.inner.net.clone());
        let seed = seed.unwrap_or(pars::eval::EVAL_SEED);
        let eps = py
            .detach(|| {
                pars::eval::run_episodes(env.as_mut(), |o| policy.act(o).to_vec(), episodes, seed)
            })
            .map_err(|e| PyRuntimeError::new_err(one_line(&e)))?;
        let s = eps.summary();
        let d = PyDict::new(py);
        d.set_item("env_id", env_id)?;
        d.set_item("returns", eps.returns.clone())?;
        d.set_item("scores", eps.scores())?;
        d.set_item("lengths", eps.lengths.clone())?;
        d.set_item("mean_return", s.mean_return)?;
        d.set_item("std_return", s.std_return)?;
        d.set_item("mean_score", s.mean_score)?;
        d.set_item("std_score", s.std_score)?;
        d.set_item("success_rate", s.success_rate)?;
        Ok(d)
    }
}

/// A native environment, stepped from Python (the gymnasium wrapper drives it).
#[pyclass(module = "pars_rl._native", unsendable)]
struct NativeEnv {
    env: Box<dyn pars::envs::Env>,
}

#[pymethods]
impl NativeEnv {
    #[new]
    fn new(id: &str) -> PyResult<Self> {
        let env = pars::envs::make_env(id).map_err(value_error)?;
        Ok(Self { env })
    }
    #[getter]
    fn id(&self) -> String {
        self.env.id().to_string()
    }
    #[getter]
    fn obs_dim(&self) -> usize {
        self.env.obs_dim()
    }
    #[getter]
    fn act_dim(&self) -> usize {
        self.env.act_dim()
    }
    #[getter]
    fn max_episode_steps(&self) -> usize {
        self.env.max_episode_steps()
    }
    fn reset<'py>(&mut self, py: Python<'py>, seed: u64) -> Bound<'py, PyArray1<f32>> {
        let obs = self.env.reset(seed);
        PyArray1::from_vec(py, obs)
    }
    /// (observation, reward, terminated, truncated, success or None)
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, f64, bool, bool, Option<bool>)> {
        let a: Vec<f32> = action.as_array().iter().copied().collect();
        let s = self.env.step(&a).map_err(value_error)?;
        Ok((
            PyArray1::from_vec(py, s.obs),
            s.reward as f64,
            s.terminated,
            s.truncated,
            self.env.success(),
        ))
    }
}

/// Every native environment: (id, obs_dim, act_dim, max_episode_steps).
#[pyfunction]
fn list_envs() -> Vec<(String, usize, usize, usize)> {
    pars::envs::list_envs()
        .into_iter()
        .map(|s| (s.id, s.obs_dim, s.act_dim, s.max_episode_steps))
        .collect()
}

/// D4RL's (random, expert) reference returns of an environment id, if known.
#[pyfunction]
fn reference_returns(env_id: &str) -> Option<(f64, f64)> {
    pars::eval::reference_returns(env_id)
}

/// The library's log messages (warnings by default) on stderr, like the binary's;
/// `PARS_LOG` sets the filter.
fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("PARS_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .try_init();
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_logging();
    m.add_class::<Dataset>()?;
    m.add_class::<Trainer>()?;
    m.add_class::<Policy>()?;
    m.add_class::<NativeEnv>()?;
    m.add_function(wrap_pyfunction!(resolve_config, m)?)?;
    m.add_function(wrap_pyfunction!(presets_json, m)?)?;
    m.add_function(wrap_pyfunction!(list_envs, m)?)?;
    m.add_function(wrap_pyfunction!(reference_returns, m)?)?;
    m.add("EVAL_SEED", pars::eval::EVAL_SEED)?;
    m.add(
        "ALGORITHMS",
        vec![
            Algorithm::Pars.name(),
            Algorithm::Iql.name(),
            Algorithm::Sac.name(),
        ],
    )?;
    Ok(())
}
