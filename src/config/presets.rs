//! Named hyperparameter presets: paper Tables 9–11 (and the single AntMaze setting of
//! Table 13), TD3+BC, settings for the native point-maze tasks, and IQL with and
//! without RS-LN and PA (paper §6.5, Table 5).
use super::baselines::{rebrac_preset, sac_preset, REBRAC, SAC_PRESETS};
use super::{
    apply_overrides, merge_toml, parse_set, AgentConfig, Algorithm, IqlConfig, SacConfig,
    TrainConfig,
};
use anyhow::{bail, ensure, Context, Result};

/// Online fine-tuning hyperparameters that go with an offline preset (Tables 10/11).
#[derive(Clone, Debug, PartialEq)]
pub struct OnlineSettings {
    pub alpha: f32,
    pub beta: f32,
    pub actor_subset: usize,
    /// Fraction of each online batch drawn from the offline dataset.
    pub offline_fraction: f32,
    pub exploration_noise: f32,
}

impl OnlineSettings {
    /// The offline agent `base` with these online α, β and S_actor (at most its N).
    pub fn online_agent(&self, base: &AgentConfig) -> AgentConfig {
        AgentConfig {
            alpha: self.alpha,
            beta: Some(self.beta),
            actor_subset: Some(self.actor_subset.min(base.n_critics)),
            ..base.clone()
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    pub name: String,
    pub algorithm: Algorithm,
    pub agent: AgentConfig,
    /// IQL's settings (IQL presets only).
    pub iql: Option<IqlConfig>,
    /// SAC's settings (SAC presets only).
    pub sac: Option<SacConfig>,
    /// `None` where the paper reports no fine-tuning for the dataset (expert data).
    pub online: Option<OnlineSettings>,
}

fn antmaze_base() -> AgentConfig {
    AgentConfig {
        critic_depth: 3,
        actor_depth: 3,
        n_critics: 4,
        gamma: 0.995,
        infeasible_distance: 1000.0,
        r_min: Some(0.0),
        q_min: Some(0.0),
        policy_noise: 0.2,
        ..AgentConfig::default()
    }
}

fn adroit_base() -> AgentConfig {
    AgentConfig {
        reward_scale: 10.0,
        actor_cosine: true,
        ..AgentConfig::default()
    }
}

fn mujoco_base() -> AgentConfig {
    AgentConfig {
        beta: Some(0.0),
        ..AgentConfig::default()
    }
}

// (dataset, c_reward, offline β, offline α, online β) — Table 10
const ANTMAZE: [(&str, f32, f32, f32, f32); 8] = [
    ("antmaze-umaze-v2", 10000.0, 0.005, 0.001, 0.0),
    ("antmaze-umaze-diverse-v2", 10000.0, 0.005, 0.001, 0.001),
    ("antmaze-medium-play-v2", 1000.0, 0.01, 0.001, 0.0),
    ("antmaze-medium-diverse-v2", 1000.0, 0.01, 0.001, 0.0),
    ("antmaze-large-play-v2", 1000.0, 0.01, 0.001, 0.01),
    ("antmaze-large-diverse-v2", 10000.0, 0.01, 0.01, 0.01),
    ("antmaze-ultra-play-v0", 100.0, 0.01, 0.001, 0.001),
    ("antmaze-ultra-diverse-v0", 10000.0, 0.01, 0.01, 0.01),
];

// (dataset, offline β, offline α, online β) — Table 10; expert datasets have no online run
const ADROIT: [(&str, f32, f32, Option<f32>); 8] = [
    ("pen-cloned-v1", 0.01, 0.01, Some(0.0)),
    ("door-cloned-v1", 0.01, 0.01, Some(0.01)),
    ("hammer-cloned-v1", 0.1, 0.001, Some(0.0)),
    ("relocate-cloned-v1", 0.01, 0.01, Some(0.01)),
    ("pen-expert-v1", 0.01, 0.01, None),
    ("door-expert-v1", 0.1, 0.001, None),
    ("hammer-expert-v1", 0.01, 0.001, None),
    ("relocate-expert-v1", 0.1, 0.001, None),
];

/// (dataset, offline α, policy noise, S_critic, online (α, S_actor)) — Table 11
type MujocoRow = (&'static str, f32, f32, usize, Option<(f32, usize)>);
const MUJOCO: [MujocoRow; 12] = [
    ("halfcheetah-random-v2", 0.0001, 0.2, 2, Some((0.0001, 1))),
    ("halfcheetah-medium-v2", 0.0001, 0.0, 2, Some((0.0001, 10))),
    (
        "halfcheetah-medium-replay-v2",
        0.0001,
        0.0,
        2,
        Some((0.0001, 10)),
    ),
    ("halfcheetah-medium-expert-v2", 0.0001, 0.2, 10, None),
    ("hopper-random-v2", 0.01, 0.2, 2, Some((0.01, 1))),
    ("hopper-medium-v2", 0.01, 0.0, 10, Some((0.1, 1))),
    ("hopper-medium-replay-v2", 0.01, 0.0, 10, Some((0.1, 1))),
    ("hopper-medium-expert-v2", 0.0001, 0.2, 10, None),
    ("walker2d-random-v2", 0.01, 0.0, 10, Some((0.0001, 10))),
    ("walker2d-medium-v2", 0.01, 0.0, 10, Some((0.1, 1))),
    ("walker2d-medium-replay-v2", 0.01, 0.0, 10, Some((0.01, 1))),
    ("walker2d-medium-expert-v2", 0.0001, 0.2, 10, None),
];

/// Q_min per task family (paper Table 8).
fn table8_q_min(name: &str) -> Option<f32> {
    [
        ("pen", -715.0),
        ("door", -42.0),
        ("hammer", -348.0),
        ("relocate", 0.0),
        ("halfcheetah", -366.0),
        ("hopper", -166.0),
        ("walker2d", -229.0),
    ]
    .iter()
    .find(|(k, _)| name.starts_with(k))
    .map(|(_, q)| *q)
}

/// Settings for the native point-maze tasks: the AntMaze recipe at a size that
/// trains in minutes on two cores (width 128, 2 hidden layers, N = 4).
fn pointmaze(name: &str) -> Preset {
    let agent = AgentConfig {
        hidden: 128,
        critic_depth: 2,
        actor_depth: 2,
        reward_scale: 100.0,
        alpha: 0.001,
        beta: Some(0.01),
        ..antmaze_base()
    };
    Preset {
        name: name.into(),
        algorithm: Algorithm::Pars,
        iql: None,
        sac: None,
        agent,
        online: Some(OnlineSettings {
            alpha: 0.001,
            beta: 0.0,
            actor_subset: 1,
            offline_fraction: 0.5,
            exploration_noise: 0.05,
        }),
    }
}

/// The IQL presets: CORL's IQL (MuJoCo/Adroit and AntMaze settings) and the paper's
/// §6.5 setting with RS-LN, and with RS-LN and PA.
pub const IQL_PRESETS: [&str; 4] = ["iql", "iql-antmaze", "iql-rsln", "iql-rsln-pa"];

/// IQL as CORL runs it: two critics and V of 2×256 without LayerNorm, PyTorch's
/// default initialisation, lr 3e-4 everywhere, τ 5e-3, batch 256, cosine decay of the
/// actor's rate, Gaussian policy; no reward scale and no PA. MuJoCo/Adroit settings
/// (expectile 0.7, temperature 3).
fn iql_base() -> (AgentConfig, IqlConfig) {
    let agent = AgentConfig {
        hidden: 256,
        critic_depth: 2,
        actor_depth: 2,
        critic_layer_norm: false,
        n_critics: 2,
        critic_subset: 2,
        gamma: 0.99,
        tau: 5e-3,
        actor_lr: 3e-4,
        critic_lr: 3e-4,
        actor_cosine: true,
        batch_size: 256,
        reward_scale: 1.0,
        penalty: false,
        init: crate::nn::Init::Pytorch,
        ..AgentConfig::default()
    };
    (agent, IqlConfig::default())
}

/// The IQL preset `name` (one of `IQL_PRESETS`).
fn iql_preset(name: &str) -> Option<Preset> {
    let (mut agent, mut iql) = iql_base();
    match name {
        "iql" => {}
        "iql-antmaze" | "iql-rsln" | "iql-rsln-pa" => {
            // CORL's AntMaze IQL
            iql.expectile = 0.9;
            iql.temperature = 10.0;
            // AntMaze rewards are {0, 1}: Q_min = c·(0 + shift)/(1 − γ)
            agent.r_min = Some(0.0);
            agent.infeasible_distance = 1000.0;
            agent.alpha = 0.001;
            if name != "iql-antmaze" {
                // paper §6.5: γ 0.995, temperature 20, RS-LN with c_reward 1000 (LN in
                // the critics and V)
                agent.gamma = 0.995;
                iql.temperature = 20.0;
                agent.critic_layer_norm = true;
                agent.reward_scale = 1000.0;
                // and PA as PARS's AntMaze setting (α 1e-3, L 1000)
                agent.penalty = name == "iql-rsln-pa";
            }
        }
        _ => return None,
    }
    Some(Preset {
        name: name.into(),
        algorithm: Algorithm::Iql,
        agent,
        iql: Some(iql),
        sac: None,
        online: None,
    })
}

/// The IQL preset for a dataset or environment name: `iql-antmaze` for AntMaze and the
/// built-in point mazes, `iql` (MuJoCo/Adroit) otherwise.
pub fn iql_preset_for(name: &str) -> &'static str {
    let n = name.trim().to_ascii_lowercase();
    if n.starts_with("antmaze") || n.starts_with("pointmaze") {
        "iql-antmaze"
    } else {
        "iql"
    }
}

/// Every preset name, for help texts and error messages.
pub fn preset_names() -> Vec<String> {
    let mut v: Vec<String> = vec![
        "pars".into(),
        "td3bc".into(),
        "antmaze-single".into(),
        "pointmaze".into(),
        "pointmaze-td3bc".into(),
    ];
    v.extend(IQL_PRESETS.iter().map(|s| s.to_string()));
    v.extend(ANTMAZE.iter().map(|r| r.0.to_string()));
    v.extend(ADROIT.iter().map(|r| r.0.to_string()));
    v.extend(MUJOCO.iter().map(|r| r.0.to_string()));
    v.extend(SAC_PRESETS.iter().map(|s| s.to_string()));
    v.extend(REBRAC.iter().map(|r| format!("rebrac-{}", r.0)));
    v
}

/// Look up a preset by name. Dataset names are accepted with or without their
/// version suffix (`hopper-medium` = `hopper-medium-v2`).
pub fn preset(name: &str) -> Result<Preset> {
    let n = name.trim().to_ascii_lowercase();
    let same =
        |full: &str| full == n || full.rsplit_once("-v").map(|(base, _)| base) == Some(n.as_str());
    match n.as_str() {
        "pars" => {
            return Ok(Preset {
                name: n,
                algorithm: Algorithm::Pars,
                iql: None,
                sac: None,
                agent: AgentConfig::default(),
                online: None,
            })
        }
        "td3bc" | "td3+bc" => {
            return Ok(Preset {
                name: "td3bc".into(),
                algorithm: Algorithm::Pars,
                iql: None,
                sac: None,
                agent: AgentConfig::td3bc(),
                online: None,
            })
        }
        "antmaze-single" => {
            let agent = AgentConfig {
                reward_scale: 10000.0,
                alpha: 0.001,
                beta: Some(0.01),
                ..antmaze_base()
            };
            let online = OnlineSettings {
                alpha: 0.001,
                beta: 0.01,
                actor_subset: 1,
                offline_fraction: 0.5,
                exploration_noise: 0.05,
            };
            return Ok(Preset {
                name: n,
                algorithm: Algorithm::Pars,
                iql: None,
                sac: None,
                agent,
                online: Some(online),
            });
        }
        "pointmaze" => return Ok(pointmaze(&n)),
        _ if SAC_PRESETS.contains(&n.as_str()) => return Ok(sac_preset(&n).expect("listed")),
        _ if n.starts_with("rebrac-") => {
            if let Some(p) = rebrac_preset(&n["rebrac-".len()..]) {
                return Ok(p);
            }
        }
        _ if IQL_PRESETS.contains(&n.as_str()) => return Ok(iql_preset(&n).expect("listed")),
        "pointmaze-td3bc" => {
            let mut p = pointmaze(&n);
            p.agent = AgentConfig {
                hidden: p.agent.hidden,
                gamma: p.agent.gamma,
                critic_depth: p.agent.critic_depth,
                actor_depth: p.agent.actor_depth,
                ..AgentConfig::td3bc()
            };
            p.online = None;
            return Ok(p);
        }
        _ => {}
    }
    if let Some(&(full, c, beta, alpha, online_beta)) = ANTMAZE.iter().find(|r| same(r.0)) {
        let agent = AgentConfig {
            reward_scale: c,
            beta: Some(beta),
            alpha,
            ..antmaze_base()
        };
        // ultra-play fine-tunes with α = 1e-4, the rest with 1e-3 (App. F)
        let online_alpha = if full.starts_with("antmaze-ultra-play") {
            0.0001
        } else {
            0.001
        };
        let online = OnlineSettings {
            alpha: online_alpha,
            beta: online_beta,
            actor_subset: 1,
            offline_fraction: 0.5,
            exploration_noise: 0.05,
        };
        return Ok(Preset {
            name: full.into(),
            algorithm: Algorithm::Pars,
            iql: None,
            sac: None,
            agent,
            online: Some(online),
        });
    }
    if let Some(&(full, beta, alpha, online_beta)) = ADROIT.iter().find(|r| same(r.0)) {
        let agent = AgentConfig {
            beta: Some(beta),
            alpha,
            q_min: table8_q_min(full),
            ..adroit_base()
        };
        let online = online_beta.map(|b| OnlineSettings {
            alpha: 0.001,
            beta: b,
            actor_subset: 1,
            offline_fraction: 0.5,
            exploration_noise: 0.05,
        });
        return Ok(Preset {
            name: full.into(),
            algorithm: Algorithm::Pars,
            iql: None,
            sac: None,
            agent,
            online,
        });
    }
    if let Some(&(full, alpha, noise, s_critic, online)) = MUJOCO.iter().find(|r| same(r.0)) {
        let reward_scale = if full.starts_with("halfcheetah") {
            5.0
        } else {
            10.0
        };
        let agent = AgentConfig {
            alpha,
            policy_noise: noise,
            critic_subset: s_critic,
            reward_scale,
            q_min: table8_q_min(full),
            ..mujoco_base()
        };
        let offline_fraction = if full.starts_with("halfcheetah") || full.contains("random") {
            0.05
        } else {
            0.5
        };
        let online = online.map(|(a, s)| OnlineSettings {
            alpha: a,
            beta: 0.0,
            actor_subset: s,
            offline_fraction,
            exploration_noise: 0.1,
        });
        return Ok(Preset {
            name: full.into(),
            algorithm: Algorithm::Pars,
            iql: None,
            sac: None,
            agent,
            online,
        });
    }
    bail!(
        "unknown preset '{name}'; known presets: {}",
        preset_names().join(", ")
    )
}

/// Where a training run's settings come from, lowest layer first.
#[derive(Clone, Debug, Default)]
pub struct TrainSources {
    /// Named preset; `None` = the preset named by `env` if there is one, else "pars".
    pub preset: Option<String>,
    /// Evaluation environment.
    pub env: Option<String>,
    /// Label for tables and plots (default: the preset name).
    pub label: Option<String>,
    /// TOML file with run fields and `[agent]`.
    pub config_file: Option<std::path::PathBuf>,
    /// Dotted keys from dedicated flags, applied before `sets`.
    pub flags: Vec<(String, toml::Value)>,
    /// `--set KEY=VALUE` strings.
    pub sets: Vec<String>,
}

/// The algorithm asked for besides the preset: `algorithm` in the config file, in the
/// flags (`--algo`) or in `--set algorithm=...` (the later layer wins), if any.
pub fn requested_algorithm(src: &TrainSources) -> Option<Algorithm> {
    let parse = |v: &toml::Value| v.clone().try_into::<Algorithm>().ok();
    let mut alg = None;
    if let Some(path) = &src.config_file {
        let file_alg = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
            .and_then(|t| t.get("algorithm").and_then(parse));
        alg = file_alg.or(alg);
    }
    for (k, v) in &src.flags {
        if k == "algorithm" {
            alg = parse(v).or(alg);
        }
    }
    for kv in &src.sets {
        if let Ok((k, v)) = parse_set(kv) {
            if k == "algorithm" {
                alg = parse(&v).or(alg);
            }
        }
    }
    alg
}

/// The name of the preset `src` resolves to, and whether it was taken from `env`.
/// With IQL asked for (`--algo iql`) and no preset, the environment picks IQL's
/// domain settings (`iql_preset_for`).
pub fn preset_for(src: &TrainSources) -> (String, bool) {
    let alg = requested_algorithm(src);
    let iql = alg == Some(Algorithm::Iql);
    match (&src.preset, &src.env) {
        (Some(p), _) => (p.clone(), false),
        (None, _) if alg == Some(Algorithm::Sac) => ("sac".into(), false),
        (None, Some(env)) if iql => (iql_preset_for(env).into(), true),
        (None, Some(env)) if preset(env).is_ok() => (env.clone(), true),
        _ => (if iql { "iql" } else { "pars" }.into(), false),
    }
}

fn is_dataset_preset(name: &str) -> bool {
    ANTMAZE.iter().any(|r| r.0 == name)
        || ADROIT.iter().any(|r| r.0 == name)
        || MUJOCO.iter().any(|r| r.0 == name)
}

/// `preset(name)` for the algorithm asked for: with IQL, a dataset name gives IQL's
/// settings for its domain and a PARS-only preset is refused; with PARS, an IQL preset
/// is refused.
pub fn preset_for_algorithm(name: &str, alg: Option<Algorithm>) -> Result<Preset> {
    let p = preset(name)?;
    match (alg, p.algorithm) {
        (Some(Algorithm::Iql), Algorithm::Pars) => {
            ensure!(
                is_dataset_preset(&p.name),
                "preset '{}' is a PARS preset; for IQL use one of {} (or a dataset name: IQL's settings for its domain)",
                p.name,
                IQL_PRESETS.join(", ")
            );
            preset(iql_preset_for(&p.name))
        }
        (Some(Algorithm::Pars), Algorithm::Iql | Algorithm::Sac) => bail!(
            "preset '{}' is an {} preset but algorithm pars was asked for; choose a PARS preset or drop --algo pars",
            p.name,
            p.algorithm.title()
        ),
        (Some(Algorithm::Sac), a) if a != Algorithm::Sac => bail!(
            "preset '{}' is not a SAC preset; for SAC use one of {}",
            p.name,
            SAC_PRESETS.join(", ")
        ),
        (Some(Algorithm::Iql), Algorithm::Sac) => bail!(
            "preset '{}' is a SAC preset; for IQL use one of {}",
            p.name,
            IQL_PRESETS.join(", ")
        ),
        _ => Ok(p),
    }
}

/// preset → TOML file → flags → `--set`, validated.
pub fn resolve_train_config(src: &TrainSources) -> Result<TrainConfig> {
    let (preset_name, _) = preset_for(src);
    let p = preset_for_algorithm(&preset_name, requested_algorithm(src))?;
    let base = TrainConfig {
        algo: src.label.clone().unwrap_or_else(|| p.name.clone()),
        algorithm: p.algorithm,
        agent: p.agent,
        iql: p.iql,
        sac: p.sac,
        env: src.env.clone(),
        ..TrainConfig::default()
    };
    let mut v = toml::Value::try_from(&base)?;
    if let Some(path) = &src.config_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let over: toml::Value = toml::from_str(&text)
            .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
        merge_toml(&mut v, over);
    }
    apply_overrides(&mut v, src.flags.clone(), &src.sets)?;
    let mut cfg: TrainConfig = v.try_into().context("invalid configuration")?;
    // an IQL run's config shows every IQL setting
    if cfg.algorithm == Algorithm::Iql && cfg.iql.is_none() {
        cfg.iql = Some(IqlConfig::default());
    }
    if cfg.algorithm == Algorithm::Sac && cfg.sac.is_none() {
        cfg.sac = Some(SacConfig::default());
    }
    cfg.validate()?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_values_are_shipped() {
        let p = preset("antmaze-large-diverse-v2").unwrap();
        assert_eq!(
            (p.agent.reward_scale, p.agent.alpha, p.agent.beta),
            (10000.0, 0.01, Some(0.01))
        );
        assert_eq!(
            (p.agent.n_critics, p.agent.critic_depth, p.agent.gamma),
            (4, 3, 0.995)
        );
        assert_eq!(p.agent.infeasible_distance, 1000.0);
        let p = preset("hopper-medium").unwrap();
        assert_eq!(
            (
                p.agent.alpha,
                p.agent.policy_noise,
                p.agent.critic_subset,
                p.agent.reward_scale
            ),
            (0.01, 0.0, 10, 10.0)
        );
        assert_eq!(p.agent.q_min, Some(-166.0));
        assert_eq!(p.online.unwrap().actor_subset, 1);
        let p = preset("halfcheetah-random-v2").unwrap();
        assert_eq!(p.online.unwrap().offline_fraction, 0.05);
        assert!(preset("pen-expert-v1").unwrap().online.is_none());
        assert!(preset("pen-cloned-v1").unwrap().agent.actor_cosine);
        assert_eq!(
            preset("antmaze-ultra-play-v0")
                .unwrap()
                .online
                .unwrap()
                .alpha,
            0.0001
        );
        let td3 = preset("td3bc").unwrap().agent;
        assert!(
            !td3.critic_layer_norm && !td3.penalty && td3.n_critics == 2 && td3.reward_scale == 1.0
        );
    }

    #[test]
    fn every_listed_preset_resolves_and_validates() {
        for n in preset_names() {
            preset(&n).unwrap().agent.validate().unwrap();
        }
    }

    #[test]
    fn iql_presets_differ_only_in_rs_ln_and_pa_and_resolve_from_the_algorithm() {
        let get = |n: &str| preset(n).unwrap();
        let (base, rsln, pa) = (get("iql-antmaze"), get("iql-rsln"), get("iql-rsln-pa"));
        for p in [&base, &rsln, &pa, &get("iql")] {
            assert_eq!(p.algorithm, Algorithm::Iql);
            assert_eq!((p.agent.n_critics, p.agent.tau), (2, 5e-3));
        }
        assert_eq!(get("iql").iql.unwrap().expectile, 0.7);
        let (b, r) = (base.iql.clone().unwrap(), rsln.iql.clone().unwrap());
        assert_eq!((b.expectile, b.temperature), (0.9, 10.0));
        assert_eq!((r.expectile, r.temperature), (0.9, 20.0));
        assert!(!base.agent.critic_layer_norm && base.agent.reward_scale == 1.0);
        assert!(rsln.agent.critic_layer_norm && r.value_layer_norm(&rsln.agent));
        assert_eq!((rsln.agent.reward_scale, rsln.agent.gamma), (1000.0, 0.995));
        assert!(!rsln.agent.penalty && pa.agent.penalty);
        assert_eq!(
            AgentConfig {
                penalty: true,
                ..rsln.agent.clone()
            },
            pa.agent
        );
        assert_eq!(pa.agent.alpha, 0.001);
        assert_eq!(pa.iql, rsln.iql);
        // Q_min of PA: c·(0 + shift)/(1 − γ) = 0 on {0, 1} rewards
        assert_eq!(r.resolve_q_min(&pa.agent, 0.0), 0.0);

        let src = |preset: Option<&str>, env: Option<&str>, sets: &[&str]| TrainSources {
            preset: preset.map(String::from),
            env: env.map(String::from),
            sets: sets.iter().map(|s| s.to_string()).collect(),
            ..TrainSources::default()
        };
        let iql = ["algorithm=iql"];
        let c = resolve_train_config(&src(None, Some("antmaze-large-play-v2"), &iql)).unwrap();
        assert_eq!(c.algorithm, Algorithm::Iql);
        assert_eq!(c.iql.as_ref().unwrap().expectile, 0.9);
        assert_eq!(c.algo, "iql-antmaze");
        let c = resolve_train_config(&src(None, Some("hopper-medium-v2"), &iql)).unwrap();
        assert_eq!(c.iql.unwrap().temperature, 3.0);
        let c = resolve_train_config(&src(Some("hopper-medium-v2"), None, &iql)).unwrap();
        assert_eq!((c.algo.as_str(), c.agent.n_critics), ("iql", 2));
        let c = resolve_train_config(&src(None, None, &iql)).unwrap();
        assert_eq!(c.iql, Some(IqlConfig::default()));
        // the preset alone says IQL
        let c = resolve_train_config(&src(Some("iql-rsln-pa"), None, &[])).unwrap();
        assert!(c.algorithm == Algorithm::Iql && c.agent.penalty);
        let c = resolve_train_config(&src(Some("iql-rsln"), None, &["iql.expectile=0.8"])).unwrap();
        assert_eq!(c.iql.unwrap().expectile, 0.8);
        // refusals, before anything runs
        let err = |s: TrainSources| format!("{:#}", resolve_train_config(&s).unwrap_err());
        assert!(err(src(Some("pointmaze"), None, &iql)).contains("is a PARS preset"));
        assert!(err(src(Some("iql"), None, &["algorithm=pars"])).contains("is an IQL preset"));
        let e = err(src(Some("pars"), None, &["iql.expectile=0.8"]));
        assert!(e.contains("algorithm = \"iql\" only"), "{e}");
        for (set, want) in [
            ("iql.expectile=1.0", "iql.expectile must be in (0, 1)"),
            ("iql.expectile=0", "iql.expectile must be in (0, 1)"),
            ("iql.expectile=nan", "iql.expectile must be in (0, 1)"),
            (
                "iql.temperature=-1",
                "iql.temperature must be a finite non-negative",
            ),
            (
                "iql.temperature=nan",
                "iql.temperature must be a finite non-negative",
            ),
            (
                "iql.max_weight=inf",
                "iql.max_weight must be a finite positive",
            ),
            ("iql.value_lr=nan", "iql.value_lr must be"),
            ("iql.reward_shift=nan", "iql.reward_shift must be a finite"),
            ("agent.gamma=nan", "gamma must be in [0, 1)"),
            ("iql.expectle=0.8", "unknown field `expectle`"),
            ("iql.policy=\"stochastic\"", "unknown variant `stochastic`"),
            ("algorithm=\"cql\"", "unknown variant `cql`"),
        ] {
            let e = err(src(Some("iql-rsln-pa"), None, &[set]));
            assert!(e.contains(want), "{set}: {e}");
        }
    }

    #[test]
    fn unknown_preset_is_a_clear_error() {
        let e = preset("hopper-mediocre-v2").unwrap_err().to_string();
        assert!(e.contains("unknown preset 'hopper-mediocre-v2'"), "{e}");
    }
}
