"""Independent reference of one IQL gradient update with the paper's RS-LN and PA switches.

Written from Kostrikov et al. (2022), the paper's section 6.5 and the way CORL's single-file IQL
runs the update, not from the Rust sources. Float64 (``jax_enable_x64``), gradients by
``jax.grad``, optax's Adam; the network forward pass is the one of ``pars_ref``.

One update step (batch s, a, r, s', done; N critics; the networks before the step):

1.  u = min_i Qtarget_i(s, a) - V(s);   L_V = mean_b |tau_e - 1(u < 0)| * u^2     -> Adam on V
2.  y = c_reward * (r + shift) + gamma * (1 - done) * V(s')     (V before step 1, no gradient)
    L_Q = mean_{i,b} (Q_i(s, a) - y)^2 [+ alpha * mean_{i,b} (Q_i(s, a_inf) - Q_min)^2]
    a_inf = (u' - 1 if u' < 0 else u' + 1) * L per coordinate, u' = draw.pa_u       -> Adam on Q
3.  w = min(exp(temperature * u), max_weight)   (u of step 1, no gradient)
    gaussian:      L_pi = mean_b w * sum_d [ (a - mu(s))^2 / (2 sigma^2) + log sigma + log(2 pi)/2 ],
                   sigma = exp(clip(log_std, -20, 2)), log_std a free vector
    deterministic: L_pi = mean_b w * sum_d (mu(s) - a)^2
    Adam (cosine schedule if enabled) on mu's parameters and, for the Gaussian, on log_std
4.  Polyak on the target critics: target <- (1 - tau) * target + tau * Q (after step 2)
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Dict, Mapping

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import pars_ref  # noqa: E402
from pars_ref import ConfigError, _bool, _int, _num  # noqa: E402

LOG_STD_MIN = -20.0
LOG_STD_MAX = 2.0
NETS = ("actor", "critic", "critic_target", "value")
OPT_NETS = ("actor", "critic", "value")
LOSSES = ("td", "pa", "q_data", "target_mean", "v", "adv_mean", "adv_std", "actor")


@dataclasses.dataclass(frozen=True)
class Config:
    n_critics: int
    critic_depth: int
    actor_depth: int
    hidden: int
    critic_layer_norm: bool
    value_layer_norm: bool
    activation: str
    penalty: bool
    alpha: float
    reward_scale: float
    reward_shift: float
    gamma: float
    tau: float
    infeasible_distance: float
    actor_lr: float
    critic_lr: float
    value_lr: float
    actor_cosine: bool
    actor_cosine_steps: int
    q_min: float
    batch_size: int
    expectile: float
    temperature: float
    max_weight: float
    policy: str
    step_offset: int = 0

    @staticmethod
    def from_dict(cfg: Mapping[str, Any]) -> "Config":
        if not isinstance(cfg, Mapping):
            raise ConfigError("config must be a JSON object")
        act = cfg.get("activation")
        if act not in pars_ref.ACTIVATIONS:
            raise ConfigError(f"config 'activation' must be one of {', '.join(pars_ref.ACTIVATIONS)}; got {act!r}")
        if act == "gelu" and cfg.get("gelu_approximate") is True:
            act = "gelu_tanh"
        policy = cfg.get("policy")
        if policy not in ("gaussian", "deterministic"):
            raise ConfigError(f"config 'policy' must be 'gaussian' or 'deterministic'; got {policy!r}")
        c = Config(
            n_critics=_int(cfg, "n_critics"),
            critic_depth=_int(cfg, "critic_depth"),
            actor_depth=_int(cfg, "actor_depth"),
            hidden=_int(cfg, "hidden"),
            critic_layer_norm=_bool(cfg, "critic_layer_norm"),
            value_layer_norm=_bool(cfg, "value_layer_norm"),
            activation=act,
            penalty=_bool(cfg, "penalty"),
            alpha=_num(cfg, "alpha"),
            reward_scale=_num(cfg, "reward_scale"),
            reward_shift=_num(cfg, "reward_shift"),
            gamma=_num(cfg, "gamma"),
            tau=_num(cfg, "tau"),
            infeasible_distance=_num(cfg, "infeasible_distance"),
            actor_lr=_num(cfg, "actor_lr"),
            critic_lr=_num(cfg, "critic_lr"),
            value_lr=_num(cfg, "value_lr"),
            actor_cosine=_bool(cfg, "actor_cosine"),
            actor_cosine_steps=_int(cfg, "actor_cosine_steps"),
            q_min=_num(cfg, "q_min"),
            batch_size=_int(cfg, "batch_size"),
            expectile=_num(cfg, "expectile"),
            temperature=_num(cfg, "temperature"),
            max_weight=_num(cfg, "max_weight"),
            policy=policy,
            step_offset=_int(cfg, "step_offset") if "step_offset" in cfg else 0,
        )
        if c.n_critics < 1 or c.critic_depth < 0 or c.actor_depth < 0 or c.hidden < 1:
            raise ConfigError("config network sizes must be positive")
        if not 0.0 < c.expectile < 1.0:
            raise ConfigError("config 'expectile' must lie in (0, 1)")
        if c.actor_cosine and c.actor_cosine_steps < 1:
            raise ConfigError("config 'actor_cosine_steps' must be >= 1 with actor_cosine")
        return c


def param_shapes(cfg: Config, obs_dim: int, act_dim: int) -> Dict[str, Dict[str, tuple]]:
    """For each network, {full tensor name: shape}; 'log_std' is its own entry."""
    ls = pars_ref.layer_shapes
    nets = {
        "actor": (ls(obs_dim, cfg.hidden, cfg.actor_depth, act_dim, False), 1),
        "critic": (ls(obs_dim + act_dim, cfg.hidden, cfg.critic_depth, 1, cfg.critic_layer_norm),
                   cfg.n_critics),
        "critic_target": (ls(obs_dim + act_dim, cfg.hidden, cfg.critic_depth, 1,
                             cfg.critic_layer_norm), cfg.n_critics),
        "value": (ls(obs_dim, cfg.hidden, cfg.critic_depth, 1, cfg.value_layer_norm), 1),
    }
    out = {net: {f"{net}.{m}.{k}": v for m in range(n) for k, v in shapes.items()}
           for net, (shapes, n) in nets.items()}
    out["log_std"] = {"log_std": (act_dim,)}
    return out


def _members(cfg: Config, net: str) -> int:
    return cfg.n_critics if net.startswith("critic") else 1


def mean_apply(cfg: Config, params, obs):
    """mu(s) = tanh(MLP(s)), ReLU hidden layers, no LayerNorm (PARS's actor)."""
    return jnp.tanh(pars_ref.mlp(params, cfg.actor_depth, obs, "relu", False))


def critics_apply(cfg: Config, params, obs, act):
    """Q_i(s, a) of every member: [N, B] (tensors stacked over members)."""
    x = jnp.concatenate([obs, act], axis=-1)
    one = lambda p: pars_ref.mlp(p, cfg.critic_depth, x, cfg.activation, cfg.critic_layer_norm)[..., 0]
    return jax.vmap(one)(params)


def value_apply(cfg: Config, params, obs):
    return pars_ref.mlp(params, cfg.critic_depth, obs, cfg.activation, cfg.value_layer_norm)[..., 0]


def advantage(cfg: Config, critic_target, value, batch):
    q_hat = jnp.min(critics_apply(cfg, critic_target, batch["obs"], batch["actions"]), axis=0)
    return q_hat - value_apply(cfg, value, batch["obs"])


def value_loss(cfg: Config, value, critic_target, batch):
    u = advantage(cfg, jax.lax.stop_gradient(critic_target), value, batch)
    k = jnp.abs(cfg.expectile - (u < 0).astype(u.dtype))
    loss = jnp.mean(k * jnp.square(u))
    aux = {"v": loss, "adv_mean": jnp.mean(u), "adv_std": jnp.std(u)}
    size = {"v": loss, "adv_mean": jnp.mean(jnp.abs(u)), "adv_std": jnp.std(u)}
    return loss, (aux, size)


def critic_loss(cfg: Config, critic, value, batch, draw):
    v_next = value_apply(cfg, value, batch["next_obs"])
    y = cfg.reward_scale * (batch["rewards"] + cfg.reward_shift) \
        + cfg.gamma * (1.0 - batch["dones"]) * v_next
    y = jax.lax.stop_gradient(y)
    q = critics_apply(cfg, critic, batch["obs"], batch["actions"])
    td = jnp.mean(jnp.square(q - y[None, :]))
    if cfg.penalty:
        a_inf = pars_ref.infeasible_actions(draw["pa_u"], cfg.infeasible_distance)
        pa = jnp.mean(jnp.square(critics_apply(cfg, critic, batch["obs"], a_inf) - cfg.q_min))
        loss = td + cfg.alpha * pa
    else:
        pa = jnp.zeros((), q.dtype)
        loss = td
    aux = {"td": td, "pa": pa, "q_data": jnp.mean(q), "target_mean": jnp.mean(y)}
    size = {"td": td, "pa": pa, "q_data": jnp.mean(jnp.abs(q)), "target_mean": jnp.mean(jnp.abs(y))}
    return loss, (aux, size)


def actor_loss(cfg: Config, actor, log_std, u, batch):
    w = jax.lax.stop_gradient(jnp.minimum(jnp.exp(cfg.temperature * u), cfg.max_weight))
    mu = mean_apply(cfg, actor, batch["obs"])
    diff = batch["actions"] - mu
    if cfg.policy == "gaussian":
        ls = jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)
        nll = jnp.sum(0.5 * jnp.square(diff) * jnp.exp(-2.0 * ls) + ls + 0.5 * jnp.log(2.0 * jnp.pi),
                      axis=-1)
    else:
        nll = jnp.sum(jnp.square(diff), axis=-1)
    loss = jnp.mean(w * nll)
    return loss, ({"actor": loss}, {"actor": jnp.mean(jnp.abs(w * nll))})


