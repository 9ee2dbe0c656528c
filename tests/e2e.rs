//! End to end: a short PARS run on a small built-in maze dataset clearly beats a random policy.
use pars::config::presets::preset;
use pars::config::TrainConfig;
use pars::data::Transitions;
use pars::envs::make_env;
use pars::envs::maze::Layout;
use pars::eval::evaluate;
use pars::eval::EVAL_SEED;
use pars::recipes::scripted::{collect, CollectConfig, Style};
use pars::training::train_offline;
use rand::{Rng, SeedableRng};

#[test]
fn short_pars_run_beats_a_random_policy_on_umaze() {
    let raw = collect(&CollectConfig::new(
        Layout::Umaze,
        Style::Diverse,
        50_000,
        0,
    ))
    .unwrap();
    let data = Transitions::from_raw(&raw).unwrap();
    let mut env = make_env("pointmaze-umaze-v0").unwrap();

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let random = evaluate(
        env.as_mut(),
        |_| vec![rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)],
        10,
        EVAL_SEED,
    )
    .unwrap();

    let mut agent = preset("pointmaze").unwrap().agent;
    agent.hidden = 64;
    agent.gamma = 0.99; // the U-maze is short: faster value propagation keeps the test quick
    let cfg = TrainConfig {
        algo: "PARS".into(),
        agent,
        steps: 10_000,
        seed: 0,
        eval_every: 0,
        eval_episodes: 10,
        log_every: 1000,
        env: None,
        ..TrainConfig::default()
    };
    let res = train_offline(&cfg, &data, Some(env.as_mut()), false).unwrap();
    let pars = res.final_eval.unwrap();
    let (r, p) = (random.success_rate.unwrap(), pars.success_rate.unwrap());
    eprintln!(
        "random policy success {r}, PARS success {p}, PARS score {:.1}",
        pars.mean_score
    );
    assert!(
        p >= 0.8,
        "PARS should reach the goal reliably, got success {p}"
    );
    assert!(
        p >= r + 0.5,
        "PARS ({p}) should clearly beat the random policy ({r})"
    );
    // the critic learned a positive value on data and pushed infeasible actions to Q_min = 0
    let last = res.metrics.last().unwrap();
    assert!(
        last.q_data > 1.0 && last.q_infeasible.abs() < 0.1 * last.q_data,
        "{last:?}"
    );
}
