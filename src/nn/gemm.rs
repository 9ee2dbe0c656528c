//! Thin safe wrapper over the `gemm` crate (runtime-dispatched AVX2/AVX-512 kernels).
//!
//! Every call is single-threaded: parallelism comes from running ensemble members on
//! different cores, which measured faster than splitting one 256×256 product.

/// A row-major view of a matrix, optionally transposed.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    /// Read the stored `cols × rows` row-major matrix as its transpose.
    pub trans: bool,
}

impl<'a> MatRef<'a> {
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            trans: false,
        }
    }
    /// The transpose of a row-major `rows × cols` matrix (shape `cols × rows`).
    pub fn t(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows: cols,
            cols: rows,
            trans: true,
        }
    }
    fn strides(&self) -> (isize, isize) {
        // (row stride, column stride) of the logical matrix
        if self.trans {
            (1, self.rows as isize)
        } else {
            (self.cols as isize, 1)
        }
    }
}

thread_local! {
    static IN_GEMM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside the `gemm` crate (which allocates its packing buffer
/// and a vector of flags in every product; the allocation test tells those from ours).
#[doc(hidden)]
pub fn in_gemm() -> bool {
    IN_GEMM.with(|f| f.get())
}

/// `c = a · b` (or `c += a · b` when `accumulate`), `c` row-major `a.rows × b.cols`.
pub fn matmul(a: MatRef, b: MatRef, c: &mut [f32], accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "inner dimensions differ");
    assert!(a.data.len() >= m * k && b.data.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let (a_rs, a_cs) = a.strides();
    let (b_rs, b_cs) = b.strides();
    IN_GEMM.with(|f| f.set(true));
    // SAFETY: the asserts above guarantee every index the kernel touches is in bounds.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    IN_GEMM.with(|f| f.set(false));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn transpose(x: &[f32], r: usize, c: usize) -> Vec<f32> {
        let mut t = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                t[j * r + i] = x[i * c + j];
            }
        }
        t
    }

    #[test]
    fn matches_naive_with_transposes() {
        let (m, k, n) = (7, 5, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let at = transpose(&a, m, k);
        let bt = transpose(&b, k, n);
        let mut c = vec![0.0; m * n];
        for (ar, br) in [
            (MatRef::new(&a, m, k), MatRef::new(&b, k, n)),
            (MatRef::t(&at, k, m), MatRef::new(&b, k, n)),
            (MatRef::new(&a, m, k), MatRef::t(&bt, n, k)),
            (MatRef::t(&at, k, m), MatRef::t(&bt, n, k)),
        ] {
            matmul(ar, br, &mut c, false);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-5);
            }
        }
        matmul(MatRef::new(&a, m, k), MatRef::new(&b, k, n), &mut c, true);
        for (x, y) in c.iter().zip(&want) {
            assert!((x - 2.0 * y).abs() < 1e-5);
        }
    }
}
