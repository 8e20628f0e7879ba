//! `agon apply`: runs a trained image-to-image model on a user's own images.

use std::path::{Path, PathBuf};

use crate::data::{image_files, load_image, save_png, sobel_edges};
use crate::gan::trainer::{load_task, ConfigChoice, TaskKind};
use crate::tensor::NdArray;
use clap::Args;

/// The most images one `agon apply` reads.
const MAX_FILES: usize = 10_000;
/// The largest input, in pixels, the models run on; bigger images are shrunk to fit (the
/// networks are fully convolutional, but their activations grow with the image: a U-Net of
/// width 32 holds about 100 floats per input pixel per level).
const MAX_INPUT_PIXELS: usize = 512 * 512;

/// Options of `agon apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// A training checkpoint of an image-to-image task (superres, inpaint, sketch2image,
    /// cyclegan: domain A to B).
    #[arg(long)]
    checkpoint: PathBuf,
    /// A PNG or JPEG, or a folder of them.
    #[arg(long)]
    input: PathBuf,
    /// The folder to write the outputs to (one PNG per input, same name).
    #[arg(long)]
    out: PathBuf,
    /// inpaint: the holes, white where the image is missing: one image (resized to each
    /// input) or a folder holding a mask of each input's name. Without it, the centre
    /// square of half the side is filled.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// sketch2image: the inputs are photos; take their Sobel edges first (as training did)
    /// instead of reading them as edge maps.
    #[arg(long)]
    from_photo: bool,
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub fn run(a: ApplyArgs) -> Res<()> {
    let (task, cfg) = load_task(&a.checkpoint)?;
    let Some(model) = task.image_to_image() else {
        return Err(format!(
            "{}: agon apply runs image-to-image models (task superres, inpaint, \
             sketch2image or cyclegan); this run's task is {} (use agon sample)",
            a.checkpoint.display(),
            task.name()
        )
        .into());
    };
    let kind = model.kind();
    if a.mask.is_some() && kind != TaskKind::Inpaint {
        return Err(format!("--mask is for task inpaint, not {}", kind.name()).into());
    }
    if a.from_photo && kind != TaskKind::Sketch2image {
        return Err(format!("--from-photo is for task sketch2image, not {}", kind.name()).into());
    }
    let files = image_files(&a.input)?;
    if files.len() > MAX_FILES {
        return Err(format!(
            "{}: {} images, more than the {MAX_FILES} one agon apply reads",
            a.input.display(),
            files.len()
        )
        .into());
    }
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    for file in &files {
        let (image, note) = read_input(file, model.channels())?;
        let image = if a.from_photo {
            sobel_edges(&image)
        } else {
            image
        };
        let mask = match kind {
            TaskKind::Inpaint => Some(mask_for(&a, file, &image)?),
            _ => None,
        };
        let input = model
            .prepare_user(&image, mask.as_ref())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let output = model.translate(&input);
        let name = file
            .file_stem()
            .map_or_else(|| "output".into(), |s| s.to_string_lossy().into_owned());
        let target = a.out.join(format!("{name}.png"));
        let s = output.shape();
        save_png(&output.reshape(&[s[1], s[2], s[3]]), &target)?;
        say!(
            "{} ({}x{}{}) -> {} ({}x{})",
            file.display(),
            image.shape()[3],
            image.shape()[2],
            note,
            target.display(),
            s[3],
            s[2]
        );
    }
    say!(
        "applied {} ({} task, trained on {}) to {} image(s)",
        a.checkpoint.display(),
        kind.name(),
        cfg.data.name,
        files.len()
    );
    Ok(())
}

/// The input image at the model's channel count, shrunk (aspect kept) when over
/// [`MAX_INPUT_PIXELS`], with a note saying so.
fn read_input(file: &Path, channels: usize) -> Res<(NdArray, String)> {
    let image = load_image(file, channels, None)?;
    let (h, w) = (image.shape()[2], image.shape()[3]);
    if h < 4 || w < 4 {
        return Err(format!(
            "{}: {w}x{h} pixels is too small; the models need at least 4x4",
            file.display()
        )
        .into());
    }
    if h * w <= MAX_INPUT_PIXELS {
        return Ok((image, String::new()));
    }
    let shrink = (MAX_INPUT_PIXELS as f64 / (h * w) as f64).sqrt();
    let size = [
        ((h as f64 * shrink) as usize).max(4),
        ((w as f64 * shrink) as usize).max(4),
    ];
    let note =
        format!(", resized from {w}x{h}: over the {MAX_INPUT_PIXELS} pixels agon apply runs on");
    Ok((load_image(file, channels, Some(size))?, note))
}

/// The inpainting mask for `file`: `--mask` (a file, or the same name in a folder) resized
/// to the image, 1 where it is brighter than mid-grey; without `--mask`, the centre
/// square.
fn mask_for(a: &ApplyArgs, file: &Path, image: &NdArray) -> Res<NdArray> {
    let (h, w) = (image.shape()[2], image.shape()[3]);
    let Some(mask) = &a.mask else {
        let mut rng = rand::rng();
        return Ok(crate::data::hole_masks(
            1,
            h,
            w,
            crate::data::HoleKind::Centre,
            &mut rng,
        ));
    };
    let path = if mask.is_dir() {
        mask.join(file.file_name().unwrap_or_default())
    } else {
        mask.clone()
    };
    let m = load_image(&path, 1, Some([h, w]))?;
    Ok(m.map(|v| if v > 0.0 { 1.0 } else { 0.0 }))
}
