//! `agon neighbours`: samples beside their nearest training images, the memorisation
//! figure, and retrieval of the dataset images nearest a query image.

use std::path::PathBuf;

use crate::data::{load_image, save_grid, Dataset};
use crate::gan::applications::{
    memorisation_in, nearest_images, neighbour_rows, sample_rng, FeatureNets, Space,
};
use crate::gan::trainer::{
    draw_samples, load_dataset, load_networks, matching_classifier, DataConfig, TrainConfig,
};
use crate::metrics::{Memorisation, Neighbour};
use clap::Args;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Options of `agon neighbours`.
#[derive(Args, Debug)]
pub struct NeighboursArgs {
    /// A training checkpoint: its samples are searched for in the data it trained on (and
    /// its discriminator's features are a third space, where it exposes them).
    #[arg(long, required_unless_present = "query")]
    checkpoint: Option<PathBuf>,
    /// Instead of samples: find the dataset images nearest this image (PNG or JPEG).
    #[arg(long, value_name = "FILE")]
    query: Option<PathBuf>,
    /// With --query and no --checkpoint: the dataset to search (fashion-mnist, mnist,
    /// cifar10, an IDX directory or an image folder).
    #[arg(long, value_name = "DATA", default_value = "fashion-mnist")]
    data: String,
    /// Samples shown in the grid, one row each.
    #[arg(long, default_value_t = 16)]
    n: usize,
    /// Neighbours per sample and space.
    #[arg(long, default_value_t = 4)]
    k: usize,
    /// Samples the memorisation figure is computed over (0: skip it).
    #[arg(long, default_value_t = 1000)]
    score_n: usize,
    /// Training images whose nearest-neighbour distance sets "typical".
    #[arg(long, default_value_t = 1000)]
    reference: usize,
    /// The grid to write: each row a sample (or the query), then its k nearest training
    /// images in pixel space, then in the classifier's feature space, then in the
    /// discriminator's (with --checkpoint).
    #[arg(long, default_value = "neighbours.png")]
    out: PathBuf,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Seed for the samples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The data directory (shipped datasets, classifiers); default: the run's data.dir,
    /// then $AGON_DATA_DIR, then the data/ of the checkout this runs in.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

pub fn run(a: NeighboursArgs) -> Res<()> {
    if !(1..=1000).contains(&a.n) || !(1..=64).contains(&a.k) || a.score_n > 100_000 {
        return Err(format!(
            "--n must be in 1..=1000, --k in 1..=64 and --score-n at most 100000 (got {}, {}, \
             {})",
            a.n, a.k, a.score_n
        )
        .into());
    }
    if a.reference == 0 {
        return Err("--reference must be at least 1".into());
    }
    // The checkpoint's sampling generator (its EMA copy when kept) and its discriminator,
    // read once.
    let (networks, mut cfg) = match &a.checkpoint {
        Some(c) => {
            let ((g, d, ema), cfg) = load_networks(c)?;
            (Some((ema.unwrap_or(g), d)), cfg)
        }
        None => {
            let cfg = TrainConfig {
                data: DataConfig {
                    name: a.data.clone(),
                    ..DataConfig::default()
                },
                ..TrainConfig::default()
            };
            (None, cfg)
        }
    };
    if let Some(dir) = &a.data_dir {
        cfg.data.dir = dir.display().to_string();
    }
    let loaded = load_dataset(&cfg.data, cfg.seed)?;
    for note in &loaded.notes {
        say!("note: {note}");
    }
    let train = loaded.dataset;
    let shape = train.image_shape().to_vec();
    if shape.len() != 3 {
        return Err(format!(
            "{}: samples of shape {shape:?} are points, not images",
            cfg.data.name
        )
        .into());
    }
    if a.k > train.len() {
        return Err(format!(
            "--k {} is more than the {} training images",
            a.k,
            train.len()
        )
        .into());
    }
    let classifier = match matching_classifier(&cfg, None, &shape) {
        Ok((c, _)) => Some(c),
        Err(e) => {
            say!("note: pixel space only: {e}");
            None
        }
    };
    let generator = networks.as_ref().map(|(g, _)| g.as_ref());
    let queries = match (&a.query, generator) {
        (Some(q), _) => load_image(q, shape[0], Some([shape[1], shape[2]]))?,
        (None, Some(g)) => draw_samples(g, a.n, &mut sample_rng(a.seed, 0)),
        (None, None) => unreachable!("clap requires --checkpoint without --query"),
    };
    let nets = FeatureNets {
        classifier: classifier.as_ref(),
        discriminator: networks.as_ref().map(|(_, d)| d.as_ref()),
    };
    grid(&a, &queries, &train, nets)?;
    let mut doc = serde_json::json!({ "data": cfg.data.name, "training_images": train.len() });
    if a.query.is_none() && a.score_n > 0 {
        let g = generator.expect("a checkpoint without --query");
        let samples = draw_samples(g, a.score_n, &mut sample_rng(a.seed, 1));
        for space in [Space::Pixels, Space::Features, Space::Discriminator] {
            let Some(m) = memorisation_in(space, &samples, train.images(), a.reference, nets)
            else {
                continue;
            };
            report(space, &m)?;
            doc[space.name()] = serde_json::json!({
                "share_closer_than_median_real_pair": m.share_closer,
                "median_real_to_real_distance": m.threshold,
                "median_sample_to_train_distance": m.sample_median,
                "share_near_copies": m.share_near_copies,
                "samples": m.samples,
                "reference_rows": m.reference_rows,
            });
        }
    }
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&doc)? + "\n";
        crate::data::write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}

