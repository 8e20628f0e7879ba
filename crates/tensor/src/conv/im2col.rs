//! im2col and col2im: the bridge between a convolution and a matrix multiply.
//!
//! For one image `[C, H, W]` and a conv2d output grid `[Ho, Wo]`, the column matrix has one
//! row per kernel tap `(c, ki, kj)` (`C * kh * kw` rows) and one column per output position
//! `l = oh * Wo + ow`; entry `(c, ki, kj), l` is the input pixel that tap sees from that
//! position, `x[c, oh*sh - ph + ki*dh, ow*sw - pw + kj*dw]`, or 0 in the padding. Then
//! `conv2d = W [Cout, C*kh*kw] @ cols`. col2im is the adjoint: it adds every entry back onto
//! the pixel it was read from, which turns `W^T @ x` into a transposed convolution.
//!
//! Both work on a *tile* of consecutive output positions `l0 .. l0 + t` of one image and
//! write (read) it into any column window of a wider matrix (row stride `ld`), so callers
//! can bound the column buffer by tiling large images, and put several small images side
//! by side in one matrix. Within a tile they walk output rows as runs (segments of one
//! `oh`), computing the in-bounds part of each run once, so the inner loop is a plain copy
//! (a `memcpy` when the stride is 1) with no per-pixel bounds checks.

use std::cell::RefCell;
use std::ops::Range;

use super::Conv2dParams;

/// Soft cap on one task's column buffer, in f32 elements (1 MiB). The buffer is written by
/// im2col and then read by the GEMM's packing; while it fits in L2 the second pass is a
/// cache hit. Layers with many channels exceed it anyway because of [`GEMM_MIN_COLS`].
pub(crate) const COLS_BUDGET: usize = 1 << 18;

/// Fewest columns (`n`) we hand to one sgemm call when the shapes allow it. The weights are
/// packed once per call now (`PackedA`), but a narrow call still wastes its last tile (49
/// positions of a 7x7 map fill 49 of 64 columns of 32-wide tiles) and pays the per-call
/// set-up (B packing, a call per 32-column sliver); 256 columns make both small. Small
/// images are therefore batched side by side, and large ones tiled no narrower than this,
/// at the price of a column buffer beyond [`COLS_BUDGET`] on wide layers and fewer
/// parallel tasks on small batches.
pub(crate) const GEMM_MIN_COLS: usize = 256;

/// How a batch's gemm columns are blocked; depends on shapes only (never on the thread
/// count), so results stay deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Whole images per block, side by side in one column matrix (1: tile within images).
    pub images: usize,
    /// Positions per tile; all of an image's positions when `images > 1`.
    pub tile: usize,
}

impl Plan {
    /// Blocking for a column matrix of `rows` rows over images of `positions` positions.
    pub fn new(rows: usize, positions: usize) -> Plan {
        let target = (COLS_BUDGET / rows.max(1)).max(GEMM_MIN_COLS);
        let positions = positions.max(1);
        if positions >= target {
            Plan {
                images: 1,
                tile: target,
            }
        } else {
            // Enough images to reach GEMM_MIN_COLS, within the target width.
            let images = GEMM_MIN_COLS.div_ceil(positions).min(target / positions);
            Plan {
                images: images.max(1),
                tile: positions,
            }
        }
    }

    /// Widest column matrix a block needs.
    pub fn cols(&self) -> usize {
        self.images * self.tile
    }
}

/// Largest scratch buffer (in f32 elements, 16 MiB) a thread keeps for the next call.
/// Keeping it saves allocating and zeroing the column buffer in every task (several MiB on
/// wide layers, ~10% of a small layer's time); the cost is that memory staying allocated
/// per rayon thread between calls. Anything larger is freed after use.
const SCRATCH_KEEP: usize = 1 << 22;

thread_local! {
    /// Per-thread scratch space for conv tasks (column matrices and staging buffers).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a scratch slice of `len` floats, reusing this thread's buffer. Its contents
/// are unspecified (left over from earlier calls): callers write every element before
/// reading it. A nested call on the same thread gets a fresh allocation.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
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

/// Geometry of one conv2d image: a `[channels, in_hw]` input plane seen through a kernel on
/// an `out_hw` output grid.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub channels: usize,
    pub in_hw: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub out_hw: [usize; 2],
}

