//! Use a trained policy from plain Rust: load `policy.safetensors`, act in an environment.
//!
//!     cargo run --release --example deploy_policy -- runs/demo/PARS-s0/policy.safetensors pointmaze-medium-v0
use anyhow::{Context, Result};
use pars::policy::Policy;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .context("usage: deploy_policy POLICY.safetensors ENV_ID")?;
    let env_id = args
        .next()
        .context("usage: deploy_policy POLICY.safetensors ENV_ID")?;
    let mut policy = Policy::load(path.as_ref())?;
    let mut env = pars::envs::make_env(&env_id)?;
    let mut obs = env.reset(0);
    let mut ret = 0.0;
    for t in 0..env.max_episode_steps() {
        let action = policy.act(&obs).to_vec();
        let step = env.step(&action)?;
        ret += step.reward;
        if t % 25 == 0 || step.terminated || step.truncated {
            println!("t={t:4} obs={:?} action={:?}", &step.obs, action);
        }
        obs = step.obs;
        if step.terminated || step.truncated {
            break;
        }
    }
    println!("return {ret}, success {:?}", env.success());
    Ok(())
}
