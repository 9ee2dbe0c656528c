"""Independent reference of one SAC / RLPD gradient update (tanh-Gaussian actor, critic
ensemble, learned temperature).

Written from Haarnoja et al. (2018b, automatic entropy tuning) and Ball et al. (2023, RLPD),
not from the Rust sources. Float64 (``jax_enable_x64``), gradients by ``jax.grad``, optax's
Adam; the critics are the networks of ``pars_ref``.

Sampling at states s with noise eps (the trace's draw, so (u - mu) / sigma = eps exactly):
    head = MLP(s) (ReLU, no LayerNorm, linear output of width 2A) = [mu | raw log sigma]
    ls = clip(raw, log_std_min, log_std_max) (hard: no gradient outside), u = mu + exp(ls) * eps
    a = tanh(u),  log pi(a|s) = sum_d [-eps^2/2 - log(2 pi)/2 - ls - log(1 - tanh(u)^2)]
    with log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) (no cancellation for large |u|)

One update step k (alpha = exp(log_alpha) at the start of the step, used throughout):

1.  a', log pi' sampled at s' with draw.target_eps from the current actor (no gradient)
    y = c_reward * (r + shift) + gamma * (1 - done) * (min_{i in S} Qtarget_i(s', a')
        - [backup_entropy] alpha * log pi')
    TD = mean_{i, b} (Q_i(s, a) - y)^2                              -> Adam on all critics
2.  Polyak on the target critics, every step, from the updated critics
3.  if (k + step_offset) % policy_delay == 0 (the critic's step count after 1):
    a, log pi sampled at s with draw.actor_eps (reparameterised), the critics after 1:
      q = min_i Q_i(s, a) (actor_subset null), the mean over draw.actor_subset, or the mean
      over all members (actor_subset >= N: no draw)
    actor loss = mean_b (alpha * log pi - q), alpha a constant       -> Adam on the actor
4.  on the same steps: H = -mean_b log pi (step 3's samples, actor before its update);
    L(log_alpha) = exp(log_alpha) * (H - H_target), H held constant  -> Adam on log_alpha
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Dict, Mapping, Optional

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import pars_ref  # noqa: E402
from pars_ref import ConfigError, _bool, _int, _num  # noqa: E402

NETS = ("actor", "critic", "critic_target")
OPT_NETS = ("actor", "critic")
STATE_LOSSES = ("td", "q_data", "target_mean")
ACTOR_LOSSES = ("actor", "entropy", "temperature")


@dataclasses.dataclass(frozen=True)
class Config:
    n_critics: int
    critic_subset: int
    critic_depth: int
    actor_depth: int
    hidden: int
    critic_layer_norm: bool
    activation: str
    reward_scale: float
    reward_shift: float
    gamma: float
    tau: float
    policy_delay: int
    actor_lr: float
    critic_lr: float
    temperature_lr: float
    actor_cosine: bool
    actor_cosine_steps: int
    actor_subset: Optional[int]
    batch_size: int
    target_entropy: float
    backup_entropy: bool
    log_std_min: float
    log_std_max: float
    step_offset: int = 0
    target_update: str = "every_critic"

    @staticmethod
    def from_dict(cfg: Mapping[str, Any]) -> "Config":
        if not isinstance(cfg, Mapping):
            raise ConfigError("config must be a JSON object")
        act = cfg.get("activation")
        if act not in pars_ref.ACTIVATIONS:
            raise ConfigError(f"config 'activation' must be one of {', '.join(pars_ref.ACTIVATIONS)}; got {act!r}")
        if act == "gelu" and cfg.get("gelu_approximate") is True:
            act = "gelu_tanh"
        subset = cfg.get("actor_subset", None)
        if subset is not None:
            subset = _int(cfg, "actor_subset")
        target_update = cfg.get("target_update", "every_critic")
        if target_update not in pars_ref.TARGET_UPDATES:
            raise ConfigError(f"config 'target_update' must be one of "
                              f"{', '.join(pars_ref.TARGET_UPDATES)}; got {target_update!r}")
        c = Config(
            n_critics=_int(cfg, "n_critics"),
            critic_subset=_int(cfg, "critic_subset"),
            critic_depth=_int(cfg, "critic_depth"),
            actor_depth=_int(cfg, "actor_depth"),
            hidden=_int(cfg, "hidden"),
            critic_layer_norm=_bool(cfg, "critic_layer_norm"),
            activation=act,
            reward_scale=_num(cfg, "reward_scale"),
            reward_shift=_num(cfg, "reward_shift"),
            gamma=_num(cfg, "gamma"),
            tau=_num(cfg, "tau"),
            policy_delay=_int(cfg, "policy_delay"),
            actor_lr=_num(cfg, "actor_lr"),
            critic_lr=_num(cfg, "critic_lr"),
            temperature_lr=_num(cfg, "temperature_lr"),
            actor_cosine=_bool(cfg, "actor_cosine"),
            actor_cosine_steps=_int(cfg, "actor_cosine_steps") if cfg.get("actor_cosine") else
            int(cfg.get("actor_cosine_steps") or 0),
            actor_subset=subset,
            batch_size=_int(cfg, "batch_size"),
            # the resolved value (target_entropy_scale * -|A| by default): no need to re-derive
            target_entropy=_num(cfg, "target_entropy"),
            backup_entropy=_bool(cfg, "backup_entropy"),
            log_std_min=_num(cfg, "log_std_min"),
            log_std_max=_num(cfg, "log_std_max"),
            step_offset=_int(cfg, "step_offset") if "step_offset" in cfg else 0,
            target_update=target_update,
        )
        if c.n_critics < 1 or c.critic_depth < 0 or c.actor_depth < 0 or c.hidden < 1:
            raise ConfigError("config network sizes must be positive")
        if c.policy_delay < 1:
            raise ConfigError("config 'policy_delay' must be >= 1")
        if not 1 <= c.critic_subset <= c.n_critics:
            raise ConfigError(f"config 'critic_subset' must lie in 1..n_critics ({c.n_critics})")
        if c.actor_subset is not None and c.actor_subset < 1:
            raise ConfigError("config 'actor_subset' must be >= 1")
        if not c.log_std_min <= c.log_std_max:
            raise ConfigError("config 'log_std_min' must not exceed 'log_std_max'")
        if c.actor_cosine and c.actor_cosine_steps < 1:
            raise ConfigError("config 'actor_cosine_steps' must be >= 1 with actor_cosine")
        return c

    def is_actor_step(self, k: int) -> bool:
        """Step k of a trace (1-based) updates the actor and the temperature."""
        return (k + self.step_offset) % self.policy_delay == 0

    def actor_draws_subset(self) -> bool:
        """The actor's value is the mean over a drawn subset (not all members, not the min)."""
        return self.actor_subset is not None and self.actor_subset < self.n_critics


