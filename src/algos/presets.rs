//! Named hyperparameter presets: paper Tables 9–11 (and the single AntMaze setting of
//! Table 13), TD3+BC, and settings for the native point-maze tasks.
use super::config::{apply_overrides, merge_toml, AgentConfig, TrainConfig};
use anyhow::{bail, Context, Result};

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

#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    pub name: String,
    pub agent: AgentConfig,
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

/// Every preset name, for help texts and error messages.
pub fn preset_names() -> Vec<String> {
    let mut v: Vec<String> = vec![
        "pars".into(),
        "td3bc".into(),
        "antmaze-single".into(),
        "pointmaze".into(),
        "pointmaze-td3bc".into(),
    ];
    v.extend(ANTMAZE.iter().map(|r| r.0.to_string()));
    v.extend(ADROIT.iter().map(|r| r.0.to_string()));
    v.extend(MUJOCO.iter().map(|r| r.0.to_string()));
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
                agent: AgentConfig::default(),
                online: None,
            })
        }
        "td3bc" | "td3+bc" => {
            return Ok(Preset {
                name: "td3bc".into(),
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
                agent,
                online: Some(online),
            });
        }
        "pointmaze" => return Ok(pointmaze(&n)),
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

/// The name of the preset `src` resolves to, and whether it was taken from `env`.
pub fn preset_for(src: &TrainSources) -> (String, bool) {
    match (&src.preset, &src.env) {
        (Some(p), _) => (p.clone(), false),
        (None, Some(env)) if preset(env).is_ok() => (env.clone(), true),
        _ => ("pars".into(), false),
    }
}

/// preset → TOML file → flags → `--set`, validated.
pub fn resolve_train_config(src: &TrainSources) -> Result<TrainConfig> {
    let (preset_name, _) = preset_for(src);
    let p = preset(&preset_name)?;
    let base = TrainConfig {
        algo: src.label.clone().unwrap_or_else(|| p.name.clone()),
        agent: p.agent,
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
    let cfg: TrainConfig = v.try_into().context("invalid configuration")?;
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
    fn unknown_preset_is_a_clear_error() {
        let e = preset("hopper-mediocre-v2").unwrap_err().to_string();
        assert!(e.contains("unknown preset 'hopper-mediocre-v2'"), "{e}");
    }
}