impl Geometry {
    /// The geometry of `conv2d` on `channels` x `in_hw` images with a `kernel` and `p`.
    ///
    /// # Panics
    /// As [`Conv2dParams::conv2d_output_hw`] (at the caller's line).
    #[track_caller]
    pub fn conv2d(
        channels: usize,
        in_hw: [usize; 2],
        kernel: [usize; 2],
        p: &Conv2dParams,
    ) -> Geometry {
        Geometry {
            channels,
            in_hw,
            kernel,
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            out_hw: p.conv2d_output_hw(in_hw, kernel),
        }
    }

    /// Rows of the column matrix: one per kernel tap.
    pub fn rows(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Columns of the full column matrix: one per output position.
    pub fn positions(&self) -> usize {
        self.out_hw[0] * self.out_hw[1]
    }

    /// Where output position `o` reads tap `k` along axis `a`: `o*s + k*d - p`, or `None`
    /// on the padding.
    pub fn input_at(&self, a: usize, o: usize, k: usize) -> Option<usize> {
        let at = (o * self.stride[a] + k * self.dilation[a]) as isize - self.padding[a] as isize;
        (0..self.in_hw[a] as isize)
            .contains(&at)
            .then_some(at as usize)
    }

    /// Output positions `o` along axis `a` whose tap `k` lands inside the input:
    /// `0 <= o*s + k*d - p < in`.
    pub fn valid(&self, a: usize, k: usize) -> Range<usize> {
        let (s, n_out) = (self.stride[a], self.out_hw[a]);
        let off = (k * self.dilation[a]) as isize - self.padding[a] as isize;
        let lo = if off >= 0 {
            0
        } else {
            (off.unsigned_abs()).div_ceil(s)
        };
        let lim = self.in_hw[a] as isize - off;
        let hi = if lim <= 0 {
            0
        } else {
            (lim as usize).div_ceil(s).min(n_out)
        };
        lo.min(hi)..hi
    }

    /// Whether im2col and col2im go through a [`TapTable`] rather than runs: when the
    /// runs are short (a stride-2 or narrow output row has a few pixels, and each run
    /// costs its bounds arithmetic and a call) and there are enough channels to amortise
    /// building the table. Measured on dcgan28's 5x5 stride-2 D2 layer (7-pixel rows:
    /// forward and both gradients 15-25% faster). The table holds `u32` offsets, so planes and output grids
    /// beyond 2^32 pixels keep the runs.
    fn gathers(&self) -> bool {
        let fits = |n: usize| u32::try_from(n).is_ok();
        self.channels >= 4
            && (self.stride[1] > 1 || self.out_hw[1] < 16)
            && fits(self.in_hw[0] * self.in_hw[1])
            && fits(self.positions())
    }

    /// The [`TapTable`] of the tile `l0 .. l0 + t`.
    fn tap_table(&self, l0: usize, t: usize) -> TapTable {
        let [kh, kw] = self.kernel;
        let [h, w] = self.in_hw;
        let wo = self.out_hw[1].max(1);
        let mut table = TapTable {
            dst: Vec::with_capacity(kh * kw * t),
            src: Vec::with_capacity(kh * kw * t),
            starts: Vec::with_capacity(kh * kw + 1),
        };
        table.starts.push(0);
        for ki in 0..kh {
            let ih0 = (ki * self.dilation[0]) as isize - self.padding[0] as isize;
            for kj in 0..kw {
                let iw0 = (kj * self.dilation[1]) as isize - self.padding[1] as isize;
                let (mut oh, mut ow) = (l0 / wo, l0 % wo);
                for d in 0..t {
                    let ih = (oh * self.stride[0]) as isize + ih0;
                    let iw = (ow * self.stride[1]) as isize + iw0;
                    if (0..h as isize).contains(&ih) && (0..w as isize).contains(&iw) {
                        table.dst.push(d as u32);
                        table.src.push((ih as usize * w + iw as usize) as u32);
                    }
                    ow += 1;
                    if ow == wo {
                        (oh, ow) = (oh + 1, 0);
                    }
                }
                table.starts.push(table.dst.len());
            }
        }
        table
    }

    /// Calls `visit(row, dst, src)` for every run of the tile `l0 .. l0 + t`, row by row of
    /// the column matrix. `dst` indexes the tile's columns; `src` is `Some(i)` for an
    /// in-bounds run whose first column reads input element `i` (`c*H*W + ih*W + iw`), the
    /// next ones stepping by the w-stride, and `None` for a run in the padding.
    fn walk(&self, l0: usize, t: usize, mut visit: impl FnMut(usize, Range<usize>, Option<usize>)) {
        let [kh, kw] = self.kernel;
        let [h, w] = self.in_hw;
        let wo = self.out_hw[1].max(1);
        let (sh, sw) = (self.stride[0], self.stride[1]);
        // The tile as runs of one output row each, `(oh, ow0, ow1, first tile column)`:
        // the same for every row of the column matrix, so computed once per call.
        let mut segments = Vec::with_capacity(t / wo + 2);
        let (mut oh, mut ow0, mut d0) = (l0 / wo, l0 % wo, 0);
        while d0 < t {
            let ow1 = wo.min(ow0 + (t - d0));
            segments.push((oh, ow0, ow1, d0));
            d0 += ow1 - ow0;
            (oh, ow0) = (oh + 1, 0);
        }
        let cols_valid: Vec<Range<usize>> = (0..kw).map(|kj| self.valid(1, kj)).collect();
        let rows_valid: Vec<Range<usize>> = (0..kh).map(|ki| self.valid(0, ki)).collect();
        let mut row = 0;
        for c in 0..self.channels {
            for (ki, rv) in rows_valid.iter().enumerate() {
                // Input row of output row `oh` is `oh * sh + ih0` (>= 0 inside `rv`).
                let ih0 = (ki * self.dilation[0]) as isize - self.padding[0] as isize;
                for (kj, cv) in cols_valid.iter().enumerate() {
                    let iw0 = (kj * self.dilation[1]) as isize - self.padding[1] as isize;
                    for &(oh, ow0, ow1, d0) in &segments {
                        let cols = |a: usize, b: usize| d0 + (a - ow0)..d0 + (b - ow0);
                        if !rv.contains(&oh) {
                            visit(row, cols(ow0, ow1), None);
                            continue;
                        }
                        let lo = cv.start.clamp(ow0, ow1);
                        let hi = cv.end.clamp(lo, ow1);
                        if lo > ow0 {
                            visit(row, cols(ow0, lo), None);
                        }
                        if hi > lo {
                            let ih = ((oh * sh) as isize + ih0) as usize;
                            let iw = ((lo * sw) as isize + iw0) as usize;
                            visit(row, cols(lo, hi), Some((c * h + ih) * w + iw));
                        }
                        if ow1 > hi {
                            visit(row, cols(hi, ow1), None);
                        }
                    }
                    row += 1;
                }
            }
        }
    }
}

/// For each kernel tap `(ki, kj)`, in row order, the tile columns `dst` whose tap lands
/// inside the input and the in-plane offset `src = ih * W + iw` each one reads. It is the
/// same for every channel (channel `c` reads `c * H * W + src`), so one table serves all
/// `C * kh * kw` rows, and the copy becomes a gather with no per-run arithmetic.
struct TapTable {
    dst: Vec<u32>,
    src: Vec<u32>,
    /// Tap `k`'s entries are `starts[k] .. starts[k + 1]`.
    starts: Vec<usize>,
}

/// [`im2col`] through a [`TapTable`] of the same tile (`t` columns).
fn im2col_gather(x: &[f32], g: &Geometry, table: &TapTable, t: usize, cols: &mut [f32], ld: usize) {
    let plane = g.in_hw[0] * g.in_hw[1];
    let taps = g.kernel[0] * g.kernel[1];
    for (c, x_c) in x.chunks_exact(plane).take(g.channels).enumerate() {
        for k in 0..taps {
            let row = (c * taps + k) * ld;
            let out = &mut cols[row..row + t];
            let span = table.starts[k]..table.starts[k + 1];
            if span.len() < t {
                out.fill(0.0); // some columns see the padding
            }
            for (&d, &i) in table.dst[span.clone()].iter().zip(&table.src[span]) {
                out[d as usize] = x_c[i as usize];
            }
        }
    }
}

/// [`col2im`] through a [`TapTable`]: row by row, columns in increasing order, the same
/// order of additions onto each pixel as the run-based path.
fn col2im_scatter(
    cols: &[f32],
    ld: usize,
    g: &Geometry,
    table: &TapTable,
    t: usize,
    img: &mut [f32],
) {
    let plane = g.in_hw[0] * g.in_hw[1];
    let taps = g.kernel[0] * g.kernel[1];
    for (c, img_c) in img.chunks_exact_mut(plane).take(g.channels).enumerate() {
        for k in 0..taps {
            let start = (c * taps + k) * ld;
            let row = &cols[start..start + t];
            let span = table.starts[k]..table.starts[k + 1];
            for (&d, &i) in table.dst[span.clone()].iter().zip(&table.src[span]) {
                img_c[i as usize] += row[d as usize];
            }
        }
    }
}

/// [`col2im`] of whole images (`l0 = 0`, all positions), as conv_transpose2d's side-by-side
/// blocks of small maps use it, with the [`TapTable`] (where the geometry gathers) built
/// once per op and shared by its tasks rather than rebuilt for every image
/// (`Geometry::tap_table` was 0.9% of the default training step's profile on a Zen 4, most
/// of it rebuilding the same table).
pub(crate) struct WholeImages<'g> {
    g: &'g Geometry,
    table: Option<TapTable>,
}

