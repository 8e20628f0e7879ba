//! conv2d's weight gradient for layers with few input channels (a discriminator's first
//! layer on grey or RGB images, a generator's last layer), as dot products of runs that lie
//! contiguous in memory:
//!
//! ```text
//! dW[o][c, ky, kx] = sum_image sum_(oy, ox) dY[image][o][oy, ox] * x_pad[image][c][oy*sh + ky*dh, ox*sw + kx*dw]
//! ```
//!
//! Write a tap row's offset as `ky*dh = q*sh + r` with `r < sh`. The padded rows a tap
//! reads are then `(oy + q)*sh + r`: for a fixed row phase `r` and tap column `kx`, the
//! values `x_pad[yy*sh + r][ox*sw + kx*dw]` over `yy < Ho + q_max`, `ox < Wo` form one
//! `[Ho + q_max][Wo]` array (a *tap plane*), and tap `(ky, kx)` reads its `Ho*Wo`
//! consecutive floats from row `q` on. `dY[image][o]` is `Ho*Wo` consecutive floats too.
//! So every element of `dW` is a sum over images of one dot product of two contiguous runs,
//! with no packing: the GEMM route of `conv2d_weight.rs` has only 16-25 columns here (the
//! taps of one channel), and packing both operands was most of its time.
//!
//! A tile of [`ROWS`] output channels by up to [`MAX_TAPS`] taps keeps `ROWS * taps`
//! accumulators of [`LANES`] lanes in registers over the runs of a leaf of
//! [`LEAF_IMAGES`] images. Each leaf's lanes are added in a fixed tree, and the leaves'
//! sums along a fixed binary tree over the batch. Every lane's chain of FMAs, over the
//! leaf's images in order and the runs' 16-float blocks in order, is the same on AVX-512
//! (one zmm) and AVX2 (two ymm halves), and the trees depend on the shapes only, so the
//! bits are the same on both paths and any thread count.

use rayon::prelude::*;

use super::im2col::{with_scratch, Geometry};
use crate::gemm::Isa;

/// Partial sums per accumulator: one AVX-512 register, two AVX2 ones.
const LANES: usize = 16;

/// Output channels per tile.
const ROWS: usize = 4;

/// Most taps per tile: `ROWS * MAX_TAPS = 24` accumulators, plus the `ROWS` output-gradient
/// vectors and one tap vector, fit AVX-512's 32 registers.
const MAX_TAPS: usize = 6;

/// Input channels below this take the dot products; from it on, `weight_runs` and the
/// other routes (the product then has enough columns to pay for its packing).
const MAX_CHANNELS: usize = 15;

/// Largest output map. A bound, not a measured crossover: measured faster on 14x14 to
/// 32x32 outputs (dcgan28's and the default model's one-channel layers; RGB 4x4 stride-2
/// and 3x3 stride-1 layers on 32x32 and 64x64 images at batch 8-16). Larger maps keep the
/// GEMM route until someone measures them: their tap planes (several times the input)
/// leave the caches.
const MAX_PIXELS: usize = 1024;

/// Whether the weight gradient of a layer with `cout` output channels on this geometry takes
/// the dot products: an in-house kernel, few input channels, at least a tile of output
/// channels, and runs of at least one block of lanes.
pub(super) fn applies(isa: Isa, g: &Geometry, cout: usize) -> bool {
    isa.micro_cols().is_some()
        && g.channels <= MAX_CHANNELS
        && cout >= ROWS
        && (LANES..=MAX_PIXELS).contains(&g.positions())
}

/// Where the taps' runs lie in one image's tap planes.
struct TapPlanes {
    /// The row phases `r` that some tap row has, in increasing order.
    phases: Vec<usize>,
    /// Rows of every plane: `Ho + q_max`.
    plane_rows: usize,
    /// Floats of one image's planes: `channels * phases * kw * plane_rows * Wo`.
    per_image: usize,
    /// For each tap `(c, ky, kx)` in `dW`'s order, where its run starts in an image's planes.
    starts: Vec<usize>,
}

