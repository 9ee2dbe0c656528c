"""Independent reference implementation of one PARS / TD3+BC gradient update.

Written from SPEC.md section 2 and the paper (sections 3, 4, appendix E), not from the Rust
sources. Everything is computed in float64 (``jax_enable_x64``) from the float32 inputs of a
trace, gradients come from ``jax.grad`` and the optimiser is optax's Adam.

Each network's parameters are a dict keyed like ``layer1.weight``; the critic ensemble's tensors
are stacked over members ([N, in, out]) and evaluated with ``jax.vmap``. Adam is elementwise, so
the stacked moments map one-to-one onto the trace's ``critic_adam.m.critic.3.layer1.weight``.

One update step k (1-based, counted from the first step of the trace plus ``step_offset``):

1.  a' = clip(pi_target(s') + clip(sigma * eps, -c, c), -1, 1)
2.  y  = c_reward * r + gamma * (1 - done) * min_{i in S} Qtarget_i(s', a')   (no gradient)
      ReBRAC (beta_critic > 0): y = c_reward * r + gamma * (1 - done) *
        (min_{i in S} Qtarget_i(s', a') - beta_critic * sum_d (a'_d - a_next_d)^2),
      a_next = the dataset's action at s' (batch.next_actions)
3.  TD = mean_{i, b} (Q_i(s, a) - y)^2
4.  PA = mean_{i, b} (Q_i(s, a_inf) - Q_min)^2,  a_inf = (u - 1 if u < 0 else u + 1) * L
5.  critic loss = TD + alpha * PA  (PA only with the penalty on); Adam step on all members
6.  if k % policy_delay == 0: actor step against the critic *after* step 5:
      q = min_i Q_i(s, pi(s))            (actor_subset null)
      q = mean_{i in S_actor} Q_i(s, pi(s))  (actor_subset set)
      lambda = 1 / mean_b |q| (no gradient) if beta > 0 else 1
      actor loss = mean_b(-lambda * q + beta * sum_d (pi(s)_d - a_d)^2)
7.  Polyak on both targets, every step: target <- (1 - tau) * target + tau * online
      (target_update = "with_actor", ReBRAC as in CORL: only on the steps of 6)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Dict, Mapping, Optional

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

LN_EPS = 1e-5
ADAM_B1 = 0.9
ADAM_B2 = 0.999
ADAM_EPS = 1e-8

ACTIVATIONS = ("relu", "gelu", "gelu_tanh", "silu", "sigmoid", "identity")
NETS = ("actor", "actor_target", "critic", "critic_target")
TARGET_UPDATES = ("every_critic", "with_actor")


class ConfigError(ValueError):
    """The trace's config cannot be used (missing or ill-typed field)."""


def _num(cfg: Mapping[str, Any], key: str) -> float:
    if key not in cfg:
        raise ConfigError(f"config has no '{key}'")
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"config '{key}' must be a number, got {v!r}")
    return float(v)


def _int(cfg: Mapping[str, Any], key: str) -> int:
    v = _num(cfg, key)
    if v != int(v):
        raise ConfigError(f"config '{key}' must be an integer, got {cfg[key]!r}")
    return int(v)


def _bool(cfg: Mapping[str, Any], key: str) -> bool:
    if key not in cfg:
        raise ConfigError(f"config has no '{key}'")
    v = cfg[key]
    if not isinstance(v, bool):
        raise ConfigError(f"config '{key}' must be true or false, got {v!r}")
    return v


