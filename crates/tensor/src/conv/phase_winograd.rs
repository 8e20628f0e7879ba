//! 5x5 stride-2 convolutions as Winograd F(4x4, 3x3) over the input's four stride phases,
//! with the batch in the vector lanes (the layout of [`image_lanes`]).
//!
//! Why: a 5x5 stride-2 layer (dcgan28's second discriminator layer, whose conv2d is also
//! its generator twin's input gradient) is a direct product at the FMA units' limit on
//! both sides of the benchmark; only fewer multiplies make it faster. Write each kernel
//! tap as `ky = 2a + py` (and `kx = 2b + px`): output `(oy, ox)` reads input `(2(oy + a) +
//! py - p, ...)`, so with the phase plane `P_(py,px)[i][j] = x[2i + py - p][2j + px - p]`
//! (zero outside the input) the layer is four stride-1 3x3 correlations summed,
//!
//! ```text
//! y[oy][ox] = sum_(py,px) sum_(a,b < 3) g_(py,px)[a][b] P_(py,px)[oy + a][ox + b],
//! g_(py,px)[a][b] = w[2a + py][2b + px]   (zero where 2a + py or 2b + px reaches 5),
//! ```
//!
//! and each of those is Winograd's F(4x4, 3x3): a 4x4 tile of outputs reads a 6x6 tile of
//! its plane, `Y = A^T [(G g G^T) ⊙ (B^T d B)] A`, 36 multiplies where direct summation
//! needs 144. Summed over the phases and input channels, point `ξ` of the 6x6 transform is
//! one product `M_ξ [Cout, tiles] = U_ξ [Cout, 4 Cin] @ V_ξ [4 Cin, tiles]`, so the layer
//! is 36 products of depth `4 Cin`. For D2 (64 -> 128 channels, 14x14 -> 7x7, batch 64)
//! those are 0.60 GFLOP against the direct product's 1.07 (its taps on the padding
//! skipped): 4x4 tiles cover 8x8 outputs for 7x7, and the zero taps of the 2-tap phases
//! are multiplied, but 36 against 144 per tile wins 1.78x.
//!
//! On the points `0, 1, -1, 2, -2, ∞` (Lavin & Gray, "Fast Algorithms for Convolutional
//! Neural Networks", 2016):
//!
//! ```text
//!       [4  0 -5  0  1  0]        [ 1/4     0     0 ]
//!       [0 -4 -4  1  1  0]        [-1/6  -1/6  -1/6 ]         [1  1  1  1  1  0]
//! B^T = [0  4 -4 -1  1  0]    G = [-1/6   1/6  -1/6 ]   A^T = [0  1 -1  2 -2  0]
//!       [0 -2 -1  2  1  0]        [1/24  1/12   1/6 ]         [0  1  1  4  4  0]
//!       [0  2 -1 -2  1  0]        [1/24 -1/12   1/6 ]         [0  1 -1  8 -8  1]
//!       [0  4  0 -5  0  1]        [  0     0     1  ]
//! ```
//!
//! The lanes make the transforms plain vector arithmetic: every tile, phase and channel is
//! a `[6][6]` grid of `NR`-image vectors, combined term by term by these matrices' rows,
//! with no shuffle. The weights are transformed with `MR` output channels in the lanes,
//! straight into the packed slivers of the 36 `U_ξ`. A task takes one tile position: it
//! transforms its input in every lane block (all phases and channels) into `V` in its
//! scratch, runs the 36 products against the packed `U` ([`runs_product`], one sliver of
//! depth `4 Cin` per lane block, so each `U_ξ` read serves the whole batch), and transforms
//! `M` back into the lanes' output, which [`image_lanes`] transposes out.
//!
//! Every transform evaluates each element by one fixed sequence of multiplies and adds
//! (no fused multiply-add, nothing reassociated), and each product element is one chain
//! of FMAs over K in order, so the bits depend neither on the thread count nor on the
//! instruction set. F(4x4, 3x3) multiplies by 4, 5 and 8 and by sixths and
//! twenty-fourths, so it rounds more than direct summation: its stated tolerance, tested
//! below on every path and in `tests/conv.rs`, is `1e-5 * (sum |w x| + 1)` per output, as
//! for F(2x2, 5x5) ([`super::winograd`]); measured up to 1.2e-6 times that scale.
//!
//! # Not dispatched
//!
//! conv2d does not take this route yet. Alone it wins: D2's forward (two Zen 4 threads,
//! AVX-512, alternated in one process, 27 rounds of 5 calls, best to median) 3.85-3.92 ms
//! against the lanes' direct product's 5.00-5.03, and 0.86 (0.84-0.95) against PyTorch in a
//! three-round sitting (2026-12-07 23:55, commit a3269a3, BENCHMARKS.md). But it moves about
//! three times the memory of the direct product (the 36 transformed weights are 4.7 MB
//! against 0.8, each task's `V` and `M` 3.5 MB), and inside a model that costs more than
//! the multiplies save: dcgan28's critic input gradient with `create_graph` (the gradient
//! penalty's first half, `benches/autodiff.rs`) took 18.9-20.6 ms with it against
//! 14.4-15.6 without, alternated three times; the plain input gradient and the penalty
//! step moved within noise, and so did dcgan28's training step. Part of that is glibc's
//! allocator in the bench process (no `mallopt`, unlike the `agon` binary): with the route,
//! that run took 360,000-810,000 page faults against 130,000-215,000 without, first
//! touches of fresh output buffers; with `MALLOC_MMAP_THRESHOLD_` and
//! `MALLOC_TRIM_THRESHOLD_` raised, 30,000 against 25,000, and the route still lost
//! (16.2 and 17.6 ms against 14.4 and 14.1). In this VM's slow minutes,
//! when memory-bound work slows and the FMA loop does not, D2's forward alone took 6.3-6.8
//! ms against the direct 5.9-6.0. Next: tiles chunked so that `V` and `M` stay in L2 (a
//! transform row of points at a time), and the weight transform (0.46 ms on one thread for
//! about 50 us of arithmetic: 36 stores of 48 B per channel to points 128 KiB apart); then
//! measure it inside the critic and the training step before dispatching it.