impl TapPlanes {
    fn new(g: &Geometry) -> TapPlanes {
        let ([kh, kw], [ho, wo], sh, dh) = (g.kernel, g.out_hw, g.stride[0], g.dilation[0]);
        let mut phases: Vec<usize> = (0..kh).map(|ky| ky * dh % sh).collect();
        phases.sort_unstable();
        phases.dedup();
        let plane_rows = ho + (kh - 1) * dh / sh;
        let plane = plane_rows * wo;
        let mut starts = Vec::with_capacity(g.rows());
        for c in 0..g.channels {
            for ky in 0..kh {
                let (q, r) = (ky * dh / sh, ky * dh % sh);
                let phase = phases
                    .binary_search(&r)
                    .expect("every tap row's phase is listed");
                for kx in 0..kw {
                    starts.push(((c * phases.len() + phase) * kw + kx) * plane + q * wo);
                }
            }
        }
        TapPlanes {
            per_image: g.channels * phases.len() * kw * plane,
            phases,
            plane_rows,
            starts,
        }
    }

    /// Floats of the padded input row that [`TapPlanes::fill`] gathers from: `Wo` strides
    /// from the last tap column, `Wo*sw + (kw - 1)*dw` (the last `sw - 1` are never read).
    fn padded_row(g: &Geometry) -> usize {
        g.out_hw[1] * g.stride[1] + (g.kernel[1] - 1) * g.dilation[1]
    }