@dataclasses.dataclass(frozen=True)
class Config:
    n_critics: int
    critic_subset: int
    critic_depth: int
    actor_depth: int
    hidden: int
    critic_layer_norm: bool
    activation: str
    penalty: bool
    alpha: float
    beta: float
    reward_scale: float
    gamma: float
    tau: float
    policy_noise: float
    noise_clip: float
    infeasible_distance: float
    policy_delay: int
    actor_lr: float
    critic_lr: float
    actor_cosine: bool
    actor_cosine_steps: int
    actor_subset: Optional[int]
    q_min: float
    batch_size: int
    step_offset: int = 0
    beta_critic: float = 0.0  # ReBRAC's BC term in the TD target; 0 (or absent) = none
    target_update: str = "every_critic"  # or "with_actor": Polyak only on actor steps

    @staticmethod
    def from_dict(cfg: Mapping[str, Any]) -> "Config":
        if not isinstance(cfg, Mapping):
            raise ConfigError("config must be a JSON object")
        act = cfg.get("activation")
        if act not in ACTIVATIONS:
            raise ConfigError(f"config 'activation' must be one of {', '.join(ACTIVATIONS)}; got {act!r}")
        # "gelu" is the exact (erf) GELU unless the trace says it used the tanh approximation.
        if act == "gelu" and cfg.get("gelu_approximate") is True:
            act = "gelu_tanh"
        subset = cfg.get("actor_subset", None)
        if subset is not None:
            subset = _int(cfg, "actor_subset")
        target_update = cfg.get("target_update", "every_critic")
        if target_update not in TARGET_UPDATES:
            raise ConfigError(f"config 'target_update' must be one of {', '.join(TARGET_UPDATES)}; "
                              f"got {target_update!r}")
        c = Config(
            n_critics=_int(cfg, "n_critics"),
            critic_subset=_int(cfg, "critic_subset"),
            critic_depth=_int(cfg, "critic_depth"),
            actor_depth=_int(cfg, "actor_depth"),
            hidden=_int(cfg, "hidden"),
            critic_layer_norm=_bool(cfg, "critic_layer_norm"),
            activation=act,
            penalty=_bool(cfg, "penalty"),
            alpha=_num(cfg, "alpha"),
            beta=_num(cfg, "beta"),
            reward_scale=_num(cfg, "reward_scale"),
            gamma=_num(cfg, "gamma"),
            tau=_num(cfg, "tau"),
            policy_noise=_num(cfg, "policy_noise"),
            noise_clip=_num(cfg, "noise_clip"),
            infeasible_distance=_num(cfg, "infeasible_distance"),
            policy_delay=_int(cfg, "policy_delay"),
            actor_lr=_num(cfg, "actor_lr"),
            critic_lr=_num(cfg, "critic_lr"),
            actor_cosine=_bool(cfg, "actor_cosine"),
            actor_cosine_steps=_int(cfg, "actor_cosine_steps") if cfg.get("actor_cosine") else
            int(cfg.get("actor_cosine_steps") or 0),
            actor_subset=subset,
            q_min=_num(cfg, "q_min"),
            batch_size=_int(cfg, "batch_size"),
            step_offset=_int(cfg, "step_offset") if "step_offset" in cfg else 0,
            beta_critic=_num(cfg, "beta_critic") if cfg.get("beta_critic") is not None else 0.0,
            target_update=target_update,
        )
        if c.n_critics < 1 or c.critic_depth < 0 or c.actor_depth < 0 or c.hidden < 1:
            raise ConfigError("config network sizes must be positive")
        if c.beta_critic < 0:
            raise ConfigError("config 'beta_critic' must be >= 0")
        if c.policy_delay < 1:
            raise ConfigError("config 'policy_delay' must be >= 1")
        if not 1 <= c.critic_subset <= c.n_critics:
            raise ConfigError(f"config 'critic_subset' must lie in 1..n_critics ({c.n_critics})")
        if c.actor_subset is not None and not 1 <= c.actor_subset <= c.n_critics:
            raise ConfigError(f"config 'actor_subset' must lie in 1..n_critics ({c.n_critics})")
        if c.actor_cosine and c.actor_cosine_steps < 1:
            raise ConfigError("config 'actor_cosine_steps' must be >= 1 with actor_cosine")
        return c

    def is_actor_step(self, k: int) -> bool:
        """Step k of a trace (1-based) updates the actor."""
        return (k + self.step_offset) % self.policy_delay == 0


# ---------------------------------------------------------------------------------------------
# Parameter layout


def layer_shapes(
    in_dim: int, hidden: int, depth: int, out_dim: int, layer_norm: bool
) -> Dict[str, tuple]:
    """Shapes of one MLP's tensors, keyed by the name below the member: 'layer{l}.weight' ..."""
    shapes: Dict[str, tuple] = {}
    d = in_dim
    for l in range(depth):
        shapes[f"layer{l}.weight"] = (d, hidden)
        shapes[f"layer{l}.bias"] = (hidden,)
        if layer_norm:
            shapes[f"layer{l}.ln_scale"] = (hidden,)
            shapes[f"layer{l}.ln_bias"] = (hidden,)
        d = hidden
    shapes[f"layer{depth}.weight"] = (d, out_dim)
    shapes[f"layer{depth}.bias"] = (out_dim,)
    return shapes


