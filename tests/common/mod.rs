//! Helpers shared by the root package's integration tests (`mod common;` in each).

/// `agon train` arguments for the run other tests damage and resume: the ring-of-8 MLP for
/// 4 steps, which trains in milliseconds. Add `--out DIR`.
pub const RING_TRAIN_ARGS: [&str; 12] = [
    "train",
    "--data",
    "ring8",
    "--model",
    "mlp",
    "--steps",
    "4",
    "--set",
    "model.mlp_hidden=8",
    "--set",
    "batch_size=16",
    "--quiet",
];