    /// Writes one image's planes: plane `(c, phase r, kx)` row `yy`, column `ox` is
    /// `x_pad[c][yy*sh + r][ox*sw + kx*dw]` (zero on the padding). `row` holds
    /// [`TapPlanes::padded_row`] floats: each input row is padded into it once, and every
    /// tap column's plane row is gathered from it without bounds tests per tap.
    fn fill(&self, g: &Geometry, x: &[f32], planes: &mut [f32], row: &mut [f32]) {
        let ([h, w], [_, kw], [_, wo]) = (g.in_hw, g.kernel, g.out_hw);
        let (sw, dw, pw) = (g.stride[1], g.dilation[1], g.padding[1]);
        let plane = self.plane_rows * wo;
        // Input columns 0..count land in the padded row, from column `into` on.
        let into = pw.min(row.len());
        let count = w.min(row.len() - into);
        // The padding columns stay zero; each input row overwrites the rest.
        row.fill(0.0);
        for c in 0..g.channels {
            let image = &x[c * h * w..(c + 1) * h * w];
            for (p, &r) in self.phases.iter().enumerate() {
                let planes = &mut planes[(c * self.phases.len() + p) * kw * plane..][..kw * plane];
                for yy in 0..self.plane_rows {
                    let iy = (yy * g.stride[0] + r).checked_sub(g.padding[0]);
                    let Some(iy) = iy.filter(|&iy| iy < h) else {
                        for kx in 0..kw {
                            planes[kx * plane + yy * wo..][..wo].fill(0.0);
                        }
                        continue;
                    };
                    row[into..into + count].copy_from_slice(&image[iy * w..iy * w + count]);
                    for kx in 0..kw {
                        let dst = &mut planes[kx * plane + yy * wo..][..wo];
                        let src = &row[kx * dw..][..wo * sw];
                        match sw {
                            1 => dst.copy_from_slice(src),
                            2 => every_other(dst, src),
                            _ => {
                                for (d, c) in dst.iter_mut().zip(src.chunks_exact(sw)) {
                                    *d = c[0];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `dst[i] = src[2 * i]`: with the stride a constant, LLVM turns this into shuffles
/// (a loop over a run-time stride stores one float per iteration, 1.6 cycles each).
fn every_other(dst: &mut [f32], src: &[f32]) {
    for (d, pair) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *d = pair[0];
    }
}

/// Images per leaf of the reduction tree: a shape constant, never the thread count, so
/// the sums are the same on any number of threads. A leaf's tiles run over all its images
/// with their accumulators in registers; dcgan28's first-layer weight gradient (batch 64,
/// two threads, Zen 4) took a median 427, 349, 311, 299 and 270 us with 1, 2, 4, 8 and 16
/// images per kernel call. Batch 64 gives four leaves.
const LEAF_IMAGES: usize = 16;

/// Output channels per parallel task within a leaf (a multiple of [`ROWS`]).
const TASK_CHANNELS: usize = 4 * ROWS;

/// `dW [cout][channels][kh][kw]` of conv2d on `n` images `x [n][channels][in_hw]` with
/// output gradient `go [n][cout][out_hw]`. `isa` has an in-house kernel ([`applies`]).
pub(super) fn conv2d_weight(
    isa: Isa,
    x: &[f32],
    go: &[f32],
    g: &Geometry,
    n: usize,
    cout: usize,
) -> Vec<f32> {
    let taps = g.rows();
    let pb = Problem {
        isa,
        x,
        go,
        g,
        cout,
        n,
        planes: TapPlanes::new(g),
        bounds: {
            // Taps split into as few tiles as MAX_TAPS allows, of near-equal widths (a narrow
            // last tile would have too few accumulators to hide the FMA latency).
            let tiles = taps.div_ceil(MAX_TAPS);
            (0..=tiles).map(|i| i * taps / tiles).collect()
        },
        split: n.div_ceil(LEAF_IMAGES) < rayon::current_num_threads(),
    };
    crate::parallel::tree_sum(0..n.div_ceil(LEAF_IMAGES), &|leaf| leaf_sum(&pb, leaf))
}

/// What every leaf reads.
struct Problem<'a> {
    isa: Isa,
    x: &'a [f32],
    go: &'a [f32],
    g: &'a Geometry,
    cout: usize,
    n: usize,
    planes: TapPlanes,
    /// Tap tiles: tile `i` is taps `bounds[i]..bounds[i + 1]`.
    bounds: Vec<usize>,
    /// Whether each leaf splits its work over the threads (fewer leaves than threads).
    split: bool,
}

/// One leaf's `[cout][taps]`: its lane sums, added up lane by lane.
fn leaf_sum(pb: &Problem<'_>, index: usize) -> Vec<f32> {
    let images = index * LEAF_IMAGES..pb.n.min((index + 1) * LEAF_IMAGES);
    let len = pb.cout * pb.g.rows();
    // The thread's scratch, kept between calls: the planes and the lane sums. (Lane sums
    // in a fresh buffer per leaf made the op a third slower in a fresh process: glibc gave
    // the 100 KiB back at each free and faulted it in again.)
    let planes = images.len() * pb.planes.per_image;
    with_scratch(planes + len * LANES, |buf| {
        let (planes, lanes) = buf.split_at_mut(planes);
        leaf(pb, images, planes, lanes);
        lanes.chunks_exact(LANES).map(sum_lanes).collect()
    })
}

/// One leaf: the lane sums `[cout][taps][LANES]` of `images`, written over `out`. The
/// images' planes are built first (143 KiB for sixteen of dcgan28's first layer, in L2);
/// each tile then runs over all of them with its accumulators in registers.
fn leaf(pb: &Problem<'_>, images: std::ops::Range<usize>, planes: &mut [f32], out: &mut [f32]) {
    let (g, cout, per_image) = (pb.g, pb.cout, pb.planes.per_image);
    let (taps, len) = (g.rows(), g.positions());
    let image = g.channels * g.in_hw[0] * g.in_hw[1];
    let count = images.len();
    // The images' planes, in parallel when the leaf is split (one leaf's are 1.6 MB for 16
    // RGB 64x64 images); each task pads its rows in a buffer of its own.
    let row = TapPlanes::padded_row(g);
    // Split only where the leaves are fewer than the threads: it changes which thread
    // computes an element, never its sum, and stolen tasks read their planes from another
    // core's cache (dcgan28's first layer, four leaves, was 20% slower split).
    let min_len = if pb.split { 1 } else { usize::MAX };
    planes[..count * per_image]
        .par_chunks_mut(per_image)
        .with_min_len(min_len)
        .zip(images.clone())
        .for_each(|(dst, i)| {
            let mut row = vec![0.0f32; row];
            pb.planes
                .fill(g, &pb.x[i * image..(i + 1) * image], dst, &mut row);
        });
    let planes = &planes[..count * per_image];
    // Blocks of output channels, each writing its own rows of `out`: parallel tasks when
    // the leaf is split, so that a batch of one or two leaves still keeps every thread
    // busy. An RGB layer's batch of 16 is one leaf: 4x4 stride-2 on 64x64 images, 64
    // outputs, took 0.56-0.75 of the GEMM route's time split, 1.02-1.04 not (two threads,
    // Zen 4, alternated).
    out.par_chunks_mut(TASK_CHANNELS * taps * LANES)
        .with_min_len(min_len)
        .enumerate()
        .for_each(|(task, out)| {
            let (first, channels) = (task * TASK_CHANNELS, out.len() / (taps * LANES));
            for o0 in (0..channels).step_by(ROWS) {
                // A block short of ROWS channels repeats its last one; the repeat's sums
                // land on that channel's own and are the same values.
                let local: [usize; ROWS] = std::array::from_fn(|r| (o0 + r).min(channels - 1));
                let dy: [Runs; ROWS] = local.map(|o| Runs {
                    data: pb.go,
                    start: (images.start * cout + first + o) * len,
                    stride: cout * len,
                });
                for t in pb.bounds.windows(2) {
                    let mut runs = [Runs::EMPTY; MAX_TAPS];
                    for (run, &start) in runs.iter_mut().zip(&pb.planes.starts[t[0]..t[1]]) {
                        *run = Runs {
                            data: planes,
                            start,
                            stride: per_image,
                        };
                    }
                    let runs = &runs[..t[1] - t[0]];
                    let rows = local.map(|o| (o * taps + t[0]) * LANES);
                    tile(pb.isa, &dy, runs, [count, len], out, rows);
                }
            }
        });
}

/// One run of `len` floats per image: image `i`'s is `data[start + i * stride..][..len]`.
#[derive(Clone, Copy)]
struct Runs<'a> {
    data: &'a [f32],
    start: usize,
    stride: usize,
}

impl Runs<'_> {
    const EMPTY: Runs<'static> = Runs {
        data: &[],
        start: 0,
        stride: 0,
    };

    /// Whether `images` runs of `len` floats lie inside `data`.
    fn holds(&self, [images, len]: [usize; 2]) -> bool {
        images > 0 && self.start + (images - 1) * self.stride + len <= self.data.len()
    }

    fn ptr(&self) -> *const f32 {
        self.data[self.start..].as_ptr()
    }
}

/// The lanes' sum, in a fixed tree: halves added lane by lane until one is left.
fn sum_lanes(lanes: &[f32]) -> f32 {
    let mut v: [f32; LANES] = lanes.try_into().expect("LANES partial sums");
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            v[l] += v[l + width];
        }
        width /= 2;
    }
    v[0]
}

/// `acc[r][j][lane] = sum_i sum_b dy[r]_i[b*LANES + lane] * runs[j]_i[b*LANES + lane]`
/// over the images `i < images` and the blocks `b` of their runs in order, the last block
/// part-filled with zeros. Accumulator `(r, j)` is the `LANES` floats at
/// `out[rows[r] + j * LANES..]`. Rows may repeat an offset (with the same `dy`): the values
/// stored twice are the same.
fn tile(
    isa: Isa,
    dy: &[Runs; ROWS],
    runs: &[Runs],
    [images, len]: [usize; 2],
    out: &mut [f32],
    rows: [usize; ROWS],
) {
    assert!(dy.iter().chain(runs).all(|r| r.holds([images, len])));
    assert!((1..=MAX_TAPS).contains(&runs.len()));
    assert!(rows.iter().all(|&r| r + runs.len() * LANES <= out.len()));
    let acc: [*mut f32; ROWS] = rows.map(|r| out[r..].as_mut_ptr());
    let d = Strided {
        ptrs: dy.map(|r| r.ptr()),
        stride: dy[0].stride,
    };
    assert!(dy.iter().all(|r| r.stride == d.stride));
    let mut taps = Strided {
        ptrs: [std::ptr::null(); MAX_TAPS],
        stride: runs[0].stride,
    };
    assert!(runs.iter().all(|r| r.stride == taps.stride));
    for (p, r) in taps.ptrs.iter_mut().zip(runs) {
        *p = r.ptr();
    }
    let shape = [images, len, runs.len()];
    match isa {
        // SAFETY: the path is only chosen where the CPU has its features (`Isa`); every
        // run of every image lies in its slice and each accumulator row in `out` (asserted
        // above), which is all the kernels read and write.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::tile(&d, &taps, shape, acc) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2::tile(&d, &taps, shape, acc) },
        _ => unreachable!("applies() admits the in-house paths only"),
    }
}

/// `N` runs per image: image `i`'s run `j` starts at `ptrs[j] + i * stride`.
struct Strided<const N: usize> {
    ptrs: [*const f32; N],
    stride: usize,
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Strided, LANES, MAX_TAPS, ROWS};
    use std::arch::x86_64::*;

    /// [`super::tile`] on AVX-512: one register per accumulator. `shape` is
    /// `[images, len, taps]`.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; for every image `i < images`, each of the `ROWS` output
    /// gradient runs and the first `taps` (1 to `MAX_TAPS`) tap runs hold `len` floats from
    /// its pointer plus `i` strides, and each `acc` row holds `taps * LANES` floats.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tile(
        dy: &Strided<ROWS>,
        taps: &Strided<MAX_TAPS>,
        shape: [usize; 3],
        acc: [*mut f32; ROWS],
    ) {
        // SAFETY: the caller upholds the contract; each width's kernel has the same one.
        unsafe {
            // One monomorphic kernel per tile width, so the accumulators are registers.
            match shape[2] {
                1 => width::<1>(dy, taps, shape, acc),
                2 => width::<2>(dy, taps, shape, acc),
                3 => width::<3>(dy, taps, shape, acc),
                4 => width::<4>(dy, taps, shape, acc),
                5 => width::<5>(dy, taps, shape, acc),
                MAX_TAPS => width::<MAX_TAPS>(dy, taps, shape, acc),
                _ => unreachable!("tiles have 1 to MAX_TAPS taps"),
            }
        }
    }