def param_shapes(cfg: Config, obs_dim: int, act_dim: int) -> Dict[str, Dict[str, tuple]]:
    """For each network, {full tensor name: shape}, e.g. 'critic.1.layer0.weight'."""
    actor = layer_shapes(obs_dim, cfg.hidden, cfg.actor_depth, act_dim, False)
    critic = layer_shapes(obs_dim + act_dim, cfg.hidden, cfg.critic_depth, 1, cfg.critic_layer_norm)
    out: Dict[str, Dict[str, tuple]] = {}
    for net in NETS:
        if net.startswith("actor"):
            out[net] = {f"{net}.0.{k}": v for k, v in actor.items()}
        else:
            out[net] = {
                f"{net}.{m}.{k}": v for m in range(cfg.n_critics) for k, v in critic.items()
            }
    return out


# ---------------------------------------------------------------------------------------------
# Networks


def activation(name: str, x):
    if name == "relu":
        return jax.nn.relu(x)
    if name == "gelu":
        return jax.nn.gelu(x, approximate=False)
    if name == "gelu_tanh":
        return jax.nn.gelu(x, approximate=True)
    if name == "silu":
        return x * jax.nn.sigmoid(x)
    if name == "sigmoid":
        return jax.nn.sigmoid(x)
    if name == "identity":
        return x
    raise ValueError(name)


def layer_norm(z, scale, shift):
    mean = jnp.mean(z, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(z - mean), axis=-1, keepdims=True)  # biased variance
    return (z - mean) / jnp.sqrt(var + LN_EPS) * scale + shift


def mlp(params: Mapping[str, Any], depth: int, x, act: str, ln: bool):
    """z = x @ W + b per layer; hidden layers: [LayerNorm] then activation; last layer linear.
    params: {'layer{l}.weight': [in, out], 'layer{l}.bias': [out], ...} of one network."""
    for l in range(depth):
        z = x @ params[f"layer{l}.weight"] + params[f"layer{l}.bias"]
        if ln:
            z = layer_norm(z, params[f"layer{l}.ln_scale"], params[f"layer{l}.ln_bias"])
        x = activation(act, z)
    return x @ params[f"layer{depth}.weight"] + params[f"layer{depth}.bias"]


def actor_apply(cfg: Config, params, obs):
    """pi(s) = tanh(MLP(s)), ReLU hidden layers, no LayerNorm."""
    return jnp.tanh(mlp(params, cfg.actor_depth, obs, "relu", False))


def critic_apply(cfg: Config, params, obs, act):
    """Q_i(s, a) of every member i: array [N, B]. The critic's tensors carry a leading member
    axis [N, ...]; the members are independent networks evaluated on the same input."""
    x = jnp.concatenate([obs, act], axis=-1)
    one = lambda p: mlp(p, cfg.critic_depth, x, cfg.activation, cfg.critic_layer_norm)[..., 0]
    return jax.vmap(one)(params)


# ---------------------------------------------------------------------------------------------
# Losses


def infeasible_actions(u, distance):
    """Each coordinate of u ~ U(-1, 1) mapped into [-2L, -L] or [L, 2L]."""
    return jnp.where(u < 0, u - 1.0, u + 1.0) * distance


def critic_loss(cfg: Config, critic, critic_target, actor_target, batch, draw):
    obs, actions, rewards, next_obs, dones = (
        batch["obs"], batch["actions"], batch["rewards"], batch["next_obs"], batch["dones"]
    )
    noise = jnp.clip(cfg.policy_noise * draw["target_eps"], -cfg.noise_clip, cfg.noise_clip)
    next_a = jnp.clip(actor_apply(cfg, actor_target, next_obs) + noise, -1.0, 1.0)
    q_next = critic_apply(cfg, critic_target, next_obs, next_a)  # [N, B]
    q_next = jnp.min(jnp.take(q_next, draw["target_subset"], axis=0), axis=0)
    if cfg.beta_critic > 0:
        # ReBRAC: the target action is penalised for leaving the dataset's next action
        bc_next = jnp.sum(jnp.square(next_a - batch["next_actions"]), axis=-1)
        q_next = q_next - cfg.beta_critic * bc_next
    y = cfg.reward_scale * rewards + cfg.gamma * (1.0 - dones) * q_next
    y = jax.lax.stop_gradient(y)

    q = critic_apply(cfg, critic, obs, actions)  # [N, B]
    td = jnp.mean(jnp.square(q - y[None, :]))
    if cfg.penalty:
        a_inf = infeasible_actions(draw["pa_u"], cfg.infeasible_distance)
        q_inf = critic_apply(cfg, critic, obs, a_inf)
        pa = jnp.mean(jnp.square(q_inf - cfg.q_min))
        loss = td + cfg.alpha * pa
    else:
        pa = jnp.zeros((), q.dtype)
        loss = td
    aux = {"td": td, "pa": pa, "q_data": jnp.mean(q), "target_mean": jnp.mean(y)}
    # Size of the terms each logged value sums, to tell cancellation from real disagreement.
    size = {"td": td, "pa": pa, "q_data": jnp.mean(jnp.abs(q)), "target_mean": jnp.mean(jnp.abs(y))}
    return loss, (aux, size)