// The route is complete and tested but not dispatched (see "Not dispatched" above), so
// outside the tests nothing calls it.
#![cfg_attr(not(test), allow(dead_code))]

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::im2col::{with_scratch, Geometry, SCRATCH_KEEP};
use super::image_lanes::{self, from_lanes, pixel_stride, to_lanes};
use super::written_in_full;
use crate::gemm::{packed_len, runs_product, Isa, KRun, PackedView, SliverRuns};

/// Outputs per tile side.
const TILE: usize = 4;
/// Points per transform side (`TILE + 3 - 1`).
const POINTS: usize = 6;
/// Points of the two-dimensional transform: one product each.
const XI: usize = POINTS * POINTS;
/// Stride phases (2 x 2).
const PHASES: usize = 4;

/// Fewest input and output channels: the products' depth is `4 Cin`, and the transforms'
/// cost per output does not shrink with the channels.
const MIN_CHANNELS: usize = 64;

/// Whether conv2d of `n` images on `g` with `cout` outputs takes this route: a 5x5 kernel
/// at stride 2 without dilation, padding below 5, at least [`MIN_CHANNELS`] on both sides,
/// and a batch that the lanes take ([`image_lanes::applies`]).
pub(super) fn applies(isa: Isa, n: usize, g: &Geometry, cout: usize) -> bool {
    g.kernel == [5, 5]
        && g.stride == [2, 2]
        && g.dilation == [1, 1]
        && g.padding.iter().all(|&p| p < 5)
        && g.channels >= MIN_CHANNELS
        && cout >= MIN_CHANNELS
        && image_lanes::applies(isa, n, g.channels, cout)
}

/// `t = B^T d` on lanes, `B^T` of F(4, 3) on the points `0, 1, -1, 2, -2, ∞` (the module
/// docs): each `t[u]` sums `B^T[u][r] d[r]` over the non-zero coefficients, left to right.
#[inline(always)]
fn bt_lanes<const NR: usize>(d: [&[f32; NR]; POINTS], t: &mut [[f32; NR]; POINTS]) {
    for l in 0..NR {
        let [d0, d1, d2, d3, d4, d5] = [d[0][l], d[1][l], d[2][l], d[3][l], d[4][l], d[5][l]];
        t[0][l] = 4.0 * d0 + -5.0 * d2 + d4;
        t[1][l] = -4.0 * d1 + -4.0 * d2 + d3 + d4;
        t[2][l] = 4.0 * d1 + -4.0 * d2 + -d3 + d4;
        t[3][l] = -2.0 * d1 + -d2 + 2.0 * d3 + d4;
        t[4][l] = 2.0 * d1 + -d2 + -2.0 * d3 + d4;
        t[5][l] = 4.0 * d1 + -5.0 * d3 + d5;
    }
}

