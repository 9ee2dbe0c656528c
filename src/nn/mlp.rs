//! Ensemble MLP: N independent members that all read the same input rows.
//!
//! Layer l of member m: z = x·W + b → [LayerNorm] → activation (hidden layers);
//! the last layer is linear, optionally followed by tanh (the actor).
//! Parameters of all members live in one flat vector, member-major, so Adam and
//! Polyak updates are single loops and members can be updated on separate cores.
use super::gemm::{matmul, MatRef};
use super::{dot8, sum8, ActFn, Activation};
use crate::multiversion;
use rand::Rng;
use serde::{Deserialize, Serialize};

const LN_EPS: f32 = 1e-5;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpSpec {
    pub input: usize,
    /// Width of every hidden layer.
    pub hidden: usize,
    /// Number of hidden layers.
    pub depth: usize,
    pub output: usize,
    pub layer_norm: bool,
    pub activation: Activation,
    pub tanh_output: bool,
    /// A tanh-Gaussian policy head (SAC): the linear output is [μ | log σ], 2·act_dim
    /// columns; the deterministic action is tanh(μ), a sample tanh(μ + σε). The network
    /// itself stays linear at the end (`tanh_output` is false); `crate::policy` applies
    /// the head. Absent in files of other networks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gaussian_head: bool,
    /// Initial bias of hidden layers.
    pub hidden_bias_init: f32,
    /// Output-layer weights start in U(−s, s).
    pub output_init_scale: f32,
}

#[derive(Clone, Copy, Debug)]
struct LayerShape {
    fan_in: usize,
    fan_out: usize,
    w: usize,
    b: usize,
    /// Offsets of LayerNorm gain and shift, hidden layers only.
    ln: Option<(usize, usize)>,
    hidden: bool,
}

/// How a new network's parameters are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// SPEC §1: He-uniform hidden weights, hidden biases `hidden_bias_init`, output
    /// weights U(±output_init_scale), output bias 0.
    #[default]
    Pars,
    /// PyTorch's `nn.Linear` default, as textbook TD3 uses: U(±1/√fan_in) for weights
    /// and biases of every layer.
    Pytorch,
}

#[derive(Clone, Debug)]
pub struct EnsembleMlp {
    pub spec: MlpSpec,
    pub members: usize,
    /// Flat parameters, `members × member_len`.
    pub params: Vec<f32>,
    member_len: usize,
    layers: Vec<LayerShape>,
}

fn layer_shapes(spec: &MlpSpec) -> (Vec<LayerShape>, usize) {
    let mut dims = vec![spec.input];
    dims.extend(std::iter::repeat_n(spec.hidden, spec.depth));
    dims.push(spec.output);
    let mut off = 0;
    let mut layers = Vec::new();
    for l in 0..dims.len() - 1 {
        let (fan_in, fan_out) = (dims[l], dims[l + 1]);
        let hidden = l < spec.depth;
        let w = off;
        off += fan_in * fan_out;
        let b = off;
        off += fan_out;
        let ln = if hidden && spec.layer_norm {
            let g = off;
            off += 2 * fan_out;
            Some((g, g + fan_out))
        } else {
            None
        };
        layers.push(LayerShape {
            fan_in,
            fan_out,
            w,
            b,
            ln,
            hidden,
        });
    }
    (layers, off)
}

impl EnsembleMlp {
    /// He-uniform hidden weights, small uniform output layer, LN gain 1 / shift 0.
    pub fn new<R: Rng>(spec: MlpSpec, members: usize, rng: &mut R) -> Self {
        Self::new_with(spec, members, Init::Pars, rng)
    }

