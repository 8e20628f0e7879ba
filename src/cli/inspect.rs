//! `agon inspect`.

use std::path::Path;

use crate::nn::checkpoint::Checkpoint;

pub fn run(file: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let ckpt = Checkpoint::read(file)?;
    out!("{}", file.display());
    out!("metadata:");
    for (k, v) in ckpt.metadata() {
        if k == "agon.config" {
            out!("  {k}:");
            for line in v.lines() {
                out!("    {line}");
            }
        } else {
            out!("  {k} = {v}");
        }
    }
    let names = ckpt.names();
    let mut total = 0usize;
    out!("tensors ({}):", names.len());
    for name in names {
        let shape = ckpt.shape(name).unwrap_or(&[]);
        total += shape.iter().product::<usize>();
        out!(
            "  {name:<48} {:<5} {shape:?}",
            ckpt.dtype(name).unwrap_or("?")
        );
    }
    out!("{total} values in all");
    // A training checkpoint names its networks and optimisers: a line for each, with its
    // size, so a task's parts can be told apart at a glance.
    let meta = ckpt.metadata();
    for (key, what) in [
        ("agon.networks", "network"),
        ("agon.optimizers", "optimiser"),
    ] {
        for name in meta.get(key).into_iter().flat_map(|v| v.split(',')) {
            let prefix = format!("{name}.");
            let (count, values) = ckpt.names().iter().filter(|n| n.starts_with(&prefix)).fold(
                (0, 0usize),
                |(c, v), n| {
                    (
                        c + 1,
                        v + ckpt.shape(n).unwrap_or(&[]).iter().product::<usize>(),
                    )
                },
            );
            out!("{what} {name}: {count} tensors, {values} values");
        }
    }
    Ok(())
}
