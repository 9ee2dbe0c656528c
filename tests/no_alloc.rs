//! The training step allocates nothing once its buffers exist: a counting global
//! allocator watches every thread while PARS, TD3+BC and IQL updates run on two threads.
//! The `gemm` crate allocates its packing buffer and a vector of flags inside each
//! product; those are counted apart (and printed), everything else must be zero.
use pars::algos::{Agent, IqlAgent};
use pars::config::presets::preset;
use pars::config::AgentConfig;
use pars::data::Batch;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;
static ARMED: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static GEMM_ALLOCS: AtomicUsize = AtomicUsize::new(0);

fn count() {
    if ARMED.load(Ordering::Relaxed) {
        if pars::nn::gemm::in_gemm() {
            GEMM_ALLOCS.fetch_add(1, Ordering::Relaxed);
        } else {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn batch(size: usize, od: usize, ad: usize, seed: u64) -> Batch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = Batch::new(size, od, ad);
    for v in b.obs.iter_mut().chain(b.next_obs.iter_mut()) {
        *v = rng.gen_range(-1.0..1.0);
    }
    for v in &mut b.actions {
        *v = rng.gen_range(-0.9..0.9);
    }
    for v in &mut b.rewards {
        *v = rng.gen_range(0.0..1.0);
    }
    b
}

/// Allocations made by `steps` calls of `f` after `warm` unmeasured calls: the fewest of
/// three such windows. An allocation of ours happens in every update, so in every window;
/// rayon's scheduler allocates now and then when a busy machine delays a worker (its
/// deques grow and shrink with stolen jobs), which only some windows see.
fn allocations(mut f: impl FnMut(), warm: usize, steps: usize) -> usize {
    for _ in 0..warm {
        f();
    }
    (0..3).map(|_| window(&mut f, steps)).min().unwrap()
}

fn window(f: &mut impl FnMut(), steps: usize) -> usize {
    ALLOCS.store(0, Ordering::SeqCst);
    GEMM_ALLOCS.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    for _ in 0..steps {
        f();
    }
    ARMED.store(false, Ordering::SeqCst);
    eprintln!(
        "{} allocations inside the gemm crate in {steps} updates",
        GEMM_ALLOCS.load(Ordering::SeqCst)
    );
    ALLOCS.load(Ordering::SeqCst)
}

#[test]
fn updates_allocate_nothing_after_the_first_steps() {
    let (od, ad) = (11, 3);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    // one test at a time owns the counter: everything runs here, in order
    pool.install(|| {
        let pars_cfg = AgentConfig {
            hidden: 48,
            batch_size: 40,
            ..preset("halfcheetah-medium-v2").unwrap().agent
        };
        let td3bc_cfg = AgentConfig {
            hidden: 48,
            batch_size: 40,
            ..AgentConfig::td3bc()
        };
        for (name, cfg) in [("PARS", pars_cfg), ("TD3+BC", td3bc_cfg)] {
            let b = batch(cfg.batch_size, od, ad, 1);
            let mut agent = Agent::new(cfg, od, ad, -10.0, 1000, 3);
            let n = allocations(
                || {
                    agent.update(&b);
                },
                3,
                8,
            );
            assert_eq!(n, 0, "{name}: {n} allocations in 8 updates");
        }
        let p = preset("iql-rsln-pa").unwrap();
        let cfg = AgentConfig {
            hidden: 48,
            batch_size: 40,
            ..p.agent
        };
        let b = batch(cfg.batch_size, od, ad, 2);
        let mut agent = IqlAgent::new(cfg, p.iql.unwrap(), od, ad, -10.0, 1000, 4);
        let n = allocations(
            || {
                agent.update(&b);
            },
            3,
            8,
        );
        assert_eq!(n, 0, "IQL: {n} allocations in 8 updates");
    });
}