    /// A new ensemble with the given initialisation (LN gain 1 / shift 0 in both).
    pub fn new_with<R: Rng>(spec: MlpSpec, members: usize, init: Init, rng: &mut R) -> Self {
        assert!(members > 0 && spec.input > 0 && spec.output > 0 && spec.hidden > 0);
        let (layers, member_len) = layer_shapes(&spec);
        let mut params = vec![0.0f32; members * member_len];
        for m in 0..members {
            let p = &mut params[m * member_len..(m + 1) * member_len];
            for ly in &layers {
                let w = &mut p[ly.w..ly.w + ly.fan_in * ly.fan_out];
                match init {
                    Init::Pars => {
                        let bound = if ly.hidden {
                            (6.0 / ly.fan_in as f32).sqrt()
                        } else {
                            spec.output_init_scale
                        };
                        for v in w.iter_mut() {
                            *v = rng.gen_range(-bound..=bound);
                        }
                        let bias = if ly.hidden {
                            spec.hidden_bias_init
                        } else {
                            0.0
                        };
                        p[ly.b..ly.b + ly.fan_out].fill(bias);
                    }
                    Init::Pytorch => {
                        // nn.Linear's default: weights and biases U(±1/√fan_in)
                        let bound = 1.0 / (ly.fan_in as f32).sqrt();
                        for v in w.iter_mut() {
                            *v = rng.gen_range(-bound..=bound);
                        }
                        for v in &mut p[ly.b..ly.b + ly.fan_out] {
                            *v = rng.gen_range(-bound..=bound);
                        }
                    }
                }
                if let Some((g, s)) = ly.ln {
                    p[g..g + ly.fan_out].fill(1.0);
                    p[s..s + ly.fan_out].fill(0.0);
                }
            }
        }
        Self {
            spec,
            members,
            params,
            member_len,
            layers,
        }
    }

    /// Rebuild from saved parameters (checked against the spec).
    pub fn from_params(spec: MlpSpec, members: usize, params: Vec<f32>) -> anyhow::Result<Self> {
        let (layers, member_len) = layer_shapes(&spec);
        anyhow::ensure!(
            params.len() == members * member_len,
            "parameter count {} does not match the network shape ({} members × {})",
            params.len(),
            members,
            member_len
        );
        Ok(Self {
            spec,
            members,
            params,
            member_len,
            layers,
        })
    }

    pub fn member_len(&self) -> usize {
        self.member_len
    }

    pub fn member_params(&self, m: usize) -> &[f32] {
        &self.params[m * self.member_len..(m + 1) * self.member_len]
    }

    /// FLOPs of one forward pass of one member on `rows` rows (GEMMs only, 2·m·n·k).
    pub fn forward_flops(&self, rows: usize) -> u64 {
        self.layers
            .iter()
            .map(|l| 2 * (rows * l.fan_in * l.fan_out) as u64)
            .sum()
    }

    /// FLOPs of one backward pass of one member: weight gradients for every layer,
    /// input gradients for every layer but the first unless `dinput`.
    pub fn backward_flops(&self, rows: usize, param_grads: bool, dinput: bool) -> u64 {
        self.layers
            .iter()
            .enumerate()
            .map(|(l, ly)| {
                let f = 2 * (rows * ly.fan_in * ly.fan_out) as u64;
                let mut t = 0;
                if param_grads {
                    t += f;
                }
                if l > 0 || dinput {
                    t += f;
                }
                t
            })
            .sum()
    }

    /// Forward `rows` input rows `x` ([rows, input]) through the listed members.
    /// Outputs are read with `tape.output(m)`.
    pub fn forward(&self, x: &[f32], rows: usize, members: &[usize], tape: &mut Tape) {
        let input = self.spec.input;
        assert_eq!(x.len(), rows * input, "input has the wrong size");
        assert!(
            rows <= tape.max_rows,
            "tape holds at most {} rows",
            tape.max_rows
        );
        tape.rows = rows;
        tape.x[..rows * input].copy_from_slice(x);
        let Tape {
            x: tx, members: mt, ..
        } = tape;
        let x: &[f32] = &tx[..rows * input];
        let sel = selection(members, self.members);
        let run = |m: usize, t: &mut MemberTape, _: Option<&mut [f32]>| {
            self.forward_member(self.member_params(m), x, rows, t);
        };
        for_selected(mt, None, 0, 0, sel, &run);
    }