/// `y = A^T m` on lanes, `A^T` of F(4, 3), as [`bt_lanes`].
#[inline(always)]
fn at_lanes<const NR: usize>(m: [&[f32; NR]; POINTS], y: &mut [[f32; NR]; TILE]) {
    for l in 0..NR {
        let [m0, m1, m2, m3, m4, m5] = [m[0][l], m[1][l], m[2][l], m[3][l], m[4][l], m[5][l]];
        y[0][l] = m0 + m1 + m2 + m3 + m4;
        y[1][l] = m1 + -m2 + 2.0 * m3 + -2.0 * m4;
        y[2][l] = m1 + m2 + 4.0 * m3 + 4.0 * m4;
        y[3][l] = m1 + -m2 + 8.0 * m3 + -8.0 * m4 + m5;
    }
}

/// `NR` floats of `s` from `at` on, as an array.
#[inline(always)]
fn lanes_at<const NR: usize>(s: &[f32], at: usize) -> &[f32; NR] {
    s[at..at + NR].try_into().expect("NR floats")
}

/// See [`lanes_at`].
#[inline(always)]
fn lanes_at_mut<const NR: usize>(s: &mut [f32], at: usize) -> &mut [f32; NR] {
    (&mut s[at..at + NR]).try_into().expect("NR floats")
}

/// `U_ξ [Cout, 4 Cin]` for every point, packed for `isa`'s kernel, `a_len` floats per
/// point: `U_ξ[o][phase * Cin + ci] = (G g G^T)[ξ]` of output `o`'s 3x3 phase kernel `g`
/// of input channel `ci`. One task per sliver of `MR <= 16` outputs, computed with those
/// outputs in the lanes, every point's values written straight into its sliver.
fn packed_weights(isa: Isa, w: &[f32], shape: [usize; 2], a_len: usize, a: &mut [f32]) {
    match isa.micro_rows() {
        Some(12) => packed_weights_mr::<12>(w, shape, a_len, a),
        Some(6) => packed_weights_mr::<6>(w, shape, a_len, a),
        mr => unreachable!("no kernel of {mr:?} rows"),
    }
}

/// [`packed_weights`] for a kernel of `MR <= 16` rows (a compile-time copy per row).
fn packed_weights_mr<const MR: usize>(
    w: &[f32],
    [cout, cin]: [usize; 2],
    a_len: usize,
    a: &mut [f32],
) {
    let a_ptr = SharedOut(a.as_mut_ptr());
    (0..cout.div_ceil(MR)).into_par_iter().for_each(|s| {
        let a = a_ptr.get();
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is present (detected); as for `sliver_weights`.
            return unsafe { sliver_weights_avx512::<MR>(w, [cout, cin], s, a_len, a) };
        }
        // SAFETY: task s writes only sliver s of each point's packed U, inside `a`'s XI *
        // a_len floats, and `a` outlives the loop.
        unsafe { sliver_weights::<MR>(w, [cout, cin], s, a_len, a) };
    });
}

/// [`sliver_weights`] compiled for AVX-512 (the same operations, so the same bits).
///
/// # Safety
/// AVX-512F is present, and as for [`sliver_weights`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sliver_weights_avx512<const MR: usize>(
    w: &[f32],
    shape: [usize; 2],
    s: usize,
    a_len: usize,
    a: *mut f32,
) {
    // SAFETY: forwarded.
    unsafe { sliver_weights::<MR>(w, shape, s, a_len, a) };
}