def actor_loss(cfg: Config, actor, critic, batch, draw):
    obs, data_a = batch["obs"], batch["actions"]
    a = actor_apply(cfg, actor, obs)
    q_all = critic_apply(cfg, critic, obs, a)  # [N, B]
    if cfg.actor_subset is None:
        q = jnp.min(q_all, axis=0)
    else:
        q = jnp.mean(jnp.take(q_all, draw["actor_subset"], axis=0), axis=0)
    if cfg.beta > 0:
        lam = jax.lax.stop_gradient(1.0 / jnp.mean(jnp.abs(q)))
    else:
        lam = jnp.ones((), q.dtype)
    bc_per_row = jnp.sum(jnp.square(a - data_a), axis=-1)
    loss = jnp.mean(-lam * q + cfg.beta * bc_per_row)
    bc = jnp.mean(bc_per_row)
    aux = {"actor": loss, "bc": bc, "lambda": lam}
    size = {"actor": jnp.mean(jnp.abs(lam * q)) + cfg.beta * bc, "bc": bc, "lambda": lam}
    return loss, (aux, size)


# ---------------------------------------------------------------------------------------------
# Optimisers and the full step


def actor_optimizer(cfg: Config):
    lr = optax.cosine_decay_schedule(cfg.actor_lr, decay_steps=cfg.actor_cosine_steps) \
        if cfg.actor_cosine else cfg.actor_lr
    return optax.adam(lr, b1=ADAM_B1, b2=ADAM_B2, eps=ADAM_EPS)


def critic_optimizer(cfg: Config):
    return optax.adam(cfg.critic_lr, b1=ADAM_B1, b2=ADAM_B2, eps=ADAM_EPS)


def make_opt_state(opt, params, mu, nu, count: int):
    """An optax Adam state holding given moments and step count (count also drives the
    schedule: the learning rate of update t = count + 1 is schedule(count))."""
    st = opt.init(params)
    return optax.tree_utils.tree_set(
        st, count=jnp.asarray(count, jnp.int32), mu=dict(mu), nu=dict(nu)
    )


def adam_fields(st):
    """(mu, nu, count) of an optax Adam chain state."""
    for s in jax.tree_util.tree_leaves(st, is_leaf=lambda x: isinstance(x, optax.ScaleByAdamState)):
        if isinstance(s, optax.ScaleByAdamState):
            return s.mu, s.nu, s.count
    raise ValueError("no Adam state")


@functools.lru_cache(maxsize=None)
def make_step(cfg: Config):
    """Returns step(state, batch, draw, actor_step) -> (new_state, losses, sizes); sizes holds,
    for each logged loss, the magnitude of the terms it sums (mean |term|).

    state: dict with 'actor', 'actor_target', 'critic', 'critic_target' (param dicts; the
    critics' tensors stacked over members) and 'actor_opt', 'critic_opt' (optax states)."""
    a_opt, c_opt = actor_optimizer(cfg), critic_optimizer(cfg)

    @jax.jit
    def critic_update(critic, critic_opt, critic_target, actor_target, batch, draw):
        (_, aux), grads = jax.value_and_grad(
            lambda c: critic_loss(cfg, c, critic_target, actor_target, batch, draw), has_aux=True
        )(critic)
        updates, critic_opt = c_opt.update(grads, critic_opt, critic)
        return optax.apply_updates(critic, updates), critic_opt, aux

    @jax.jit
    def actor_update(actor, actor_opt, critic, batch, draw):
        (_, aux), grads = jax.value_and_grad(
            lambda a: actor_loss(cfg, a, critic, batch, draw), has_aux=True
        )(actor)
        updates, actor_opt = a_opt.update(grads, actor_opt, actor)
        return optax.apply_updates(actor, updates), actor_opt, aux

    @jax.jit
    def polyak(target, online):
        return jax.tree_util.tree_map(lambda t, o: (1.0 - cfg.tau) * t + cfg.tau * o, target, online)

    def step(state, batch, draw, actor_step: bool):
        critic, critic_opt, losses = critic_update(
            state["critic"], state["critic_opt"], state["critic_target"], state["actor_target"],
            batch, draw,
        )
        losses, sizes = losses
        actor, actor_opt = state["actor"], state["actor_opt"]
        if actor_step:
            actor, actor_opt, (a_losses, a_sizes) = actor_update(actor, actor_opt, critic, batch, draw)
            losses, sizes = {**losses, **a_losses}, {**sizes, **a_sizes}
        new = {
            "actor": actor,
            "critic": critic,
            "actor_target": state["actor_target"],
            "critic_target": state["critic_target"],
            "actor_opt": actor_opt,
            "critic_opt": critic_opt,
        }
        # CORL's ReBRAC moves the targets inside its actor update, so only every policy_delay
        if actor_step or cfg.target_update == "every_critic":
            new["actor_target"] = polyak(state["actor_target"], actor)
            new["critic_target"] = polyak(state["critic_target"], critic)
        return new, losses, sizes

    return step