    fn forward_member(&self, p: &[f32], x: &[f32], rows: usize, t: &mut MemberTape) {
        let act = self.spec.activation;
        for (l, ly) in self.layers.iter().enumerate() {
            let (fi, fo) = (ly.fan_in, ly.fan_out);
            let (before, rest) = t.acts.split_at_mut(l);
            let input: &[f32] = if l == 0 {
                x
            } else {
                &before[l - 1][..rows * fi]
            };
            let w = MatRef::new(&p[ly.w..ly.w + fi * fo], fi, fo);
            let bias = &p[ly.b..ly.b + fo];
            let out = &mut rest[0][..rows * fo];
            if !ly.hidden {
                matmul(MatRef::new(input, rows, fi), w, out, false);
                output_bias(out, bias, self.spec.tanh_output);
                continue;
            }
            // with LayerNorm the GEMM writes into the x̂ buffer, normalised in place
            // (h = x̂·gain + shift is recomputed in the backward pass, bit for bit);
            // without it, h is kept in `pre`
            let ln = ly.ln.map(|(g, s)| (&p[g..g + fo], &p[s..s + fo]));
            let z = if ln.is_some() {
                &mut t.xhat[l][..rows * fo]
            } else {
                &mut t.pre[l][..rows * fo]
            };
            matmul(MatRef::new(input, rows, fi), w, z, false);
            let rstd = &mut t.rstd[l][..];
            crate::with_activation!(act, A => fused_forward::<A>(z, out, bias, ln, rstd, fo));
        }
    }

    /// Backpropagate `dout` (member-major, [members_total, rows, output]; only the
    /// listed members' parts are read) through the last `forward` of `tape`.
    /// Writes (overwrites) the listed members' parameter gradients into `grads` when
    /// given, and the gradient w.r.t. the input into the tape when `want_dinput`
    /// (read it summed over members with `Tape::dinput_sum`).
    pub fn backward(
        &self,
        tape: &mut Tape,
        members: &[usize],
        dout: &[f32],
        grads: Option<&mut [f32]>,
        want_dinput: bool,
    ) {
        let rows = tape.rows;
        let out_len = rows * self.spec.output;
        assert!(dout.len() >= self.members * out_len);
        let sel = selection(members, self.members);
        let Tape {
            x: tx, members: mt, ..
        } = tape;
        let x: &[f32] = &tx[..rows * self.spec.input];
        let ml = self.member_len;
        // a lone member (the actor, V) splits its own work; members of an ensemble
        // already fill the cores and stay on one core each (their data stays in its cache)
        let alone = sel.count_ones() == 1;
        let run = |m: usize, t: &mut MemberTape, g: Option<&mut [f32]>| {
            let d = &dout[m * out_len..(m + 1) * out_len];
            self.backward_member(self.member_params(m), x, rows, t, d, g, want_dinput, alone);
        };
        if let Some(g) = &grads {
            assert_eq!(g.len(), self.params.len());
        }
        for_selected(mt, grads, ml, 0, sel, &run);
    }

