//! Agon's convolution, pooling and upsampling kernels against PyTorch's outputs.
//!
//! The fixtures (`tests/fixtures/conv_pool.safetensors`) are written by
//! `scripts/torch_fixtures.py` (see its docstring for the command, the naming scheme and the
//! torch version); this test needs no PyTorch. Every case in the file is checked, and the
//! count of checked cases must equal the count the file declares, so an empty or truncated
//! file fails instead of passing vacuously.

use agon::tensor::{Conv2dParams, NdArray, Pool2dParams};
use agon_reference::fixtures::{self, Case, Fixtures};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/conv_pool.safetensors"
);
const RTOL: f32 = 1e-4;
const ATOL: f32 = 1e-5;

/// `None` when `got` matches `want` within `ATOL + RTOL * |want|`, else a description of the
/// worst element.
fn mismatch(got: &NdArray, want: &NdArray) -> Option<String> {
    if got.shape() != want.shape() {
        return Some(format!(
            "shape {:?}, PyTorch {:?}",
            got.shape(),
            want.shape()
        ));
    }
    let (g, w) = (got.to_vec(), want.to_vec());
    let mut worst: Option<(usize, f32)> = None;
    for (i, (&a, &b)) in g.iter().zip(&w).enumerate() {
        let excess = (a - b).abs() - (ATOL + RTOL * b.abs());
        let bad = excess > 0.0 || a.is_nan() != b.is_nan();
        if bad && worst.is_none_or(|(_, e)| excess > e) {
            worst = Some((i, excess));
        }
    }
    worst.map(|(i, _)| {
        format!(
            "element {i} (flat): agon {} vs PyTorch {} (|diff| {:e})",
            g[i],
            w[i],
            (g[i] - w[i]).abs()
        )
    })
}

fn conv_params(case: &Case) -> Conv2dParams {
    let (s, p, d) = (
        case.usize("stride"),
        case.usize("padding"),
        case.usize("dilation"),
    );
    Conv2dParams {
        stride: [s, s],
        padding: [p, p],
        dilation: [d, d],
    }
}

fn pool_params(case: &Case) -> Pool2dParams {
    Pool2dParams {
        kernel: case.pair("kernel"),
        stride: case.pair("stride"),
        padding: case.pair("padding"),
    }
}

/// The optional bias of a conv case, cross-checked against the `bias` flag.
fn bias(fx: &Fixtures, case: &Case) -> Option<NdArray> {
    let b = fx.try_get(&format!("{}.b", case.name));
    assert_eq!(
        b.is_some(),
        case.flag("bias"),
        "{}: bias flag disagrees with the tensors present",
        case.name
    );
    b
}

/// Run one case with Agon's kernels; returns the failures found (empty when it matches).
fn check(fx: &Fixtures, case: &Case) -> Vec<String> {
    let t = |role: &str| fx.get(&format!("{}.{role}", case.name));
    let x = t("x");
    let want = t("out");
    let mut failures = Vec::new();
    let mut compare = |what: &str, got: &NdArray, want: &NdArray| {
        if let Some(m) = mismatch(got, want) {
            failures.push(format!("{} [{what}]: {m}", case.name));
        }
    };
    match case.op() {
        "conv2d" => {
            let b = bias(fx, case);
            let got = x.conv2d(&t("w"), b.as_ref(), &conv_params(case));
            compare("out", &got, &want);
        }
        "conv_transpose2d" => {
            let b = bias(fx, case);
            let op = case.usize("output_padding");
            let got = x.conv_transpose2d(&t("w"), b.as_ref(), &conv_params(case), [op, op]);
            compare("out", &got, &want);
        }
        "conv2d_weight" => {
            let got = x.conv2d_weight(&t("grad_out"), case.pair("kernel"), &conv_params(case));
            compare("out", &got, &want);
        }
        "max_pool2d" => {
            let (got, idx) = x.max_pool2d(&pool_params(case));
            compare("out", &got, &want);
            let want_idx = t("indices");
            let got_idx: Vec<f32> = idx.as_slice().iter().map(|&i| i as f32).collect();
            if idx.shape() != want_idx.shape() || got_idx != want_idx.to_vec() {
                let first = got_idx
                    .iter()
                    .zip(want_idx.to_vec())
                    .position(|(&a, b)| a != b);
                failures.push(format!(
                    "{} [indices]: shape {:?} vs PyTorch {:?}, first differing flat position {:?}",
                    case.name,
                    idx.shape(),
                    want_idx.shape(),
                    first
                ));
            }
        }
        "avg_pool2d" => {
            let got = x.avg_pool2d(&pool_params(case));
            compare("out", &got, &want);
        }
        "upsample_nearest2d" => {
            let got = x.upsample_nearest2d(case.pair("scale"));
            compare("out", &got, &want);
        }
        other => panic!(
            "{}: unknown op {other:?} in {PATH}; teach this test about it",
            case.name
        ),
    }
    failures
}

#[test]
fn agon_matches_pytorch_on_every_fixture_case() {
    let fx = fixtures::load(PATH);
    let declared: usize = fx
        .meta("num_cases")
        .expect("fixture file has no num_cases metadata")
        .parse()
        .expect("num_cases is not an integer");
    let cases = fx.cases();
    let mut listed: Vec<&str> = fx.meta("cases").unwrap_or("").split(',').collect();
    listed.sort_unstable();
    let found: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        listed, found,
        "the `cases` metadata and the tensor names disagree"
    );
    assert!(declared > 0, "{PATH} declares no cases");

    let mut checked = 0;
    let mut failures = Vec::new();
    for case in &cases {
        failures.extend(check(&fx, case));
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} mismatches against PyTorch {} (rtol {RTOL}, atol {ATOL}):\n{}",
        failures.len(),
        fx.meta("torch_version").unwrap_or("?"),
        failures.join("\n")
    );
    assert_eq!(
        checked, declared,
        "checked {checked} cases but {PATH} declares {declared}"
    );
}