/// Sliver `s` (outputs `s MR ..`) of every point's packed `U`, at `a + ξ a_len`.
///
/// # Safety
/// `a` has `XI * a_len` writable floats, whose sliver `s` of each point no other thread
/// touches during the call.
#[inline(always)]
unsafe fn sliver_weights<const MR: usize>(
    w: &[f32],
    [cout, cin]: [usize; 2],
    s: usize,
    a_len: usize,
    a: *mut f32,
) {
    let k = PHASES * cin;
    let live = MR.min(cout - s * MR);
    for ci in 0..cin {
        // taps[t][i] = w[s MR + i][ci][t], zero past the sliver's outputs.
        let mut taps = [[0.0f32; 16]; 25];
        for i in 0..live {
            let row = &w[((s * MR + i) * cin + ci) * 25..][..25];
            for (t, &v) in row.iter().enumerate() {
                taps[t][i] = v;
            }
        }
        for phase in 0..PHASES {
            let (py, px) = (phase / 2, phase % 2);
            let g = |a: usize, b: usize| -> [f32; 16] {
                let (ky, kx) = (2 * a + py, 2 * b + px);
                if ky < 5 && kx < 5 {
                    taps[ky * 5 + kx]
                } else {
                    [0.0; 16]
                }
            };
            // gb[b][u] = sum_a G[u][a] g[a][b], then U[u][v] = sum_b gb[b][u] G[v][b].
            let gb = [
                g_lanes([g(0, 0), g(1, 0), g(2, 0)]),
                g_lanes([g(0, 1), g(1, 1), g(2, 1)]),
                g_lanes([g(0, 2), g(1, 2), g(2, 2)]),
            ];
            let row = s * k + phase * cin + ci;
            // `uu` picks a row across the three columns of `gb`.
            #[allow(clippy::needless_range_loop)]
            for uu in 0..POINTS {
                let uv = g_lanes([gb[0][uu], gb[1][uu], gb[2][uu]]);
                for (vv, lanes) in uv.iter().enumerate() {
                    let mut out = [0.0f32; MR];
                    out.copy_from_slice(&lanes[..MR]);
                    let at = (uu * POINTS + vv) * a_len + row * MR;
                    // SAFETY: row `phase * cin + ci` of sliver s of point ξ: MR floats
                    // inside `a` (the caller's contract).
                    unsafe { a.add(at).cast::<[f32; MR]>().write_unaligned(out) };
                }
            }
        }
    }
}

/// `G g` for one column of three taps, each lane alone (coefficients left to right).
#[inline(always)]
fn g_lanes<const L: usize>(g: [[f32; L]; 3]) -> [[f32; L]; POINTS] {
    let mut out = [[0.0f32; L]; POINTS];
    for l in 0..L {
        let [g0, g1, g2] = [g[0][l], g[1][l], g[2][l]];
        out[0][l] = 0.25 * g0;
        out[1][l] = -(1.0 / 6.0) * g0 + -(1.0 / 6.0) * g1 + -(1.0 / 6.0) * g2;
        out[2][l] = -(1.0 / 6.0) * g0 + (1.0 / 6.0) * g1 + -(1.0 / 6.0) * g2;
        out[3][l] = (1.0 / 24.0) * g0 + (1.0 / 12.0) * g1 + (1.0 / 6.0) * g2;
        out[4][l] = (1.0 / 24.0) * g0 + -(1.0 / 12.0) * g1 + (1.0 / 6.0) * g2;
        out[5][l] = g2;
    }
    out
}

/// A task's `V_ξ`: one sliver per lane block, each `depth` rows of `nr` floats, `stride`
/// floats apart, the slivers `depth * stride` floats apart (a point's rows interleave with
/// the other points of its transform row, see [`input_tile`]).
struct BlockSlivers<'a> {
    data: &'a [f32],
    depth: usize,
    nr: usize,
    stride: usize,
    slivers: usize,
}

impl SliverRuns for BlockSlivers<'_> {
    fn depth(&self) -> usize {
        self.depth
    }

    fn slivers(&self) -> usize {
        self.slivers
    }

    fn lanes(&self) -> usize {
        self.nr
    }

    fn runs<'s>(&'s self, s: usize, k0: usize, k1: usize, runs: &mut Vec<KRun<'s>>) {
        let k1 = k1.min(self.depth);
        if k0 < k1 {
            let data = &self.data[(s * self.depth + k0) * self.stride..];
            runs.push(KRun::new(k0, k1 - k0, self.stride, self.nr, data));
        }
    }
}

/// conv2d through the phases' Winograd into a new `len`-float output (every element
/// written), for a layer where [`applies`] holds: `x [n, Cin, H, W]`, `w [Cout, Cin, 5, 5]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn output(
    isa: Isa,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    [n, cout]: [usize; 2],
    len: usize,
) -> Vec<f32> {
    // SAFETY: `run` writes every element: `from_lanes` transposes each block's images over
    // the whole of its chunk.
    unsafe { written_in_full(len, |out| run(isa, x, w, bias, g, [n, cout], out)) }
}