/// The grid: each query, its k nearest training images by pixels, then by the classifier's
/// features, then by the discriminator's (the spaces `nets` can embed in).
fn grid(
    a: &NeighboursArgs,
    queries: &crate::tensor::NdArray,
    train: &Dataset,
    nets: FeatureNets<'_>,
) -> Res<()> {
    let found: Vec<(Space, Vec<Vec<Neighbour>>)> =
        [Space::Pixels, Space::Features, Space::Discriminator]
            .into_iter()
            .filter_map(|space| {
                nearest_images(queries, train.images(), a.k, space, nets).map(|nn| (space, nn))
            })
            .collect();
    let spaces: Vec<&Vec<Vec<Neighbour>>> = found.iter().map(|(_, nn)| nn).collect();
    let rows = neighbour_rows(queries, train.images(), &spaces);
    save_grid(&rows, 1 + a.k * spaces.len(), 2, &a.out)?;
    let what = if a.query.is_some() { "query" } else { "sample" };
    let by: Vec<&str> = found
        .iter()
        .map(|(space, _)| match space {
            Space::Pixels => "by pixels",
            Space::Features => "by classifier features",
            Space::Discriminator => "by discriminator features",
        })
        .collect();
    say!(
        "wrote {}: each row a {what}, then its {} nearest of {} training images {}",
        a.out.display(),
        a.k,
        train.len(),
        by.join(", then ")
    );
    if a.query.is_some() {
        out!("space\trank\tindex\tdistance");
        for (space, nn) in &found {
            for (rank, nb) in nn[0].iter().enumerate() {
                out!(
                    "{}\t{}\t{}\t{:.4}",
                    space.name(),
                    rank + 1,
                    nb.index,
                    nb.sq_distance.sqrt()
                );
            }
        }
    }
    Ok(())
}

fn report(space: Space, m: &Memorisation) -> Res<()> {
    out!(
        "{}: {:.1}% of {} samples are nearer a training image than the median real-to-real \
         nearest-neighbour distance ({:.3}; half of real images are, by construction); \
         median sample distance {:.3}; near-copies (under the closest 1% of real pairs): \
         {:.1}%",
        space.name(),
        100.0 * m.share_closer,
        m.samples,
        m.threshold,
        m.sample_median,
        100.0 * m.share_near_copies
    );
    Ok(())
}