    #[allow(clippy::too_many_arguments)]
    fn backward_member(
        &self,
        p: &[f32],
        x: &[f32],
        rows: usize,
        t: &mut MemberTape,
        dout: &[f32],
        mut g: Option<&mut [f32]>,
        want_dinput: bool,
        split: bool,
    ) {
        let act = self.spec.activation;
        let last = self.layers.len() - 1;
        let MemberTape {
            pre,
            xhat,
            rstd,
            acts,
            dcur,
            dnext,
            dinput,
            ..
        } = t;
        // gradient w.r.t. the network output → w.r.t. the last pre-activation
        let out_n = rows * self.spec.output;
        dcur[..out_n].copy_from_slice(dout);
        if self.spec.tanh_output {
            for (d, y) in dcur[..out_n].iter_mut().zip(&acts[last][..out_n]) {
                *d *= 1.0 - y * y;
            }
        }
        for l in (0..=last).rev() {
            let ly = self.layers[l];
            let (fi, fo) = (ly.fan_in, ly.fan_out);
            let dz = &mut dcur[..rows * fo];
            if ly.hidden {
                // dcur holds dL/da; turn it into dL/dz (and the bias/LN gradients)
                let grads = g.as_deref_mut().map(|g| match ly.ln {
                    // gain and shift gradients lie after the bias's
                    Some((gi, _)) => {
                        let (head, tail) = g.split_at_mut(gi);
                        (
                            &mut head[ly.b..ly.b + fo],
                            Some(tail[..2 * fo].split_at_mut(fo)),
                        )
                    }
                    None => (&mut g[ly.b..ly.b + fo], None),
                });
                let h = match ly.ln {
                    Some((gi, si)) => Hidden::Ln {
                        gain: &p[gi..gi + fo],
                        shift: &p[si..si + fo],
                        xhat: &xhat[l][..rows * fo],
                        rstd: &rstd[l][..rows],
                    },
                    None => Hidden::Plain(&pre[l][..rows * fo]),
                };
                crate::with_activation!(act, A => fused_backward::<A>(dz, &acts[l][..rows * fo], h, grads, fo));
            }
            let dz: &[f32] = dz;
            let input: &[f32] = if l == 0 { x } else { &acts[l - 1][..rows * fi] };
            // the weight gradient and the input gradient both only read dz: with `split`
            // they run at once (the numbers are the same either way)
            let mut param_grads = || {
                if let Some(g) = g.as_deref_mut() {
                    matmul(
                        MatRef::t(input, rows, fi),
                        MatRef::new(dz, rows, fo),
                        &mut g[ly.w..ly.w + fi * fo],
                        false,
                    );
                    if !ly.hidden {
                        column_sums(&mut g[ly.b..ly.b + fo], dz);
                    }
                }
            };
            let w = &p[ly.w..ly.w + fi * fo];
            let dx_out = if l > 0 {
                Some(&mut dnext[..rows * fi])
            } else if want_dinput {
                Some(&mut dinput[..rows * fi])
            } else {
                None
            };
            let input_grads = || {
                if let Some(out) = dx_out {
                    matmul(MatRef::new(dz, rows, fo), MatRef::t(w, fi, fo), out, false);
                }
            };
            if split {
                rayon::join(param_grads, input_grads);
            } else {
                param_grads();
                input_grads();
            }
            if l > 0 {
                std::mem::swap(dcur, dnext);
            }
        }
    }
}

multiversion! {
/// Output layer after its GEMM: z += b, then tanh for the actor.
fn output_bias(out: &mut [f32], bias: &[f32], tanh: bool) {
    for row in out.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
        if tanh {
            row.iter_mut().for_each(|v| *v = v.tanh());
        }
    }
}
}

multiversion! {
/// `sums[j] = Σ_r x[r, j]` (bias gradients), rows in order.
fn column_sums(sums: &mut [f32], x: &[f32]) {
    sums.fill(0.0);
    for row in x.chunks_exact(sums.len()) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}
}

multiversion! {
/// After the GEMM of a hidden layer, one row at a time: z += b → [LayerNorm] →
/// activation. With LayerNorm, `z` ends as x̂ and `rstd` holds 1/σ per row (for the
/// backward pass); without it `z` ends as h, the activation's input.
fn fused_forward<A: ActFn>(
    z: &mut [f32],
    out: &mut [f32],
    bias: &[f32],
    ln: Option<(&[f32], &[f32])>,
    rstd: &mut [f32],
    fo: usize,
) {
    for (r, (zrow, orow)) in z.chunks_exact_mut(fo).zip(out.chunks_exact_mut(fo)).enumerate() {
        for (h, b) in zrow.iter_mut().zip(bias) {
            *h += b;
        }
        match ln {
            None => {
                for (o, h) in orow.iter_mut().zip(zrow.iter()) {
                    *o = A::f(*h);
                }
            }
            Some((gain, shift)) => {
                let mean = sum8(zrow) / fo as f32;
                for v in zrow.iter_mut() {
                    *v -= mean;
                }
                let var = dot8(zrow, zrow) / fo as f32;
                let rs = 1.0 / (var + LN_EPS).sqrt();
                rstd[r] = rs;
                for (((xh, o), g), s) in zrow.iter_mut().zip(orow.iter_mut()).zip(gain).zip(shift) {
                    *xh *= rs;
                    *o = A::f(*xh * g + s);
                }
            }
        }
    }
}
}