# ---------------------------------------------------------------------------------------------
# Converting between the trace's flat tensor names and the state
#
# Trace names: 'actor.0.layer1.weight', 'critic.3.layer0.ln_scale', 'critic_adam.m.critic.3...'.
# State: state['critic']['layer0.ln_scale'] is stacked over members [N, ...].


def _members(cfg: Config, net: str) -> int:
    return 1 if net.startswith("actor") else cfg.n_critics


def _stack(cfg: Config, shapes, net: str, get, dtype, name_of=lambda n: n):
    """{layer tensor name: [N, ...] (critics) or [...] (actor)} from flat trace tensors."""
    out = {}
    for full in shapes[net]:
        _, m, rest = full.split(".", 2)
        if m != "0":
            continue
        parts = [jnp.asarray(get(name_of(f"{net}.{i}.{rest}")), dtype)
                 for i in range(_members(cfg, net))]
        out[rest] = parts[0] if net.startswith("actor") else jnp.stack(parts)
    return out


def _unstack(cfg: Config, net: str, params, name_of=lambda n: n) -> Dict[str, np.ndarray]:
    out = {}
    for rest, v in params.items():
        v = np.asarray(v)
        if net.startswith("actor"):
            out[name_of(f"{net}.0.{rest}")] = v
        else:
            for i in range(cfg.n_critics):
                out[name_of(f"{net}.{i}.{rest}")] = v[i]
    return out


def state_from_tensors(cfg: Config, shapes, get, dtype=jnp.float64):
    """Build a state from tensors named like the trace (without prefix); get(name) -> array."""
    st: Dict[str, Any] = {}
    for net in NETS:
        st[net] = _stack(cfg, shapes, net, get, dtype)
    for net, opt in (("actor", actor_optimizer(cfg)), ("critic", critic_optimizer(cfg))):
        mu = _stack(cfg, shapes, net, get, dtype, lambda n: f"{net}_adam.m.{n}")
        nu = _stack(cfg, shapes, net, get, dtype, lambda n: f"{net}_adam.v.{n}")
        count = int(np.asarray(get(f"{net}_adam.step")))
        st[f"{net}_opt"] = make_opt_state(opt, st[net], mu, nu, count)
    return st


def state_to_tensors(cfg: Config, state) -> Dict[str, np.ndarray]:
    """Flat {trace name (without prefix): numpy array} of a state."""
    out: Dict[str, np.ndarray] = {}
    for net in NETS:
        out.update(_unstack(cfg, net, state[net]))
    for net in ("actor", "critic"):
        mu, nu, count = adam_fields(state[f"{net}_opt"])
        out.update(_unstack(cfg, net, mu, lambda n: f"{net}_adam.m.{n}"))
        out.update(_unstack(cfg, net, nu, lambda n: f"{net}_adam.v.{n}"))
        out[f"{net}_adam.step"] = np.asarray(int(count), np.int64)
    return out


def cosine_lr(cfg: Config, count: int) -> float:
    """The actor learning rate of the update whose Adam count before the update is `count`
    (what optax's cosine_decay_schedule with alpha = 0 gives)."""
    if not cfg.actor_cosine:
        return cfg.actor_lr
    t = min(count, cfg.actor_cosine_steps) / cfg.actor_cosine_steps
    return cfg.actor_lr * 0.5 * (1.0 + math.cos(math.pi * t))
