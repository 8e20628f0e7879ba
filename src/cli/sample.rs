//! `agon sample` and `agon interpolate`.

use std::path::PathBuf;

use crate::gan::latent::{walk, Walk};
use crate::gan::tasks::ImageToImage;
use crate::gan::trainer::{held_out_samples, load_task, sample_from, TrainConfig};
use crate::tensor::{Indices, NdArray};
use clap::Args;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The most samples `agon sample` writes at once (a 100x100 grid).
const MAX_SAMPLES: usize = 10_000;

/// Options of `agon sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// A training checkpoint (checkpoint.safetensors).
    #[arg(long)]
    checkpoint: PathBuf,
    /// How many samples.
    #[arg(long, default_value_t = 64)]
    n: usize,
    /// For conditional models: draw only this class.
    #[arg(long)]
    class: Option<usize>,
    /// The PNG to write (for 2-D models: a CSV of points, at this path with extension .csv).
    #[arg(long, default_value = "samples.png")]
    out: PathBuf,
    /// Seed for the noise (image-to-image tasks: for the holes).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Image-to-image tasks: the data directory the real images come from (default: the
    /// run's data.dir, then $AGON_DATA_DIR, then the data/ of the checkout this runs in).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Options of `agon interpolate`.
#[derive(Args, Debug)]
pub struct InterpolateArgs {
    /// A training checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Rows (independent walks).
    #[arg(long, default_value_t = 4)]
    rows: usize,
    /// Images per row, from one endpoint to the other.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// How the noise moves between the ends: slerp (along the sphere the noise lives on)
    /// or linear (the straight line, which passes inside it).
    #[arg(long, default_value = "slerp")]
    mode: Walk,
    /// Conditional models: walk from this class to --to-class with each row's noise held
    /// fixed (a class-to-class walk through the label embedding).
    #[arg(long, requires = "to_class")]
    from_class: Option<usize>,
    /// The class a class-to-class walk ends at.
    #[arg(long, requires = "from_class")]
    to_class: Option<usize>,
    /// Conditional models, noise walks: keep every row in this class (default: row r
    /// keeps class r mod classes).
    #[arg(long, conflicts_with = "from_class")]
    class: Option<usize>,
    /// The PNG to write.
    #[arg(long, default_value = "interpolation.png")]
    out: PathBuf,
    /// Seed for the endpoints.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Labels for a conditional generator: `class` for all, or cycling through the classes.
fn labels_for(
    classes: Option<usize>,
    class: Option<usize>,
    n: usize,
) -> Result<Option<Indices>, String> {
    match (classes, class) {
        (None, Some(_)) => Err("--class given, but this generator is not conditional".into()),
        (Some(k), Some(c)) if c >= k => Err(format!(
            "--class {c} is out of range: the model has {k} classes (0..{})",
            k - 1
        )),
        (Some(_), Some(c)) => Ok(Some(Indices::from_vec(vec![c; n], &[n]))),
        (Some(k), None) => Ok(Some(Indices::from_vec(
            (0..n).map(|i| i % k).collect(),
            &[n],
        ))),
        (None, None) => Ok(None),
    }
}

pub fn run(a: SampleArgs) -> Result<(), Box<dyn std::error::Error>> {
    if !(1..=MAX_SAMPLES).contains(&a.n) {
        return Err(format!("--n {} must be in 1..={MAX_SAMPLES}", a.n).into());
    }
    let (task, cfg) = load_task(&a.checkpoint)?;
    if let Some(i2i) = task.image_to_image() {
        return sample_translation(&a, i2i, cfg);
    }
    let g = task
        .sampling_generator()
        .ok_or("this checkpoint's task has no noise generator")?;
    let labels = labels_for(g.num_classes(), a.class, a.n)?;
    let mut rng = StdRng::seed_from_u64(a.seed);
    let z = NdArray::rand_normal(&[a.n, g.latent_dim()], 0.0, 1.0, &mut rng);
    let samples = sample_from(g, &z, labels.as_ref());
    if samples.ndim() == 2 {
        // Points (the 2-D mixtures): one row per sample, comma-separated.
        let d = samples.shape()[1];
        let text: String = samples
            .to_vec()
            .chunks(d)
            .map(|row| row.iter().map(f32::to_string).collect::<Vec<_>>().join(",") + "\n")
            .collect();
        // Points are CSV, whatever name the default (or a user) gave the image file.
        let out = if a.out.extension().is_some_and(|e| e == "csv") {
            a.out.clone()
        } else {
            a.out.with_extension("csv")
        };
        crate::data::write_atomic(&out, text.as_bytes())?;
        say!(
            "wrote {} points (CSV, one per line) to {}{}",
            a.n,
            out.display(),
            if out != a.out {
                " (a 2-D model's samples are points, not an image)"
            } else {
                ""
            }
        );
        return Ok(());
    }
    let nrow = (a.n as f64).sqrt().ceil() as usize;
    crate::data::save_grid(&samples, nrow, 2, &a.out)?;
    say!("wrote {} samples to {}", a.n, a.out.display());
    Ok(())
}

/// An image-to-image model's grid: (input, output, real image) triplets for `--n` real
/// images (held out from training when the run used `data.limit`).
fn sample_translation(
    a: &SampleArgs,
    task: &dyn ImageToImage,
    mut cfg: TrainConfig,
) -> Result<(), Box<dyn std::error::Error>> {
    if a.class.is_some() {
        return Err(format!(
            "--class is for conditional generators, not task = \"{}\"",
            cfg.task
        )
        .into());
    }
    if let Some(dir) = &a.data_dir {
        cfg.data.dir = dir.display().to_string();
    }
    let (real, held_out) = match task.domains() {
        // Unpaired: domain A's images, which G translates to B and back.
        Some((domain_a, _)) => {
            let (all, held_out) = held_out_samples(&cfg, usize::MAX)?;
            let mut picked = crate::gan::tasks::rows_in(all.labels().unwrap_or(&[]), domain_a);
            picked.truncate(a.n);
            (all.subset(&picked), held_out)
        }
        None => held_out_samples(&cfg, a.n)?,
    };
    let mut rng = StdRng::seed_from_u64(a.seed);
    let input = task.prepare(real.images(), None, &mut rng);
    let (grid, nrow) = crate::gan::tasks::triplet_grid(task, real.images(), &input);
    crate::data::save_grid(&grid, nrow, 2, &a.out)?;
    say!(
        "wrote {} (input | output | {}) triplets of {} {} images to {}",
        real.len(),
        if task.domains().is_some() {
            "translated back"
        } else {
            "real"
        },
        if held_out { "held-out" } else { "training" },
        cfg.data.name,
        a.out.display()
    );
    Ok(())
}

pub fn interpolate(a: InterpolateArgs) -> Result<(), Box<dyn std::error::Error>> {
    if a.rows == 0 || a.steps < 2 || a.rows.saturating_mul(a.steps) > MAX_SAMPLES {
        return Err(format!(
            "--rows must be at least 1 and --steps at least 2, with at most {MAX_SAMPLES} \
             images in all (got {} x {})",
            a.rows, a.steps
        )
        .into());
    }
    let (g, _) = crate::gan::trainer::load_generator(&a.checkpoint)?;
    let dim = g.latent_dim();
    let n = a.rows * a.steps;
    let mut rng = StdRng::seed_from_u64(a.seed);
    let images = match (a.from_class, a.to_class) {
        (Some(from), Some(to)) => {
            let k = g.num_classes().ok_or(
                "--from-class/--to-class walk between classes, but this generator is not \
                 conditional",
            )?;
            for (flag, c) in [("--from-class", from), ("--to-class", to)] {
                if c >= k {
                    return Err(format!(
                        "{flag} {c} is out of range: the model has {k} classes (0..{})",
                        k - 1
                    )
                    .into());
                }
            }
            // One noise vector per row, repeated along it; the class weights slide from
            // one-hot `from` to one-hot `to`.
            let row_z = NdArray::rand_normal(&[a.rows, dim], 0.0, 1.0, &mut rng).to_vec();
            let z: Vec<f32> = row_z
                .chunks(dim)
                .flat_map(|zr| std::iter::repeat_n(zr, a.steps).flatten().copied())
                .collect();
            let mut mix = vec![0.0f32; n * k];
            for (i, row) in mix.chunks_mut(k).enumerate() {
                let t = (i % a.steps) as f32 / (a.steps - 1) as f32;
                row[from] += 1.0 - t;
                row[to] += t;
            }
            let (z, mix) = (
                NdArray::from_vec(z, &[n, dim])?,
                NdArray::from_vec(mix, &[n, k])?,
            );
            g.eval();
            let out = crate::autodiff::no_grad(|| {
                g.generate_blended(&crate::autodiff::Tensor::constant(z), &mix)
            });
            g.train();
            out.ok_or("this generator takes labels in a way that cannot be blended")?
                .data()
                .clone()
        }
        _ => {
            let ends = NdArray::rand_normal(&[a.rows, 2, dim], 0.0, 1.0, &mut rng).to_vec();
            let z: Vec<f32> = ends
                .chunks(2 * dim)
                .flat_map(|e| walk(&e[..dim], &e[dim..], a.steps, a.mode))
                .collect();
            let z = NdArray::from_vec(z, &[n, dim])?;
            // Each row keeps one class for conditional models.
            let labels = match (g.num_classes(), a.class) {
                (_, Some(c)) => labels_for(g.num_classes(), Some(c), n)?,
                (Some(k), None) => Some(Indices::from_vec(
                    (0..n).map(|i| (i / a.steps) % k).collect(),
                    &[n],
                )),
                (None, None) => None,
            };
            sample_from(g.as_ref(), &z, labels.as_ref())
        }
    };
    if images.ndim() != 4 {
        return Err(format!(
            "{}: the generator makes points of shape {:?}, not images; a latent walk is drawn \
             as an image grid (use agon sample for a CSV of points)",
            a.checkpoint.display(),
            &images.shape()[1..]
        )
        .into());
    }
    crate::data::save_grid(&images, a.steps, 2, &a.out)?;
    let what = match (a.from_class, a.to_class) {
        (Some(f), Some(t)) => format!("class {f} -> class {t} walk"),
        _ => format!("{} latent walk", a.mode),
    };
    say!(
        "wrote a {}x{} {what} to {}",
        a.rows,
        a.steps,
        a.out.display()
    );
    Ok(())
}