/// See [`output`].
fn run(
    isa: Isa,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    [n, cout]: [usize; 2],
    out: &mut [MaybeUninit<f32>],
) {
    let nr = isa.micro_cols().expect("the lanes need an in-house kernel");
    let cin = g.channels;
    let k = PHASES * cin;
    let ([h, wd], [ho, wo]) = (g.in_hw, g.out_hw);
    let (in_pixels, out_pixels) = (h * wd, ho * wo);
    let [tiles_y, tiles_x] = [ho.div_ceil(TILE), wo.div_ceil(TILE)];
    let blocks = n.div_ceil(nr);
    let ps = pixel_stride(cin, nr);

    let a_len = packed_len(isa, cout, k).expect("the lanes need an in-house kernel");
    let (lanes_len, c_len) = (blocks * in_pixels * ps, blocks * cout * out_pixels * nr);
    with_outer_scratch(XI * a_len + lanes_len + c_len + 16, |buf| {
        // The lanes aligned to a cache line, as in `image_lanes`.
        let skip = buf[XI * a_len..].as_ptr().align_offset(64).min(16);
        let (a, rest) = buf[skip..skip + XI * a_len + lanes_len + c_len].split_at_mut(XI * a_len);
        let (lanes, c) = rest.split_at_mut(lanes_len);
        packed_weights(isa, w, [cout, cin], a_len, a);
        let a = &*a;
        let packed: Vec<_> = a
            .chunks_exact(a_len)
            .map(|a_xi| PackedView::from_slivers(isa, [cout, k], a_xi))
            .collect();
        to_lanes(isa, x, [n, cin, in_pixels], nr, lanes);
        let lanes = &*lanes;
        let c_ptr = SharedOut(c.as_mut_ptr());
        let pad = g.padding;
        (0..tiles_y * tiles_x).into_par_iter().for_each(|tile| {
            let (ty, tx) = (tile / tiles_x, tile % tiles_x);
            with_scratch(XI * blocks * (k + cout) * nr, |buf| {
                let (v, m) = buf.split_at_mut(XI * blocks * k * nr);
                for block in 0..blocks {
                    let lanes_b = &lanes[block * in_pixels * ps..][..in_pixels * ps];
                    let bb = [block, blocks];
                    Transforms::input(isa, lanes_b, [h, wd], pad, [ty, tx], [cin, ps], bb, v);
                }
                let slab = blocks * k * POINTS * nr;
                for (xi, m_xi) in m.chunks_exact_mut(blocks * cout * nr).enumerate() {
                    let (uu, vv) = (xi / POINTS, xi % POINTS);
                    let b = BlockSlivers {
                        data: &v[uu * slab + vv * nr..(uu + 1) * slab],
                        depth: k,
                        nr,
                        stride: POINTS * nr,
                        slivers: blocks,
                    };
                    runs_product(&packed[xi], &b, 1, m_xi);
                }
                for block in 0..blocks {
                    // SAFETY: block `block` of `c` holds `cout * out_pixels * nr` floats from
                    // there (c's length is `blocks` of them), the task of tile (ty, tx) writes
                    // only that tile's pixels of it, and `c` outlives the parallel loop.
                    unsafe {
                        let c_b = c_ptr.get().add(block * cout * out_pixels * nr);
                        Transforms::output(isa, m, [ho, wo], [ty, tx], [cout, block, blocks], c_b);
                    }
                }
            });
        });
        from_lanes(isa, c, [n, cout, out_pixels], nr, bias, out);
    });
}