def param_shapes(cfg: Config, obs_dim: int, act_dim: int) -> Dict[str, Dict[str, tuple]]:
    """For each network, {full tensor name: shape}; the actor's output is [mu | log sigma]."""
    ls = pars_ref.layer_shapes
    nets = {
        "actor": (ls(obs_dim, cfg.hidden, cfg.actor_depth, 2 * act_dim, False), 1),
        "critic": (ls(obs_dim + act_dim, cfg.hidden, cfg.critic_depth, 1, cfg.critic_layer_norm),
                   cfg.n_critics),
        "critic_target": (ls(obs_dim + act_dim, cfg.hidden, cfg.critic_depth, 1,
                             cfg.critic_layer_norm), cfg.n_critics),
    }
    out = {net: {f"{net}.{m}.{k}": v for m in range(n) for k, v in shapes.items()}
           for net, (shapes, n) in nets.items()}
    out["log_alpha"] = {"log_alpha": (1,)}
    return out


# ---------------------------------------------------------------------------------------------
# Networks and losses


def sample(cfg: Config, actor, obs, eps):
    """(a, log pi(a|s)) of the tanh-Gaussian policy for the given standard-normal noise."""
    head = pars_ref.mlp(actor, cfg.actor_depth, obs, "relu", False)
    A = head.shape[-1] // 2
    mu, ls = head[..., :A], jnp.clip(head[..., A:], cfg.log_std_min, cfg.log_std_max)
    u = mu + jnp.exp(ls) * eps
    # log(1 - tanh(u)^2) without forming 1 - tanh^2, which underflows to 0 for |u| > ~19
    log_det = 2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u))
    logp = jnp.sum(-0.5 * jnp.square(eps) - 0.5 * jnp.log(2.0 * jnp.pi) - ls - log_det, axis=-1)
    return jnp.tanh(u), logp


def critics_apply(cfg: Config, params, obs, act):
    """Q_i(s, a) of every member: [N, B] (tensors stacked over members)."""
    x = jnp.concatenate([obs, act], axis=-1)
    one = lambda p: pars_ref.mlp(p, cfg.critic_depth, x, cfg.activation, cfg.critic_layer_norm)[..., 0]
    return jax.vmap(one)(params)


