//! Every GEMM path this CPU supports (AVX-512, AVX2 + FMA, portable) against a naive f64
//! reference, over shapes that cross every tile and block edge (1, primes, non-multiples of
//! MR = 12 / 6 and NR = 32 / 16, K past one KC block), strided and transposed operands,
//! alpha / beta, packed left operands and epilogues; and bit-identical results between the
//! serial and parallel drivers and across thread counts.
//!
//! A path the CPU lacks is skipped (and says so): `Isa::supported()` lists what runs here.
//! Setting `AGON_GEMM_ISA=avx2` or `=portable` runs the rest of the suite on that path.

mod common;
use common::on_threads;

use agon::tensor::gemm::{Activation, Gemm, Isa, MatMut, MatRef, PackedA};
use proptest::prelude::*;

/// Deterministic values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A matrix stored in a buffer with a leading-dimension gap, row-major or transposed.
struct Stored {
    data: Vec<f32>,
    rows: usize,
    cols: usize,
    transposed: bool,
    pad: usize,
}

impl Stored {
    fn new(rows: usize, cols: usize, transposed: bool, pad: usize, seed: u64) -> Stored {
        let (outer, inner) = if transposed {
            (cols, rows)
        } else {
            (rows, cols)
        };
        Stored {
            data: values(outer * (inner + pad) + 3, seed),
            rows,
            cols,
            transposed,
            pad,
        }
    }

    /// The logical `rows x cols` matrix, starting 3 elements in.
    fn view(&self) -> MatRef<'_> {
        let ld = if self.transposed {
            self.rows
        } else {
            self.cols
        } + self.pad;
        if self.transposed {
            MatRef::new(&self.data, 3, [self.rows, self.cols], [1, ld])
        } else {
            MatRef::new(&self.data, 3, [self.rows, self.cols], [ld, 1])
        }
    }

    fn get(&self, i: usize, j: usize) -> f64 {
        let ld = if self.transposed {
            self.rows
        } else {
            self.cols
        } + self.pad;
        let idx = if self.transposed {
            j * ld + i
        } else {
            i * ld + j
        };
        self.data[3 + idx] as f64
    }
}

/// `alpha * A @ B + beta * C0` in f64.
fn reference(alpha: f32, a: &Stored, b: &Stored, beta: f32, c0: &[f32], n: usize) -> Vec<f64> {
    let (m, k) = (a.rows, a.cols);
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let dot: f64 = (0..k).map(|p| a.get(i, p) * b.get(p, j)).sum();
            out[i * n + j] = alpha as f64 * dot + beta as f64 * c0[i * n + j] as f64;
        }
    }
    out
}

fn assert_near(got: &[f32], want: &[f64], k: usize, what: &str) {
    for (idx, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-5 * (k as f64 + 1.0) + 1e-5 * w.abs();
        assert!(
            (g as f64 - w).abs() <= tol,
            "{what}: element {idx}: {g} vs {w} (tol {tol})"
        );
    }
}

/// Extents that cross tile edges: 1, primes, MR/NR multiples and neighbours.
fn extent() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(1usize),
        prop::sample::select(vec![
            2usize, 5, 6, 7, 11, 12, 13, 16, 17, 31, 32, 33, 37, 48, 49
        ]),
        1usize..80,
    ]
}

/// Depths that include one past a K block (KC is 128..512 on every machine).
fn depth() -> impl Strategy<Value = usize> {
    prop_oneof![
        1usize..40,
        prop::sample::select(vec![127usize, 129, 193, 257, 513, 600])
    ]
}