thread_local! {
    /// The calling thread's buffers for the weights, the lanes and the output lanes (the
    /// tasks take theirs from [`with_scratch`], which a nested call would not reuse).
    static OUTER: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` floats of this thread's [`OUTER`] buffer (contents unspecified),
/// kept for the next call up to the size [`with_scratch`] keeps.
fn with_outer_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    OUTER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            let out = f(&mut buf[..len]);
            if buf.len() > SCRATCH_KEEP {
                *buf = Vec::new();
            }
            out
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// The lanes' output shared by the tasks, each writing its own tiles.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);

// SAFETY: tasks write disjoint pixels of it (see `run`), which holds it until they finish.
unsafe impl Send for SharedOut {}
// SAFETY: as for Send.
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// The pointer: a method, so that closures capture the `Send` wrapper.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// `V [u][block][phase][Cin][v][NR]` (point `ξ = (u, v)`; its `block` of `blocks`: the six
/// points of a transform row side by side, so that each channel's 36 results go to six
/// runs of six, not to 36 places pages apart) of tile `(ty, tx)` from one lane block `[pixel][Cin][NR]`
/// (pixels `ps` floats apart): per phase and channel, `V = B^T d B` with `d[r][c]` the lanes
/// of input pixel `(8 ty + 2r + py - p, 8 tx + 2c + px - p)`, zero outside the input.
#[inline(always)]
fn input_tile<const NR: usize>(
    lanes: &[f32],
    [h, w]: [usize; 2],
    [pad_y, pad_x]: [usize; 2],
    [ty, tx]: [usize; 2],
    [cin, ps]: [usize; 2],
    [block, blocks]: [usize; 2],
    v: &mut [f32],
) {
    let zero = [0.0f32; NR];
    let k = PHASES * cin;
    for phase in 0..PHASES {
        let (py, px) = (phase / 2, phase % 2);
        // Input pixel of each point, or None on the padding.
        let at = |r: usize, c: usize| -> Option<usize> {
            let y = (8 * ty + 2 * r + py) as isize - pad_y as isize;
            let x = (8 * tx + 2 * c + px) as isize - pad_x as isize;
            (y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w)
                .then(|| y as usize * w + x as usize)
        };
        let pixels: [[Option<usize>; POINTS]; POINTS] =
            std::array::from_fn(|r| std::array::from_fn(|c| at(r, c)));
        for ci in 0..cin {
            let d: [[&[f32; NR]; POINTS]; POINTS] = std::array::from_fn(|r| {
                std::array::from_fn(|c| match pixels[r][c] {
                    Some(p) => lanes_at::<NR>(lanes, p * ps + ci * NR),
                    None => &zero,
                })
            });
            // tc[c][u] = sum_r BT[u][r] d[r][c], then V[u][v] = sum_c tc[c][u] BT[v][c].
            let mut tc = [[[0.0f32; NR]; POINTS]; POINTS];
            for (cc, t_c) in tc.iter_mut().enumerate() {
                bt_lanes(std::array::from_fn(|r| d[r][cc]), t_c);
            }
            let row = phase * cin + ci;
            let mut vu = [[0.0f32; NR]; POINTS];
            // `uu` picks a row across the six columns of `tc`.
            #[allow(clippy::needless_range_loop)]
            for uu in 0..POINTS {
                bt_lanes(std::array::from_fn(|cc| &tc[cc][uu]), &mut vu);
                for (vv, lanes_v) in vu.iter().enumerate() {
                    let at = (((uu * blocks + block) * k + row) * POINTS + vv) * NR;
                    *lanes_at_mut::<NR>(v, at) = *lanes_v;
                }
            }
        }
    }
}

/// The lanes of tile `(ty, tx)`'s outputs in lane block `block` (of `blocks`), `Y = A^T M
/// A` per output channel, into the block's `c [Cout][pixel][NR]`; outputs past the map's
/// edge are dropped.
///
/// # Safety
/// `c` has `Cout * ho * wo * NR` writable floats, of which no other thread touches this
/// tile's pixels during the call.
#[inline(always)]
unsafe fn output_tile<const NR: usize>(
    m: &[f32],
    [ho, wo]: [usize; 2],
    [ty, tx]: [usize; 2],
    [cout, block, blocks]: [usize; 3],
    c: *mut f32,
) {
    let pixels = ho * wo;
    for o in 0..cout {
        let point = |xi: usize| lanes_at::<NR>(m, ((xi * blocks + block) * cout + o) * NR);
        // tv[v][i] = sum_u AT[i][u] M[u][v], then Y[i][j] = sum_v tv[v][i] AT[j][v].
        let mut tv = [[[0.0f32; NR]; TILE]; POINTS];
        for (vv, t_v) in tv.iter_mut().enumerate() {
            at_lanes(std::array::from_fn(|uu| point(uu * POINTS + vv)), t_v);
        }
        let mut yi = [[0.0f32; NR]; TILE];
        // `i` picks an output row across the six columns of `tv`.
        #[allow(clippy::needless_range_loop)]
        for i in 0..TILE.min(ho - TILE * ty) {
            at_lanes(std::array::from_fn(|vv| &tv[vv][i]), &mut yi);
            let y = TILE * ty + i;
            for (j, lanes_y) in yi.iter().enumerate().take(wo - TILE * tx) {
                let at = (o * pixels + y * wo + TILE * tx + j) * NR;
                // SAFETY: pixel (y, TILE tx + j) of channel o lies in the map (y < ho and
                // the column < wo), so its NR floats are inside `c` (the caller's contract).
                unsafe { c.add(at).cast::<[f32; NR]>().write_unaligned(*lanes_y) };
            }
        }
    }
}

/// [`input_tile`] and [`output_tile`] for the lanes of `isa`'s kernel, compiled for its
/// instruction set (the same operations in the same order, so the same bits).
struct Transforms;

impl Transforms {
    #[allow(clippy::too_many_arguments)]
    fn input(
        isa: Isa,
        lanes: &[f32],
        hw: [usize; 2],
        pad: [usize; 2],
        tile: [usize; 2],
        [cin, ps]: [usize; 2],
        bb: [usize; 2],
        v: &mut [f32],
    ) {
        match isa.micro_cols() {
            #[cfg(target_arch = "x86_64")]
            Some(32) if isa == Isa::Avx512 => {
                // SAFETY: the AVX-512 path runs only where the CPU supports it.
                unsafe { input_avx512(lanes, hw, pad, tile, [cin, ps], bb, v) }
            }
            #[cfg(target_arch = "x86_64")]
            Some(16) => {
                // SAFETY: the AVX2 path runs only where the CPU supports it.
                unsafe { input_avx2(lanes, hw, pad, tile, [cin, ps], bb, v) }
            }
            nr => unreachable!("no lanes of {nr:?}"),
        }
    }

    /// # Safety
    /// As [`output_tile`].
    unsafe fn output(
        isa: Isa,
        m: &[f32],
        out_hw: [usize; 2],
        tile: [usize; 2],
        blocks: [usize; 3],
        c: *mut f32,
    ) {
        match isa.micro_cols() {
            #[cfg(target_arch = "x86_64")]
            Some(32) if isa == Isa::Avx512 => {
                // SAFETY: as above, and the caller's contract.
                unsafe { output_avx512(m, out_hw, tile, blocks, c) }
            }
            #[cfg(target_arch = "x86_64")]
            Some(16) => {
                // SAFETY: as above, and the caller's contract.
                unsafe { output_avx2(m, out_hw, tile, blocks, c) }
            }
            nr => unreachable!("no lanes of {nr:?}"),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn input_avx512(
    lanes: &[f32],
    hw: [usize; 2],
    pad: [usize; 2],
    tile: [usize; 2],
    cp: [usize; 2],
    bb: [usize; 2],
    v: &mut [f32],
) {
    input_tile::<32>(lanes, hw, pad, tile, cp, bb, v);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn input_avx2(
    lanes: &[f32],
    hw: [usize; 2],
    pad: [usize; 2],
    tile: [usize; 2],
    cp: [usize; 2],
    bb: [usize; 2],
    v: &mut [f32],
) {
    input_tile::<16>(lanes, hw, pad, tile, cp, bb, v);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn output_avx512(
    m: &[f32],
    out_hw: [usize; 2],
    tile: [usize; 2],
    blocks: [usize; 3],
    c: *mut f32,
) {
    // SAFETY: forwarded from the caller.
    unsafe { output_tile::<32>(m, out_hw, tile, blocks, c) };
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn output_avx2(
    m: &[f32],
    out_hw: [usize; 2],
    tile: [usize; 2],
    blocks: [usize; 3],
    c: *mut f32,
) {
    // SAFETY: forwarded from the caller.
    unsafe { output_tile::<16>(m, out_hw, tile, blocks, c) };
}

#[cfg(test)]
mod tests {
    use super::super::{assert_within, for_each_tap, same_bits_on_every_path, test_values};
    use super::*;
    use crate::Conv2dParams;

    /// F(4, 3)'s matrices (Lavin & Gray), which the transforms spell out term by term.
    /// `B^T` of F(4, 3) on the points `0, 1, -1, 2, -2, ∞`: the input transform.
    const BT: [[f32; POINTS]; POINTS] = [
        [4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
        [0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
        [0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
        [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
        [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
        [0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
    ];

    /// `G` of F(4, 3): the weight transform.
    const G: [[f32; 3]; POINTS] = [
        [1.0 / 4.0, 0.0, 0.0],
        [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
        [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
        [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
        [0.0, 0.0, 1.0],
    ];

    /// `A^T` of F(4, 3): the output transform.
    const AT: [[f32; POINTS]; TILE] = [
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
        [0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
        [0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
        [0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
    ];

    /// The transforms' formulas are the matrices: each output lane against the matrix row
    /// applied in f64 to distinct inputs (powers of 3, so that a wrong or missing term
    /// shows).
    #[test]
    fn transforms_are_the_matrices() {
        let d: [[f32; 16]; POINTS] =
            std::array::from_fn(|r| std::array::from_fn(|l| 3f32.powi(r as i32) + l as f32));
        let rows = |m: &[[f32; POINTS]], got: &[[f32; 16]]| {
            for (u, row) in m.iter().enumerate() {
                for l in 0..16 {
                    let want: f64 = row
                        .iter()
                        .zip(&d)
                        .map(|(&c, d)| f64::from(c) * f64::from(d[l]))
                        .sum();
                    assert!(
                        (f64::from(got[u][l]) - want).abs() <= 1e-4 * want.abs().max(1.0),
                        "row {u} lane {l}"
                    );
                }
            }
        };
        let mut t = [[0.0f32; 16]; POINTS];
        bt_lanes(std::array::from_fn(|r| &d[r]), &mut t);
        rows(&BT, &t);
        let mut y = [[0.0f32; 16]; TILE];
        at_lanes(std::array::from_fn(|r| &d[r]), &mut y);
        rows(&AT, &y);
        let g = g_lanes([d[0], d[1], d[2]]);
        for (u, row) in G.iter().enumerate() {
            for l in 0..16 {
                let want: f64 = row
                    .iter()
                    .zip(&d)
                    .map(|(&c, d)| f64::from(c) * f64::from(d[l]))
                    .sum();
                assert!(
                    (f64::from(g[u][l]) - want).abs() <= 1e-5 * want.abs().max(1.0),
                    "G row {u}"
                );
            }
        }
    }

    /// conv2d by its definition in f64, and the same sum over magnitudes.
    fn naive(
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        g: &Geometry,
        n: usize,
        o: usize,
    ) -> [Vec<f64>; 2] {
        let pixels = g.positions();
        let init = |abs: bool| -> Vec<f64> {
            (0..n * o * pixels)
                .map(|i| {
                    let b = f64::from(bias[i / pixels % o]);
                    if abs {
                        b.abs()
                    } else {
                        b
                    }
                })
                .collect()
        };
        let (mut y, mut s) = (init(false), init(true));
        for_each_tap(g, n, o, |[xi, wi, yi]| {
            let p = f64::from(x[xi]) * f64::from(w[wi]);
            y[yi] += p;
            s[yi] += p.abs();
        });
        [y, s]
    }

    /// Against the definition on every path, with the last lane block part-filled, odd and
    /// even maps (tiles past the edge), and paddings 2 (D2) and 1.
    #[test]
    fn matches_the_definition_within_its_tolerance() {
        let n = 53;
        for (c, o, hw, p) in [
            (64, 64, [14, 14], 2),
            (64, 72, [11, 9], 1),
            (64, 64, [16, 13], 2),
        ] {
            let g = Geometry::conv2d(c, hw, [5, 5], &Conv2dParams::new().stride(2).padding(p));
            let x = test_values(n * c * hw[0] * hw[1], 1);
            let w = test_values(o * c * 25, 2);
            let bias = test_values(o, 3);
            let [want, scale] = naive(&x, &w, &bias, &g, n, o);
            for isa in Isa::supported()
                .into_iter()
                .filter(|i| i.micro_cols().is_some())
            {
                assert!(applies(isa, n, &g, o));
                let len = n * o * g.positions();
                let y = output(isa, &x, &w, Some(&bias), &g, [n, o], len);
                assert_within(&y, &want, &scale, 1e-5, &format!("{isa:?} {g:?}"));
            }
        }
    }

    /// The same bits on 1 and 3 threads and on the two in-house paths.
    #[test]
    fn bits_depend_neither_on_threads_nor_on_the_path() {
        let (n, c, o) = (40, 64, 64);
        let g = Geometry::conv2d(
            c,
            [14, 14],
            [5, 5],
            &Conv2dParams::new().stride(2).padding(2),
        );
        let x = test_values(n * c * 196, 4);
        let w = test_values(o * c * 25, 5);
        same_bits_on_every_path("the phases' Winograd", |isa| {
            output(isa, &x, &w, None, &g, [n, o], n * o * 49)
        });
    }
}