/// What the backward pass of a hidden layer reads besides its output.
enum Hidden<'a> {
    /// No LayerNorm: h, the activation's input.
    Plain(&'a [f32]),
    /// LayerNorm: h = x̂·gain + shift is recomputed from x̂.
    Ln {
        gain: &'a [f32],
        shift: &'a [f32],
        xhat: &'a [f32],
        rstd: &'a [f32],
    },
}

/// Gradient slots of a hidden layer: bias, and LayerNorm gain and shift.
type HiddenGrads<'a> = (&'a mut [f32], Option<(&'a mut [f32], &'a mut [f32])>);

multiversion! {
/// dL/da → dL/dz of a hidden layer (activation, then LayerNorm), in place in `dz`,
/// one row at a time while it is in cache; accumulates the bias and LayerNorm
/// gradients (over rows in order) when given.
fn fused_backward<A: ActFn>(
    dz: &mut [f32],
    a: &[f32],
    hidden: Hidden,
    grads: Option<HiddenGrads>,
    fo: usize,
) {
    let (mut gb, mut gln) = match grads {
        Some((gb, ln)) => (Some(gb), ln),
        None => (None, None),
    };
    if let Some(gb) = gb.as_deref_mut() {
        gb.fill(0.0);
    }
    if let Some((gg, gs)) = gln.as_mut() {
        gg.fill(0.0);
        gs.fill(0.0);
    }
    let inv_n = 1.0 / fo as f32;
    for (r, (drow, arow)) in dz.chunks_exact_mut(fo).zip(a.chunks_exact(fo)).enumerate() {
        match hidden {
            Hidden::Plain(h) => {
                let hrow = &h[r * fo..(r + 1) * fo];
                for ((d, h), a) in drow.iter_mut().zip(hrow).zip(arow) {
                    *d *= A::df(*h, *a);
                }
            }
            Hidden::Ln { gain, shift, xhat, rstd } => {
                let xrow = &xhat[r * fo..(r + 1) * fo];
                for ((((d, x), a), g), s) in drow.iter_mut().zip(xrow).zip(arow).zip(gain).zip(shift) {
                    *d *= A::df(*x * g + s, *a);
                }
                if let Some((gg, gs)) = gln.as_mut() {
                    for (((gg, gs), d), x) in gg.iter_mut().zip(gs.iter_mut()).zip(drow.iter()).zip(xrow) {
                        *gg += d * x;
                        *gs += d;
                    }
                }
                for (d, g) in drow.iter_mut().zip(gain) {
                    *d *= g;
                }
                let m1 = sum8(drow) * inv_n;
                let m2 = dot8(drow, xrow) * inv_n;
                let rs = rstd[r];
                for (d, x) in drow.iter_mut().zip(xrow) {
                    *d = rs * (*d - m1 - x * m2);
                }
            }
        }
        if let Some(gb) = gb.as_deref_mut() {
            for (b, d) in gb.iter_mut().zip(drow.iter()) {
                *b += d;
            }
        }
    }
}
}