impl<'g> WholeImages<'g> {
    /// For the blocks of `plan`: the table is built only where the plan puts images side
    /// by side (tiled large images never use it, and their table would be large), and not
    /// where [`super::col2im_rows`] takes those images instead.
    pub fn new(g: &'g Geometry, plan: &Plan) -> WholeImages<'g> {
        let table = (plan.images > 1 && g.gathers() && !super::col2im_rows::applies(g))
            .then(|| g.tap_table(0, g.positions()));
        WholeImages { g, table }
    }

    /// [`col2im`] of all of image `img`'s positions: by output rows
    /// ([`super::col2im_rows`]) where that applies, else through the table or the runs.
    pub fn col2im(&self, cols: &[f32], ld: usize, img: &mut [f32]) {
        let l = self.g.positions();
        if super::col2im_rows::applies(self.g) {
            return super::col2im_rows::col2im_rows(cols, ld, self.g, img);
        }
        match &self.table {
            Some(table) => col2im_scatter(cols, ld, self.g, table, l, img),
            None => col2im(cols, ld, self.g, 0, l, img),
        }
    }
}

/// Writes the column matrix of the output positions `l0 .. l0 + t` of image `x`
/// (`[g.channels, H, W]`, dense) into `cols` as `g.rows()` rows of `t` values, row `r`
/// starting at `cols[r * ld]`.
pub(crate) fn im2col(x: &[f32], g: &Geometry, l0: usize, t: usize, cols: &mut [f32], ld: usize) {
    debug_assert!(t <= ld && l0 + t <= g.positions());
    debug_assert!(g.rows() == 0 || cols.len() >= (g.rows() - 1) * ld + t);
    if g.gathers() {
        return im2col_gather(x, g, &g.tap_table(l0, t), t, cols, ld);
    }
    // Monomorphised on the common w-strides so the inner copy has a constant step.
    match g.stride[1] {
        1 => im2col_with::<1>(x, g, l0, t, cols, ld),
        2 => im2col_with::<2>(x, g, l0, t, cols, ld),
        _ => im2col_with::<0>(x, g, l0, t, cols, ld),
    }
}

/// [`im2col`] with the w-stride fixed at `S` (0: read it from `g` at run time).
fn im2col_with<const S: usize>(
    x: &[f32],
    g: &Geometry,
    l0: usize,
    t: usize,
    cols: &mut [f32],
    ld: usize,
) {
    let step = if S == 0 { g.stride[1] } else { S };
    g.walk(l0, t, |row, dst, src| {
        let out = &mut cols[row * ld + dst.start..row * ld + dst.end];
        let Some(i) = src else {
            out.fill(0.0);
            return;
        };
        // The run reads x[i], x[i + step], ..: slice exactly that far so the loop below
        // needs no bounds checks.
        let src = &x[i..i + (out.len() - 1) * step + 1];
        if step == 1 {
            out.copy_from_slice(src);
        } else {
            for (k, o) in out.iter_mut().enumerate() {
                *o = src[k * step];
            }
        }
    });
}

/// Adds the column matrix of the output positions `l0 .. l0 + t` (laid out as in
/// [`im2col`]: row `r` at `cols[r * ld]`) back onto image `img` (`[g.channels, H, W]`,
/// dense): the adjoint of [`im2col`]. Entries that fall in the padding are dropped. Runs in
/// a fixed order, so repeated calls give the same bits.
pub(crate) fn col2im(cols: &[f32], ld: usize, g: &Geometry, l0: usize, t: usize, img: &mut [f32]) {
    debug_assert!(t <= ld && l0 + t <= g.positions());
    debug_assert!(g.rows() == 0 || cols.len() >= (g.rows() - 1) * ld + t);
    if g.gathers() {
        return col2im_scatter(cols, ld, g, &g.tap_table(l0, t), t, img);
    }
    match g.stride[1] {
        1 => col2im_with::<1>(cols, ld, g, l0, t, img),
        2 => col2im_with::<2>(cols, ld, g, l0, t, img),
        _ => col2im_with::<0>(cols, ld, g, l0, t, img),
    }
}

/// [`col2im`] with the w-stride fixed at `S` (0: read it from `g` at run time).
fn col2im_with<const S: usize>(
    cols: &[f32],
    ld: usize,
    g: &Geometry,
    l0: usize,
    t: usize,
    img: &mut [f32],
) {
    let step = if S == 0 { g.stride[1] } else { S };
    g.walk(l0, t, |row, dst, src| {
        let Some(i) = src else { return };
        let from = &cols[row * ld + dst.start..row * ld + dst.end];
        let to = &mut img[i..i + (from.len() - 1) * step + 1];
        if step == 1 {
            for (o, &v) in to.iter_mut().zip(from) {
                *o += v;
            }
        } else {
            for (k, &v) in from.iter().enumerate() {
                to[k * step] += v;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(c: usize, in_hw: [usize; 2], k: [usize; 2], s: usize, p: usize, d: usize) -> Geometry {
        let out_hw = std::array::from_fn(|a| (in_hw[a] + 2 * p - d * (k[a] - 1) - 1) / s + 1);
        Geometry {
            channels: c,
            in_hw,
            kernel: k,
            stride: [s, s],
            padding: [p, p],
            dilation: [d, d],
            out_hw,
        }
    }

    /// The column matrix straight from its definition.
    fn naive(x: &[f32], g: &Geometry) -> Vec<f32> {
        let (rows, l) = (g.rows(), g.positions());
        let mut out = vec![0.0; rows * l];
        for c in 0..g.channels {
            for ki in 0..g.kernel[0] {
                for kj in 0..g.kernel[1] {
                    let r = (c * g.kernel[0] + ki) * g.kernel[1] + kj;
                    for oh in 0..g.out_hw[0] {
                        for ow in 0..g.out_hw[1] {
                            let ih = (oh * g.stride[0] + ki * g.dilation[0]) as isize
                                - g.padding[0] as isize;
                            let iw = (ow * g.stride[1] + kj * g.dilation[1]) as isize
                                - g.padding[1] as isize;
                            if (0..g.in_hw[0] as isize).contains(&ih)
                                && (0..g.in_hw[1] as isize).contains(&iw)
                            {
                                out[r * l + oh * g.out_hw[1] + ow] = x[c * g.in_hw[0] * g.in_hw[1]
                                    + ih as usize * g.in_hw[1]
                                    + iw as usize];
                            }
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn tiles_of_im2col_match_the_definition() {
        // 2 channels take the run-based path, 5 the tap-table gather (`Geometry::gathers`).
        for (c, s, p, d) in [2, 5].into_iter().flat_map(|c| {
            [(1, 0, 1), (2, 1, 1), (1, 2, 2), (3, 2, 1), (2, 0, 2)].map(|(s, p, d)| (c, s, p, d))
        }) {
            let g = geom(c, [5, 7], [3, 2], s, p, d);
            assert_eq!(g.gathers(), c == 5);
            let x: Vec<f32> = (0..c * 5 * 7).map(|i| i as f32 + 1.0).collect();
            let full = naive(&x, &g);
            let l = g.positions();
            for t in [1, 3, l] {
                let mut l0 = 0;
                while l0 < l {
                    let tt = t.min(l - l0);
                    // Written into columns 2.. of a wider matrix; the rest stays untouched.
                    let ld = tt + 3;
                    let mut cols = vec![f32::NAN; g.rows() * ld];
                    im2col(&x, &g, l0, tt, &mut cols[2..], ld);
                    for r in 0..g.rows() {
                        let row = &cols[r * ld..(r + 1) * ld];
                        assert_eq!(row[2..2 + tt], full[r * l + l0..r * l + l0 + tt]);
                        assert!(row[..2].iter().chain(&row[2 + tt..]).all(|v| v.is_nan()));
                    }
                    l0 += tt;
                }
            }
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for c in [2, 5] {
            adjoint_on(&geom(c, [6, 5], [3, 3], 2, 1, 1));
        }
    }

    fn adjoint_on(g: &Geometry) {
        let x: Vec<f32> = (0..g.channels * 30)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let y: Vec<f32> = (0..g.rows() * g.positions())
            .map(|i| (i as f32 * 0.11).cos())
            .collect();
        let mut cols = vec![0.0; y.len()];
        im2col(&x, g, 0, g.positions(), &mut cols, g.positions());
        let lhs: f64 = cols
            .iter()
            .zip(&y)
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum();
        let mut back = vec![0.0; x.len()];
        col2im(&y, g.positions(), g, 0, g.positions(), &mut back);
        let rhs: f64 = back
            .iter()
            .zip(&x)
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum();
        assert!(
            (lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }

    #[test]
    fn the_tap_table_and_the_runs_add_onto_pixels_in_the_same_order() {
        let g = geom(6, [14, 14], [4, 4], 2, 1, 1);
        assert!(g.gathers());
        let l = g.positions();
        let y: Vec<f32> = (0..g.rows() * l).map(|i| (i as f32 * 0.11).cos()).collect();
        let (mut table, mut runs) = (vec![0.5; 6 * 196], vec![0.5; 6 * 196]);
        col2im(&y, l, &g, 0, l, &mut table);
        col2im_with::<2>(&y, l, &g, 0, l, &mut runs);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&table), bits(&runs));
    }

    #[test]
    fn plans_batch_small_images_and_tile_large_ones() {
        // dcgan28's 7x7 maps with 3200 rows: 5 images side by side (245 columns).
        assert_eq!(
            Plan::new(3200, 49),
            Plan {
                images: 5,
                tile: 49
            }
        );
        // Few rows, 14x14: two images reach GEMM_MIN_COLS.
        assert_eq!(
            Plan::new(25, 196),
            Plan {
                images: 2,
                tile: 196
            }
        );
        // Huge images are tiled at the budget width, never below GEMM_MIN_COLS.
        assert_eq!(
            Plan::new(25, 100_000),
            Plan {
                images: 1,
                tile: COLS_BUDGET / 25
            }
        );
        assert_eq!(
            Plan::new(1 << 20, 1000),
            Plan {
                images: 1,
                tile: GEMM_MIN_COLS
            }
        );
        assert_eq!(Plan::new(0, 0).cols(), GEMM_MIN_COLS);
    }
}