def critic_loss(cfg: Config, critic, critic_target, actor, alpha, batch, draw):
    next_a, next_logp = sample(cfg, actor, batch["next_obs"], draw["target_eps"])
    q_next = critics_apply(cfg, critic_target, batch["next_obs"], next_a)
    q_next = jnp.min(jnp.take(q_next, draw["target_subset"], axis=0), axis=0)
    soft = q_next - alpha * next_logp if cfg.backup_entropy else q_next
    y = cfg.reward_scale * (batch["rewards"] + cfg.reward_shift) \
        + cfg.gamma * (1.0 - batch["dones"]) * soft
    y = jax.lax.stop_gradient(y)  # also stops the actor: it only enters through the target
    q = critics_apply(cfg, critic, batch["obs"], batch["actions"])
    td = jnp.mean(jnp.square(q - y[None, :]))
    aux = {"td": td, "q_data": jnp.mean(q), "target_mean": jnp.mean(y)}
    size = {"td": td, "q_data": jnp.mean(jnp.abs(q)), "target_mean": jnp.mean(jnp.abs(y))}
    return td, (aux, size)


def actor_loss(cfg: Config, actor, critic, alpha, batch, draw):
    a, logp = sample(cfg, actor, batch["obs"], draw["actor_eps"])
    q_all = critics_apply(cfg, critic, batch["obs"], a)  # [N, B]
    if cfg.actor_subset is None:
        q = jnp.min(q_all, axis=0)
    elif "actor_subset" in draw:
        q = jnp.mean(jnp.take(q_all, draw["actor_subset"], axis=0), axis=0)
    else:  # actor_subset >= N: every member, nothing drawn
        q = jnp.mean(q_all, axis=0)
    loss = jnp.mean(alpha * logp - q)
    entropy = -jnp.mean(logp)
    aux = {"actor": loss, "entropy": entropy, "temperature": alpha}
    size = {"actor": jnp.mean(jnp.abs(alpha * logp)) + jnp.mean(jnp.abs(q)),
            "entropy": jnp.mean(jnp.abs(logp)), "temperature": alpha}
    return loss, (aux, size)


def temperature_loss(cfg: Config, log_alpha, entropy):
    """Its gradient on log_alpha is alpha * (H - H_target): alpha falls while the entropy is
    above the target."""
    return jnp.sum(jnp.exp(log_alpha) * (entropy - cfg.target_entropy))


# ---------------------------------------------------------------------------------------------
# Optimisers and the full step


def actor_schedule(cfg: Config):
    if cfg.actor_cosine:
        return optax.cosine_decay_schedule(cfg.actor_lr, decay_steps=cfg.actor_cosine_steps)
    return cfg.actor_lr


def optimizers(cfg: Config):
    adam = lambda lr: optax.adam(lr, b1=pars_ref.ADAM_B1, b2=pars_ref.ADAM_B2, eps=pars_ref.ADAM_EPS)
    return {"actor": adam(actor_schedule(cfg)), "critic": adam(cfg.critic_lr),
            "log_alpha": adam(cfg.temperature_lr)}


@functools.lru_cache(maxsize=None)
def make_step(cfg: Config):
    """step(state, batch, draw, actor_step) -> (new_state, losses, sizes). state: 'actor',
    'critic', 'critic_target' (param dicts, critics stacked over members), 'log_alpha' ([1])
    and '<name>_opt' optax states for actor, critic, log_alpha."""
    opts = optimizers(cfg)

    def apply(name, params, grads, st):
        updates, st = opts[name].update(grads, st, params)
        return optax.apply_updates(params, updates), st

    @jax.jit
    def critic_update(state, batch, draw):
        alpha = jnp.exp(state["log_alpha"][0])
        (_, aux), g = jax.value_and_grad(
            lambda c: critic_loss(cfg, c, state["critic_target"], state["actor"], alpha, batch,
                                  draw), has_aux=True
        )(state["critic"])
        critic, critic_opt = apply("critic", state["critic"], g, state["critic_opt"])
        return critic, critic_opt, aux

    @jax.jit
    def actor_update(state, critic, batch, draw):
        alpha = jax.lax.stop_gradient(jnp.exp(state["log_alpha"][0]))
        (_, (aux, size)), g = jax.value_and_grad(
            lambda a: actor_loss(cfg, a, critic, alpha, batch, draw), has_aux=True
        )(state["actor"])
        actor, actor_opt = apply("actor", state["actor"], g, state["actor_opt"])
        entropy = jax.lax.stop_gradient(aux["entropy"])
        g_la = jax.grad(lambda la: temperature_loss(cfg, la, entropy))(state["log_alpha"])
        log_alpha, la_opt = apply("log_alpha", state["log_alpha"], g_la, state["log_alpha_opt"])
        return actor, actor_opt, log_alpha, la_opt, (aux, size)

    @jax.jit
    def polyak(target, online):
        return jax.tree_util.tree_map(lambda t, o: (1.0 - cfg.tau) * t + cfg.tau * o, target, online)

    def step(state, batch, draw, actor_step: bool):
        critic, critic_opt, (losses, sizes) = critic_update(state, batch, draw)
        new = dict(state, critic=critic, critic_opt=critic_opt)
        if actor_step:
            (new["actor"], new["actor_opt"], new["log_alpha"], new["log_alpha_opt"],
             (a_losses, a_sizes)) = actor_update(state, critic, batch, draw)
            losses, sizes = {**losses, **a_losses}, {**sizes, **a_sizes}
        if actor_step or cfg.target_update == "every_critic":
            new["critic_target"] = polyak(state["critic_target"], critic)
        return new, losses, sizes

    return step


