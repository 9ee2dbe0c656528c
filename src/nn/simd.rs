//! Run-time choice of the vector width for the engine's elementwise kernels.
//!
//! The crate is built for baseline x86-64 (SSE2) so that one binary runs everywhere;
//! the `gemm` crate picks AVX2/AVX-512 GEMM kernels at run time, but our own fused
//! bias/LayerNorm/activation, Adam and Polyak loops would stay 4 lanes wide. `multiversion!`
//! compiles such a loop three times (AVX-512, AVX2+FMA, baseline) and calls the widest the
//! CPU has. The arithmetic is the same in each copy: Rust never contracts a·b + c into an
//! FMA or reorders float sums on its own, and our reductions have a fixed order
//! (`sum8`/`dot8`), so every copy gives bit-identical results.

/// Widest instruction set of this CPU that `multiversion!` uses (ordered by width).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Baseline,
    Avx2,
    Avx512,
}

/// The level the kernels run at (detected once; `PARS_SIMD=avx2|baseline` lowers it,
/// for tests that compare copies).
pub fn level() -> Level {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = match std::env::var("PARS_SIMD").as_deref() {
            Ok("baseline") => Level::Baseline,
            Ok("avx2") => Level::Avx2,
            _ => Level::Avx512,
        };
        cap.min(detect())
    })
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    if std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512dq")
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
    {
        Level::Avx512
    } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        Level::Avx2
    } else {
        Level::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Baseline
}

/// Define `fn NAME(args) BODY` compiled for each `Level` and dispatched at run time.
/// Generic parameters (one bound each) are allowed; the body must not rely on
/// `#[target_feature]`-only intrinsics.
#[macro_export]
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident $(<$($g:ident : $bound:path),*>)? ($($arg:ident : $ty:ty),* $(,)?) $body:block
    ) => {
        $(#[$meta])*
        $vis fn $name $(<$($g: $bound),*>)? ($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn inner $(<$($g: $bound),*>)? ($($arg: $ty),*) $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512 $(<$($g: $bound),*>)? ($($arg: $ty),*) {
                    inner $(::<$($g),*>)? ($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2 $(<$($g: $bound),*>)? ($($arg: $ty),*) {
                    inner $(::<$($g),*>)? ($($arg),*)
                }
                match $crate::nn::simd::level() {
                    // SAFETY: `level()` reports only features this CPU has.
                    $crate::nn::simd::Level::Avx512 => unsafe {
                        return avx512 $(::<$($g),*>)? ($($arg),*);
                    },
                    $crate::nn::simd::Level::Avx2 => unsafe {
                        return avx2 $(::<$($g),*>)? ($($arg),*);
                    },
                    $crate::nn::simd::Level::Baseline => {}
                }
            }
            inner $(::<$($g),*>)? ($($arg),*)
        }
    };
}