/// Run `f(member, tape, its gradient slice)` for every selected member of `tapes`
/// (members `base..`), halving the *selected* members across the thread pool, so that
/// any subset (e.g. 2 target members of 10) is spread evenly over the cores. Each
/// member's arithmetic does not depend on where it runs.
fn for_selected<F>(
    tapes: &mut [MemberTape],
    grads: Option<&mut [f32]>,
    member_len: usize,
    base: usize,
    sel: u128,
    f: &F,
) where
    F: Fn(usize, &mut MemberTape, Option<&mut [f32]>) + Sync,
{
    let picked = |i: usize| (sel >> (base + i)) & 1 == 1;
    let count = (0..tapes.len()).filter(|&i| picked(i)).count();
    match count {
        0 => {}
        1 => {
            let i = (0..tapes.len()).find(|&i| picked(i)).unwrap();
            let g = grads.map(|g| &mut g[i * member_len..(i + 1) * member_len]);
            f(base + i, &mut tapes[i], g);
        }
        _ => {
            // split after the (count/2)-th selected member
            let mut seen = 0;
            let mut split = tapes.len();
            for i in 0..tapes.len() {
                if picked(i) {
                    seen += 1;
                    if seen == count / 2 {
                        split = i + 1;
                        break;
                    }
                }
            }
            let (tl, tr) = tapes.split_at_mut(split);
            let (gl, gr) = match grads {
                Some(g) => {
                    let (a, b) = g.split_at_mut(split * member_len);
                    (Some(a), Some(b))
                }
                None => (None, None),
            };
            rayon::join(
                || for_selected(tl, gl, member_len, base, sel, f),
                || for_selected(tr, gr, member_len, base + split, sel, f),
            );
        }
    }
}

/// Bit set of the listed members (no allocation on the training path).
fn selection(members: &[usize], n: usize) -> u128 {
    assert!(n <= 128, "at most 128 ensemble members");
    let mut sel = 0u128;
    for &m in members {
        assert!(m < n, "member {m} out of range ({n} members)");
        sel |= 1u128 << m;
    }
    sel
}

/// Activations of one member kept for the backward pass.
#[derive(Clone, Debug)]
struct MemberTape {
    pre: Vec<Vec<f32>>,
    xhat: Vec<Vec<f32>>,
    rstd: Vec<Vec<f32>>,
    acts: Vec<Vec<f32>>,
    dcur: Vec<f32>,
    dnext: Vec<f32>,
    dinput: Vec<f32>,
}

/// Preallocated buffers for forward/backward passes of up to `max_rows` rows.
#[derive(Clone, Debug)]
pub struct Tape {
    members: Vec<MemberTape>,
    x: Vec<f32>,
    rows: usize,
    max_rows: usize,
    output: usize,
    input: usize,
}