# ---------------------------------------------------------------------------------------------
# Trace names <-> state. Networks as in pars_ref; the one-element 'log_alpha'; Adam moments
# '<net>_adam.m.<param name>', 'log_alpha_adam.m', and '<name>_adam.step'.


def _members(cfg: Config, net: str) -> int:
    return cfg.n_critics if net.startswith("critic") else 1


def _stack(cfg: Config, shapes, net: str, get, dtype, name_of=lambda n: n):
    out = {}
    for full in shapes[net]:
        _, m, rest = full.split(".", 2)
        if m != "0":
            continue
        parts = [jnp.asarray(get(name_of(f"{net}.{i}.{rest}")), dtype)
                 for i in range(_members(cfg, net))]
        out[rest] = jnp.stack(parts) if net.startswith("critic") else parts[0]
    return out


def _unstack(cfg: Config, net: str, params, name_of=lambda n: n) -> Dict[str, np.ndarray]:
    out = {}
    for rest, v in params.items():
        v = np.asarray(v)
        if net.startswith("critic"):
            for i in range(cfg.n_critics):
                out[name_of(f"{net}.{i}.{rest}")] = v[i]
        else:
            out[name_of(f"{net}.0.{rest}")] = v
    return out


def state_shapes(cfg: Config, shapes) -> Dict[str, tuple]:
    out: Dict[str, tuple] = {}
    for net in NETS:
        out.update(shapes[net])
    out["log_alpha"] = (1,)
    for net in OPT_NETS:
        for n, s in shapes[net].items():
            out[f"{net}_adam.m.{n}"] = s
            out[f"{net}_adam.v.{n}"] = s
        out[f"{net}_adam.step"] = ()
    out["log_alpha_adam.m"] = out["log_alpha_adam.v"] = (1,)
    out["log_alpha_adam.step"] = ()
    return out


def state_from_tensors(cfg: Config, shapes, get, dtype=jnp.float64):
    opts = optimizers(cfg)
    st: Dict[str, Any] = {net: _stack(cfg, shapes, net, get, dtype) for net in NETS}
    st["log_alpha"] = jnp.asarray(get("log_alpha"), dtype)
    for net in OPT_NETS:
        mu = _stack(cfg, shapes, net, get, dtype, lambda n: f"{net}_adam.m.{n}")
        nu = _stack(cfg, shapes, net, get, dtype, lambda n: f"{net}_adam.v.{n}")
        count = int(np.asarray(get(f"{net}_adam.step")))
        st[f"{net}_opt"] = pars_ref.make_opt_state(opts[net], st[net], mu, nu, count)
    st0 = opts["log_alpha"].init(st["log_alpha"])
    st["log_alpha_opt"] = optax.tree_utils.tree_set(
        st0,
        count=jnp.asarray(int(np.asarray(get("log_alpha_adam.step"))), jnp.int32),
        mu=jnp.asarray(get("log_alpha_adam.m"), dtype),
        nu=jnp.asarray(get("log_alpha_adam.v"), dtype),
    )
    return st


def state_to_tensors(cfg: Config, state) -> Dict[str, np.ndarray]:
    out: Dict[str, np.ndarray] = {}
    for net in NETS:
        out.update(_unstack(cfg, net, state[net]))
    out["log_alpha"] = np.asarray(state["log_alpha"])
    for net in OPT_NETS:
        mu, nu, count = pars_ref.adam_fields(state[f"{net}_opt"])
        out.update(_unstack(cfg, net, mu, lambda n: f"{net}_adam.m.{n}"))
        out.update(_unstack(cfg, net, nu, lambda n: f"{net}_adam.v.{n}"))
        out[f"{net}_adam.step"] = np.asarray(int(count), np.int64)
    mu, nu, count = pars_ref.adam_fields(state["log_alpha_opt"])
    out["log_alpha_adam.m"] = np.asarray(mu)
    out["log_alpha_adam.v"] = np.asarray(nu)
    out["log_alpha_adam.step"] = np.asarray(int(count), np.int64)
    return out