#[allow(clippy::too_many_arguments)]
fn run_case(
    isa: Isa,
    parallel: bool,
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    pad: usize,
    ab: (f32, f32),
) {
    let (alpha, beta) = ab;
    let a = Stored::new(m, k, ta, pad, 1);
    let b = Stored::new(k, n, tb, pad, 2);
    let c0 = values(m * n, 3);
    let want = reference(alpha, &a, &b, beta, &c0, n);
    let mut c = c0.clone();
    Gemm::new().isa(isa).parallel(parallel).run(
        alpha,
        a.view(),
        b.view(),
        beta,
        MatMut::row_major(&mut c, m, n),
    );
    assert_near(
        &c,
        &want,
        k,
        &format!("{isa:?} par {parallel} {m}x{k}x{n} ta {ta} tb {tb}"),
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_path_matches_the_reference(
        m in extent(), k in depth(), n in extent(),
        ta in any::<bool>(), tb in any::<bool>(), pad in 0usize..3,
        ab in prop::sample::select(vec![(1.0f32, 0.0f32), (0.5, 1.0), (-2.0, 0.25)]),
    ) {
        for isa in Isa::supported() {
            run_case(isa, false, m, k, n, ta, tb, pad, ab);
        }
    }

    #[test]
    fn packed_a_and_epilogues_match_the_reference(
        m in extent(), k in depth(), n in extent(), ta in any::<bool>(), parallel in any::<bool>(),
    ) {
        let a = Stored::new(m, k, ta, 1, 4);
        let b = Stored::new(k, n, false, 0, 5);
        let (row_bias, col_bias) = (values(m, 6), values(n, 7));
        let plain = reference(1.0, &a, &b, 0.0, &vec![0.0; m * n], n);
        let want: Vec<f64> = plain
            .iter()
            .enumerate()
            .map(|(idx, &v)| {
                let x = v + row_bias[idx / n] as f64 + col_bias[idx % n] as f64;
                if x > 0.0 { x } else { 0.2 * x }
            })
            .collect();
        for isa in Isa::supported() {
            let packed = PackedA::new_on(isa, a.view());
            prop_assert_eq!(packed.isa(), isa);
            let mut c = vec![f32::NAN; m * n];
            Gemm::new()
                .parallel(parallel)
                .row_bias(&row_bias)
                .col_bias(&col_bias)
                .activation(Activation::LeakyRelu(0.2))
                .run_packed(1.0, &packed, b.view(), 0.0, MatMut::row_major(&mut c, m, n));
            assert_near(&c, &want, k, &format!("packed {isa:?} {m}x{k}x{n}"));
        }
    }
}

#[test]
fn strided_output_windows_are_written_in_place() {
    // C is a transposed window with a gap: the kernels' scalar store path.
    let (m, k, n) = (29, 70, 45);
    let a = Stored::new(m, k, false, 0, 8);
    let b = Stored::new(k, n, false, 0, 9);
    let want = reference(1.0, &a, &b, 0.0, &vec![0.0; m * n], n);
    for isa in Isa::supported() {
        for parallel in [false, true] {
            let mut buf = vec![7.0f32; n * (m + 2)];
            let c = MatMut::new(&mut buf, 0, [m, n], [1, m + 2]);
            Gemm::new()
                .isa(isa)
                .parallel(parallel)
                .run(1.0, a.view(), b.view(), 0.0, c);
            let got: Vec<f32> = (0..m * n)
                .map(|idx| buf[(idx % n) * (m + 2) + idx / n])
                .collect();
            assert_near(&got, &want, k, &format!("{isa:?} transposed C"));
            // The gap columns were left alone.
            assert!((0..n).all(|j| buf[j * (m + 2) + m] == 7.0 && buf[j * (m + 2) + m + 1] == 7.0));
        }
    }
}

/// Bits of a product large enough to split into many tasks (and several K and N blocks).
fn product_bits(isa: Isa, parallel: bool, m: usize, k: usize, n: usize) -> Vec<u32> {
    let a = values(m * k, 10);
    let b = values(k * n, 11);
    let mut c = vec![0.0f32; m * n];
    Gemm::new().isa(isa).parallel(parallel).run(
        1.0,
        MatRef::row_major(&a, m, k),
        MatRef::row_major(&b, k, n),
        0.0,
        MatMut::row_major(&mut c, m, n),
    );
    c.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn parallel_bits_equal_serial_bits_for_any_thread_count() {
    for isa in Isa::supported() {
        for (m, k, n) in [(300, 700, 260), (7, 1100, 3000), (1000, 33, 9)] {
            let serial = product_bits(isa, false, m, k, n);
            for threads in [1, 2, 3, 16] {
                let par = on_threads(threads, || product_bits(isa, true, m, k, n));
                assert!(
                    par == serial,
                    "{isa:?} {m}x{k}x{n}: {threads} threads differ from serial"
                );
            }
        }
    }
}

#[test]
fn the_active_path_is_reported() {
    let active = Isa::active();
    assert!(active.is_supported());
    eprintln!(
        "gemm paths here: {:?}; active {:?}",
        Isa::supported(),
        active
    );
}
