//! `pars presets [NAME]`: a table of what the presets set, or one preset's resolved
//! configuration as TOML that `pars train --config` accepts unchanged.
use crate::config::baselines::is_rebrac_preset;
use crate::config::presets::{preset, preset_names, resolve_train_config, TrainSources};
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct PresetsArgs {
    /// Print this preset's full configuration as TOML (for `pars train --config`).
    pub name: Option<String>,
}

pub fn run(a: PresetsArgs) -> Result<()> {
    if let Some(name) = &a.name {
        let cfg = resolve_train_config(&TrainSources {
            preset: Some(name.clone()),
            ..TrainSources::default()
        })?;
        let p = preset(name)?;
        println!(
            "# preset {} (pars presets {name}); pass to `pars train --config`",
            p.name
        );
        match p.algorithm {
            crate::config::Algorithm::Iql => {
                println!("# IQL (see docs/iql.md); pars finetune does not take IQL runs")
            }
            crate::config::Algorithm::Sac => {
                println!("# SAC offline (see docs/baselines.md); online: pars online --algo sac|rlpd")
            }
            _ if is_rebrac_preset(&p.name) => println!(
                "# ReBRAC: TD3+BC with LN critics and BC in the actor and the critic target (see docs/baselines.md)"
            ),
            _ => {}
        }
        if let Some(o) = &p.online {
            println!(
                "# online fine-tuning: alpha {}, beta {}, S_actor {}, offline fraction {}, exploration noise {}",
                o.alpha, o.beta, o.actor_subset, o.offline_fraction, o.exploration_noise
            );
        }
        print!("{}", crate::run::config_toml(&cfg)?);
        return Ok(());
    }
    let header = [
        "preset", "algo", "LN", "c_reward", "PA α", "L", "β", "β_Q", "N", "S_crit", "γ", "depth",
        "width", "batch", "σ_pol", "τ_e", "temp", "on β", "on α", "S_act", "off.frac",
    ];
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for n in preset_names() {
        let p = preset(&n)?;
        let g = &p.agent;
        let dash = || "-".to_string();
        let iql = p.iql.as_ref();
        let sac = p.sac.as_ref();
        let rebrac = is_rebrac_preset(&p.name);
        // β, S_crit and σ_pol are PARS / TD3+BC settings (σ_pol and β not SAC's); τ_e is
        // IQL's; the temperature IQL's (advantage weights) or SAC's initial entropy weight α₀
        let pars_only = |v: String| if iql.is_some() { dash() } else { v };
        let td3_only = |v: String| {
            if iql.is_some() || sac.is_some() {
                dash()
            } else {
                v
            }
        };
        let ln = match iql {
            // LN in the critics / in V
            Some(i) => match (g.critic_layer_norm, i.value_layer_norm(g)) {
                (true, true) => "yes",
                (false, false) => "no",
                (true, false) => "Q",
                (false, true) => "V",
            },
            None if g.critic_layer_norm => "yes",
            None => "no",
        };
        let mut r = vec![
            n.clone(),
            // ReBRAC is the PARS learner with a critic BC term
            if rebrac {
                "rebrac".into()
            } else {
                p.algorithm.name().into()
            },
            ln.into(),
            num(g.reward_scale),
            if g.penalty { num(g.alpha) } else { dash() },
            if g.penalty {
                num(g.infeasible_distance)
            } else {
                dash()
            },
            td3_only(g.beta.map(num).unwrap_or_else(|| "0.4/|A|".into())),
            if rebrac || g.beta_critic > 0.0 {
                num(g.beta_critic)
            } else {
                dash()
            },
            g.n_critics.to_string(),
            pars_only(g.critic_subset.to_string()),
            num(g.gamma),
            format!("{}/{}", g.critic_depth, g.actor_depth),
            g.hidden.to_string(),
            g.batch_size.to_string(),
            td3_only(num(g.policy_noise)),
            iql.map(|i| num(i.expectile)).unwrap_or_else(dash),
            match (iql, sac) {
                (Some(i), _) => num(i.temperature),
                (None, Some(s)) => num(s.init_temperature),
                (None, None) => dash(),
            },
        ];
        match &p.online {
            Some(o) => r.extend([
                num(o.beta),
                num(o.alpha),
                o.actor_subset.to_string(),
                num(o.offline_fraction),
            ]),
            None => r.extend([dash(), dash(), dash(), dash()]),
        }
        rows.push(r);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (v, w))| {
                let pad = w - v.chars().count();
                if i == 0 {
                    format!("{v}{}", " ".repeat(pad))
                } else {
                    format!("{}{v}", " ".repeat(pad))
                }
            })
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    println!("\n`pars presets NAME` prints one preset's full configuration; β 0.4/|A| is TD3+BC's α = 2.5; β_Q: ReBRAC's BC weight in the critic target; τ_e, temp: IQL's expectile and temperature (SAC: the initial entropy temperature α₀); on = online fine-tuning (`-`: the paper reports none).");
    Ok(())
}

/// A short number: f32's shortest form, integers without ".0".
fn num(x: f32) -> String {
    if x == x.trunc() && x.abs() < 1e9 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
