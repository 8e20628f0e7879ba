//! `agon inspect`.

use std::path::Path;

use agon::nn::checkpoint::Checkpoint;

pub fn run(file: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let ckpt = Checkpoint::read(file)?;
    println!("{}", file.display());
    println!("metadata:");
    for (k, v) in ckpt.metadata() {
        if k == "agon.config" {
            println!("  {k}:");
            for line in v.lines() {
                println!("    {line}");
            }
        } else {
            println!("  {k} = {v}");
        }
    }
    let names = ckpt.names();
    let mut total = 0usize;
    println!("tensors ({}):", names.len());
    for name in names {
        let shape = ckpt.shape(name).unwrap_or(&[]);
        total += shape.iter().product::<usize>();
        println!(
            "  {name:<48} {:<5} {shape:?}",
            ckpt.dtype(name).unwrap_or("?")
        );
    }
    println!("{total} values in all");
    Ok(())
}