    /// [`tile`] for `T` taps.
    ///
    /// # Safety
    /// As [`tile`], with `shape[2] == T`.
    #[target_feature(enable = "avx512f")]
    unsafe fn width<const T: usize>(
        dy: &Strided<ROWS>,
        taps: &Strided<MAX_TAPS>,
        [images, len, _]: [usize; 3],
        acc: [*mut f32; ROWS],
    ) {
        // SAFETY: every load below is of `len` floats (or fewer, masked) from a run the
        // caller vouches for, every store one of the caller's accumulator rows.
        unsafe {
            let mut a = [[_mm512_setzero_ps(); T]; ROWS];
            // The last block of each run: lanes past its end load zeros and add 0 * 0.
            let tail = len % LANES;
            let m: __mmask16 = ((1u32 << tail) - 1) as u16;
            for i in 0..images {
                let d: [*const f32; ROWS] = dy.ptrs.map(|p| p.add(i * dy.stride));
                let s: [*const f32; T] = std::array::from_fn(|j| taps.ptrs[j].add(i * taps.stride));
                let mut b = 0;
                while b + LANES <= len {
                    let dv: [__m512; ROWS] = std::array::from_fn(|r| _mm512_loadu_ps(d[r].add(b)));
                    for j in 0..T {
                        let sv = _mm512_loadu_ps(s[j].add(b));
                        for r in 0..ROWS {
                            a[r][j] = _mm512_fmadd_ps(dv[r], sv, a[r][j]);
                        }
                    }
                    b += LANES;
                }
                if tail > 0 {
                    let dv: [__m512; ROWS] =
                        std::array::from_fn(|r| _mm512_maskz_loadu_ps(m, d[r].add(b)));
                    for j in 0..T {
                        let sv = _mm512_maskz_loadu_ps(m, s[j].add(b));
                        for r in 0..ROWS {
                            a[r][j] = _mm512_fmadd_ps(dv[r], sv, a[r][j]);
                        }
                    }
                }
            }
            for (r, row) in a.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    _mm512_storeu_ps(acc[r].add(j * LANES), *v);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Strided, LANES, MAX_TAPS, ROWS};
    use std::arch::x86_64::*;

    /// Most taps per pass: `ROWS * PASS = 12` accumulators of one ymm, the `PASS` tap
    /// vectors and one output-gradient vector fill AVX2's 16 registers.
    const PASS: usize = 3;

    /// [`super::tile`] on AVX2: each 16-lane accumulator as two 8-lane halves, one pass
    /// over the runs per half and group of up to three taps (groups of near-equal sizes:
    /// a pass of one tap has too few chains to hide the FMA latency). A lane's chain of
    /// FMAs is the same as on AVX-512.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; otherwise as [`super::avx512::tile`].
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tile(
        dy: &Strided<ROWS>,
        taps: &Strided<MAX_TAPS>,
        [images, len, count]: [usize; 3],
        acc: [*mut f32; ROWS],
    ) {
        // SAFETY: the caller upholds the contract; each pass reads a subset of the runs
        // and writes a subset of the accumulators.
        unsafe {
            let passes = count.div_ceil(PASS);
            for p in 0..passes {
                let (j0, j1) = (p * count / passes, (p + 1) * count / passes);
                let sub = Strided {
                    ptrs: std::array::from_fn(|j| taps.ptrs[(j0 + j).min(j1 - 1)]),
                    stride: taps.stride,
                };
                for half in 0..2 {
                    let at = acc.map(|row| row.add(j0 * LANES + half * 8));
                    let lanes = [images, len, half * 8];
                    match j1 - j0 {
                        1 => pass::<1>(dy, &sub, lanes, at),
                        2 => pass::<2>(dy, &sub, lanes, at),
                        _ => pass::<PASS>(dy, &sub, lanes, at),
                    }
                }
            }
        }
    }

    /// Lanes `lane0 .. lane0 + 8` of every block, for `T` taps; `lanes` is
    /// `[images, len, lane0]`.
    ///
    /// # Safety
    /// As [`tile`], for the first `T` tap runs.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pass<const T: usize>(
        dy: &Strided<ROWS>,
        taps: &Strided<MAX_TAPS>,
        [images, len, lane0]: [usize; 3],
        acc: [*mut f32; ROWS],
    ) {
        // SAFETY: every load below is of floats inside a run the caller vouches for (the
        // tail masked), every store one of the caller's accumulator rows.
        unsafe {
            let mut a = [[_mm256_setzero_ps(); T]; ROWS];
            // The last block: lanes past the run's end load zeros and add 0 * 0, as on
            // AVX-512 (a half with no lane inside still adds, so signed zeros agree).
            let tail = len % LANES;
            let inside = tail.saturating_sub(lane0).min(8) as i32;
            let m = _mm256_cmpgt_epi32(
                _mm256_set1_epi32(inside),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            );
            for i in 0..images {
                let d: [*const f32; ROWS] = dy.ptrs.map(|p| p.add(i * dy.stride + lane0));
                let s: [*const f32; T] =
                    std::array::from_fn(|j| taps.ptrs[j].add(i * taps.stride + lane0));
                let mut b = 0;
                while b + LANES <= len {
                    // The taps' vectors held, one output-gradient row at a time.
                    let sv: [__m256; T] = std::array::from_fn(|j| _mm256_loadu_ps(s[j].add(b)));
                    for r in 0..ROWS {
                        let dv = _mm256_loadu_ps(d[r].add(b));
                        for j in 0..T {
                            a[r][j] = _mm256_fmadd_ps(dv, sv[j], a[r][j]);
                        }
                    }
                    b += LANES;
                }
                if tail > 0 {
                    let sv: [__m256; T] =
                        std::array::from_fn(|j| _mm256_maskload_ps(s[j].add(b), m));
                    for r in 0..ROWS {
                        let dv = _mm256_maskload_ps(d[r].add(b), m);
                        for j in 0..T {
                            a[r][j] = _mm256_fmadd_ps(dv, sv[j], a[r][j]);
                        }
                    }
                }
            }
            for (r, row) in a.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    _mm256_storeu_ps(acc[r].add(j * LANES), *v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        assert_within, same_bits_on_every_path, test_values as values, test_weight_gradient,
    };
    use super::*;
    use crate::Conv2dParams;

    /// Every in-house path against the definition: one and three channels, output channels
    /// not a multiple of the tile (6, 9), a batch of three leaves (37 images), runs that
    /// are and are not whole blocks of lanes (16, 14x14 = 196, 35), strides that differ
    /// per axis, dilation; each element within `1e-6 * (sum |g x| + 1)`. The paths agree
    /// bit for bit, on 1 and 3 threads (on 3, batches of fewer than three leaves split
    /// each leaf over the threads).
    #[test]
    fn weight_dots_match_the_definition_and_agree_everywhere() {
        let cases = [
            (
                1,
                8,
                5,
                [28, 28],
                [5, 5],
                Conv2dParams::new().stride(2).padding(2),
            ),
            (
                3,
                6,
                37,
                [8, 8],
                [4, 4],
                Conv2dParams::new().stride(2).padding(1),
            ),
            (
                2,
                9,
                2,
                [7, 16],
                [3, 2],
                Conv2dParams::new().stride_hw([1, 3]).padding_hw([1, 0]),
            ),
            (
                1,
                4,
                3,
                [9, 9],
                [3, 3],
                Conv2dParams::new().padding(2).dilation(2),
            ),
            (
                1,
                5,
                2,
                [11, 15],
                [7, 3],
                Conv2dParams::new()
                    .stride_hw([3, 2])
                    .padding(3)
                    .dilation_hw([2, 1]),
            ),
        ];
        for (c, cout, n, hw, k, p) in cases {
            let g = Geometry::conv2d(c, hw, k, &p);
            let x = values(n * c * hw[0] * hw[1], 1);
            let go = values(n * cout * g.positions(), 2);
            let (want, scale) = test_weight_gradient(&x, &go, &g, n, cout);
            let runs = same_bits_on_every_path(&format!("{g:?}"), |isa| {
                assert!(applies(isa, &g, cout), "{g:?}");
                conv2d_weight(isa, &x, &go, &g, n, cout)
            });
            for (isa, dw) in runs {
                assert_within(&dw, &want, &scale, 1e-6, &format!("{isa:?} {g:?}"));
            }
        }
    }
}