impl Tape {
    pub fn new(net: &EnsembleMlp, max_rows: usize) -> Self {
        let s = &net.spec;
        let widest = s.input.max(s.hidden).max(s.output);
        let layers = &net.layers;
        let mk = |f: &dyn Fn(&LayerShape) -> usize| -> Vec<Vec<f32>> {
            layers.iter().map(|l| vec![0.0; f(l)]).collect()
        };
        let ln = s.layer_norm;
        let member = MemberTape {
            pre: mk(&|l| {
                if l.hidden && !ln {
                    max_rows * l.fan_out
                } else {
                    0
                }
            }),
            xhat: mk(&|l| {
                if l.hidden && ln {
                    max_rows * l.fan_out
                } else {
                    0
                }
            }),
            rstd: mk(&|l| if l.hidden && ln { max_rows } else { 0 }),
            acts: mk(&|l| max_rows * l.fan_out),
            dcur: vec![0.0; max_rows * widest],
            dnext: vec![0.0; max_rows * widest],
            dinput: vec![0.0; max_rows * s.input],
        };
        Self {
            members: vec![member; net.members],
            x: vec![0.0; max_rows * s.input],
            rows: 0,
            max_rows,
            output: s.output,
            input: s.input,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Output of member `m` from the last forward, [rows, output].
    pub fn output(&self, m: usize) -> &[f32] {
        let t = &self.members[m];
        &t.acts[t.acts.len() - 1][..self.rows * self.output]
    }

    /// Hidden activations of member `m`, layer `l`, [rows, hidden] (for analyses).
    pub fn hidden(&self, m: usize, l: usize) -> &[f32] {
        let t = &self.members[m];
        let w = t.acts[l].len() / self.max_rows;
        &t.acts[l][..self.rows * w]
    }

    /// Dormant-neuron ratio over the first `rows` rows of the last forward: the
    /// fraction of hidden units (all members, the first `depth` hidden layers of width
    /// `width`) whose activation is ≤ 0 (threshold τ = 0) on every one of those rows.
    pub fn dormant_ratio(&self, depth: usize, width: usize, rows: usize) -> f64 {
        let (mut dormant, mut total) = (0usize, 0usize);
        for m in 0..self.members.len() {
            for l in 0..depth {
                let h = &self.hidden(m, l)[..rows * width];
                for j in 0..width {
                    total += 1;
                    if (0..rows).all(|r| h[r * width + j] <= 0.0) {
                        dormant += 1;
                    }
                }
            }
        }
        dormant as f64 / total as f64
    }

    /// Σ over the listed members of dL/dinput, written into `out` ([rows, input]).
    pub fn dinput_sum(&self, members: &[usize], out: &mut [f32]) {
        let n = self.rows * self.input;
        out[..n].fill(0.0);
        for &m in members {
            for (o, d) in out[..n].iter_mut().zip(&self.members[m].dinput[..n]) {
                *o += d;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn spec(ln: bool, act: Activation, tanh: bool) -> MlpSpec {
        MlpSpec {
            input: 5,
            hidden: 8,
            depth: 2,
            output: 2,
            layer_norm: ln,
            activation: act,
            tanh_output: tanh,
            gaussian_head: false,
            hidden_bias_init: 0.1,
            // large enough that the output layer matters in the check
            output_init_scale: 0.5,
        }
    }

    /// L = Σ c ⊙ outputs over all members.
    fn loss(net: &EnsembleMlp, x: &[f32], rows: usize, c: &[f32], tape: &mut Tape) -> f64 {
        let all: Vec<usize> = (0..net.members).collect();
        net.forward(x, rows, &all, tape);
        let n = rows * net.spec.output;
        (0..net.members)
            .map(|m| {
                tape.output(m)
                    .iter()
                    .zip(&c[m * n..])
                    .map(|(o, c)| (*o as f64) * (*c as f64))
                    .sum::<f64>()
            })
            .sum()
    }

    fn check(ln: bool, act: Activation, tanh: bool) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let members = 3;
        let rows = 4;
        let mut net = EnsembleMlp::new(spec(ln, act, tanh), members, &mut rng);
        // non-trivial LayerNorm parameters so their gradients are exercised
        for v in net.params.iter_mut() {
            *v += rng.gen_range(-0.05..0.05);
        }
        let x: Vec<f32> = (0..rows * 5).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let c: Vec<f32> = (0..members * rows * 2)
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        let mut tape = Tape::new(&net, rows);
        let all: Vec<usize> = (0..members).collect();
        loss(&net, &x, rows, &c, &mut tape);
        let mut grads = vec![0.0; net.params.len()];
        net.backward(&mut tape, &all, &c, Some(&mut grads), true);
        let mut dx = vec![0.0; rows * 5];
        tape.dinput_sum(&all, &mut dx);

        let eps = 1e-3f32;
        let close = |fd: f64, an: f32, what: &str| {
            let an = an as f64;
            let tol = 2e-3 + 2e-2 * fd.abs().max(an.abs());
            assert!(
                (fd - an).abs() <= tol,
                "{what}: finite difference {fd} vs analytic {an} (ln={ln}, {act:?}, tanh={tanh})"
            );
        };
        for i in 0..net.params.len() {
            let orig = net.params[i];
            net.params[i] = orig + eps;
            let lp = loss(&net, &x, rows, &c, &mut tape);
            net.params[i] = orig - eps;
            let lm = loss(&net, &x, rows, &c, &mut tape);
            net.params[i] = orig;
            close(
                (lp - lm) / (2.0 * eps as f64),
                grads[i],
                &format!("param {i}"),
            );
        }
        let mut xp = x.clone();
        for i in 0..x.len() {
            xp[i] = x[i] + eps;
            let lp = loss(&net, &xp, rows, &c, &mut tape);
            xp[i] = x[i] - eps;
            let lm = loss(&net, &xp, rows, &c, &mut tape);
            xp[i] = x[i];
            close((lp - lm) / (2.0 * eps as f64), dx[i], &format!("input {i}"));
        }
    }

    #[test]
    fn pytorch_init_draws_weights_and_biases_within_one_over_sqrt_fan_in() {
        let spec = MlpSpec {
            input: 9,
            hidden: 16,
            depth: 2,
            output: 3,
            layer_norm: true,
            activation: Activation::Relu,
            tanh_output: false,
            gaussian_head: false,
            hidden_bias_init: 0.1,
            output_init_scale: 3e-3,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let net = EnsembleMlp::new_with(spec.clone(), 2, Init::Pytorch, &mut rng);
        let pars = EnsembleMlp::new_with(spec, 2, Init::Pars, &mut rng);
        for m in 0..2 {
            for (l, ly) in net.layers.iter().enumerate() {
                let p = &net.params[m * net.member_len..(m + 1) * net.member_len];
                let bound = 1.0 / (ly.fan_in as f32).sqrt();
                let w = &p[ly.w..ly.w + ly.fan_in * ly.fan_out];
                let b = &p[ly.b..ly.b + ly.fan_out];
                for v in w.iter().chain(b) {
                    assert!(v.abs() <= bound, "layer {l}: {v} outside ±{bound}");
                }
                // spread over the range, biases random (not the PARS constants)
                assert!(w.iter().any(|v| v.abs() > 0.5 * bound), "layer {l}");
                assert!(b.iter().any(|v| *v != b[0]), "layer {l}");
                if let Some((g, s)) = ly.ln {
                    assert!(p[g..g + ly.fan_out].iter().all(|v| *v == 1.0));
                    assert!(p[s..s + ly.fan_out].iter().all(|v| *v == 0.0));
                }
                let q = &pars.params[m * pars.member_len..(m + 1) * pars.member_len];
                let pb = &q[ly.b..ly.b + ly.fan_out];
                let expect = if ly.hidden { 0.1 } else { 0.0 };
                assert!(pb.iter().all(|v| *v == expect), "PARS biases are constant");
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences_for_every_layer_type() {
        for act in [
            Activation::Relu,
            Activation::Gelu,
            Activation::Silu,
            Activation::Sigmoid,
            Activation::Identity,
        ] {
            for ln in [false, true] {
                check(ln, act, false);
            }
        }
        check(false, Activation::Relu, true); // the actor: tanh output, no LN
        check(true, Activation::Gelu, true);
    }

    #[test]
    fn subset_forward_matches_full_forward_and_members_differ() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let net = EnsembleMlp::new(spec(true, Activation::Relu, false), 4, &mut rng);
        let x: Vec<f32> = (0..3 * 5).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut full = Tape::new(&net, 3);
        net.forward(&x, 3, &[0, 1, 2, 3], &mut full);
        let mut sub = Tape::new(&net, 3);
        net.forward(&x, 3, &[2], &mut sub);
        assert_eq!(full.output(2), sub.output(2));
        assert_ne!(full.output(0), full.output(1));
    }

    #[test]
    fn flop_count_matches_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let net = EnsembleMlp::new(spec(true, Activation::Relu, false), 1, &mut rng);
        // (5·8 + 8·8 + 8·2)·2·rows
        assert_eq!(net.forward_flops(10), 2 * 10 * (40 + 64 + 16));
        assert_eq!(
            net.backward_flops(10, true, false),
            2 * 2 * 10 * (40 + 64 + 16) - 2 * 10 * 40
        );
    }
}