def actor_schedule(cfg: Config):
    if cfg.actor_cosine:
        return optax.cosine_decay_schedule(cfg.actor_lr, decay_steps=cfg.actor_cosine_steps)
    return cfg.actor_lr


def optimizers(cfg: Config):
    adam = lambda lr: optax.adam(lr, b1=pars_ref.ADAM_B1, b2=pars_ref.ADAM_B2, eps=pars_ref.ADAM_EPS)
    return {"actor": adam(actor_schedule(cfg)), "log_std": adam(actor_schedule(cfg)),
            "critic": adam(cfg.critic_lr), "value": adam(cfg.value_lr)}


@functools.lru_cache(maxsize=None)
def make_step(cfg: Config):
    """step(state, batch, draw) -> (new_state, losses, sizes). state: 'actor', 'critic',
    'critic_target', 'value' (param dicts, critics stacked over members), 'log_std' (a vector)
    and '<name>_opt' optax states for actor, log_std, critic, value."""
    opts = optimizers(cfg)

    def apply(name, params, grads, st):
        updates, st = opts[name].update(grads, st, params)
        return optax.apply_updates(params, updates), st

    @jax.jit
    def step(state, batch, draw):
        (_, (v_aux, v_size)), g_v = jax.value_and_grad(
            lambda v: value_loss(cfg, v, state["critic_target"], batch), has_aux=True
        )(state["value"])
        (_, (q_aux, q_size)), g_q = jax.value_and_grad(
            lambda c: critic_loss(cfg, c, state["value"], batch, draw), has_aux=True
        )(state["critic"])
        u = jax.lax.stop_gradient(advantage(cfg, state["critic_target"], state["value"], batch))
        (_, (a_aux, a_size)), (g_a, g_ls) = jax.value_and_grad(
            lambda a, ls: actor_loss(cfg, a, ls, u, batch), argnums=(0, 1), has_aux=True
        )(state["actor"], state["log_std"])
        new = dict(state)
        new["value"], new["value_opt"] = apply("value", state["value"], g_v, state["value_opt"])
        new["critic"], new["critic_opt"] = apply("critic", state["critic"], g_q, state["critic_opt"])
        new["actor"], new["actor_opt"] = apply("actor", state["actor"], g_a, state["actor_opt"])
        if cfg.policy == "gaussian":
            new["log_std"], new["log_std_opt"] = apply("log_std", state["log_std"], g_ls,
                                                       state["log_std_opt"])
        new["critic_target"] = jax.tree_util.tree_map(
            lambda t, o: (1.0 - cfg.tau) * t + cfg.tau * o, state["critic_target"], new["critic"]
        )
        return new, {**v_aux, **q_aux, **a_aux}, {**v_size, **q_size, **a_size}

    return step


# ---------------------------------------------------------------------------------------------
# Trace names <-> state. Networks as in pars_ref; the vector 'log_std'; Adam moments
# '<net>_adam.m.<param name>', 'log_std_adam.m', and '<name>_adam.step'.


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
    out["log_std"] = shapes["log_std"]["log_std"]
    for net in OPT_NETS:
        for n, s in shapes[net].items():
            out[f"{net}_adam.m.{n}"] = s
            out[f"{net}_adam.v.{n}"] = s
        out[f"{net}_adam.step"] = ()
    out["log_std_adam.m"] = out["log_std_adam.v"] = shapes["log_std"]["log_std"]
    out["log_std_adam.step"] = ()
    return out


def state_from_tensors(cfg: Config, shapes, get, dtype=jnp.float64):
    opts = optimizers(cfg)
    st: Dict[str, Any] = {net: _stack(cfg, shapes, net, get, dtype) for net in NETS}
    st["log_std"] = jnp.asarray(get("log_std"), dtype)
    for net in OPT_NETS:
        mu = _stack(cfg, shapes, net, get, dtype, lambda n: f"{net}_adam.m.{n}")
        nu = _stack(cfg, shapes, net, get, dtype, lambda n: f"{net}_adam.v.{n}")
        count = int(np.asarray(get(f"{net}_adam.step")))
        st[f"{net}_opt"] = pars_ref.make_opt_state(opts[net], st[net], mu, nu, count)
    st0 = opts["log_std"].init(st["log_std"])
    st["log_std_opt"] = optax.tree_utils.tree_set(
        st0,
        count=jnp.asarray(int(np.asarray(get("log_std_adam.step"))), jnp.int32),
        mu=jnp.asarray(get("log_std_adam.m"), dtype),
        nu=jnp.asarray(get("log_std_adam.v"), dtype),
    )
    return st


def state_to_tensors(cfg: Config, state) -> Dict[str, np.ndarray]:
    out: Dict[str, np.ndarray] = {}
    for net in NETS:
        out.update(_unstack(cfg, net, state[net]))
    out["log_std"] = np.asarray(state["log_std"])
    for net in OPT_NETS:
        mu, nu, count = pars_ref.adam_fields(state[f"{net}_opt"])
        out.update(_unstack(cfg, net, mu, lambda n: f"{net}_adam.m.{n}"))
        out.update(_unstack(cfg, net, nu, lambda n: f"{net}_adam.v.{n}"))
        out[f"{net}_adam.step"] = np.asarray(int(count), np.int64)
    mu, nu, count = pars_ref.adam_fields(state["log_std_opt"])
    out["log_std_adam.m"] = np.asarray(mu)
    out["log_std_adam.v"] = np.asarray(nu)
    out["log_std_adam.step"] = np.asarray(int(count), np.int64)
    return out
