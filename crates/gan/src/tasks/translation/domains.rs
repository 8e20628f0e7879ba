//! `cyclegan`'s two domains: class names or indices of a labelled dataset (`translate.a`,
//! `translate.b`) resolved to indices once the data is loaded, and the data cut down to them.
//! Or two image folders (`translate.a_dir`, `translate.b_dir`): their union is the data,
//! classes 0 and 1 named after the folders (`trainer::load_run_data` reads it).

use std::path::{Path, PathBuf};

use agon_data::Dataset;
use agon_tensor::NdArray;

use crate::trainer::{ConfigError, DataConfig, TaskKind, TrainConfig, TranslateConfig};

/// `cyclegan`'s domains when `translate.a` and `translate.b` are left empty and no folders
/// are given: Fashion-MNIST's sneakers and ankle boots.
const DEFAULT_DOMAINS: [&str; 2] = ["sneaker", "ankle boot"];

impl TranslateConfig {
    /// The two image folders ([`a_dir`](Self::a_dir), [`b_dir`](Self::b_dir)) when both
    /// are given, each with the class name its images get: the folder's own name, or the
    /// path as given when the two names would not tell the domains apart.
    ///
    /// ```
    /// use agon_gan::trainer::TranslateConfig;
    /// let t = TranslateConfig { a_dir: "photos/horses/".into(), b_dir: "zebras".into(), ..Default::default() };
    /// let [(a, a_name), (_, b_name)] = t.domain_folders().unwrap();
    /// assert_eq!((a.to_str().unwrap(), a_name.as_str(), b_name.as_str()), ("photos/horses/", "horses", "zebras"));
    /// let same = TranslateConfig { a_dir: "x/images".into(), b_dir: "y/images".into(), ..t };
    /// assert_eq!(same.domain_folders().unwrap()[1].1, "y/images");
    /// ```
    pub fn domain_folders(&self) -> Option<[(PathBuf, String); 2]> {
        if self.a_dir.is_empty() || self.b_dir.is_empty() {
            return None;
        }
        let own = |dir: &str| {
            Path::new(dir)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| !normalise(n).is_empty())
        };
        let [a, b] = match (own(&self.a_dir), own(&self.b_dir)) {
            (Some(a), Some(b)) if normalise(&a) != normalise(&b) => [a, b],
            _ => [self.a_dir.clone(), self.b_dir.clone()],
        };
        Some([
            (self.a_dir.clone().into(), a),
            (self.b_dir.clone().into(), b),
        ])
    }

    /// What a run on two folders calls its data (its `data.name`): `"<a_dir> + <b_dir>"`.
    pub fn folders_data_name(&self) -> Option<String> {
        self.domain_folders()
            .map(|_| format!("{} + {}", self.a_dir, self.b_dir))
    }
}

/// The checks of `translate.a_dir` and `translate.b_dir` that need no files: only for
/// `cyclegan`, both or neither, not beside a `data.name` of their own, and `translate.a` /
/// `translate.b`, when given, naming the folders' domains.
pub(crate) fn check_domain_folders(cfg: &TrainConfig) -> Result<(), String> {
    let t = &cfg.translate;
    let dirs = [("translate.a_dir", &t.a_dir), ("translate.b_dir", &t.b_dir)];
    if cfg.task != TaskKind::Cyclegan {
        return match dirs.iter().find(|(_, d)| !d.is_empty()) {
            Some((key, dir)) => Err(format!(
                "{key} = {dir:?}: only task = \"cyclegan\" takes two image folders (this \
                 run's task is \"{}\"); remove it",
                cfg.task
            )),
            None => Ok(()),
        };
    }
    let Some(folders) = t.domain_folders() else {
        return match dirs.iter().position(|(_, d)| !d.is_empty()) {
            Some(i) => Err(format!(
                "{} = {:?} is given without {}: give both image folders (domain A's and \
                 domain B's), or neither",
                dirs[i].0,
                dirs[i].1,
                dirs[1 - i].0
            )),
            None => Ok(()),
        };
    };
    let own_name = t.folders_data_name().unwrap_or_default();
    if cfg.data.name != DataConfig::default().name && cfg.data.name != own_name {
        return Err(format!(
            "data.name = {:?} is not used with translate.a_dir and translate.b_dir (the two \
             folders are the data); remove it",
            cfg.data.name
        ));
    }
    let names = [folders[0].1.clone(), folders[1].1.clone()];
    for (i, (key, spec)) in [("translate.a", &t.a), ("translate.b", &t.b)]
        .into_iter()
        .enumerate()
    {
        if spec.trim().is_empty() {
            continue;
        }
        if parse_domain(key, spec, Some(&names), 2).is_ok_and(|c| c == [i]) {
            continue;
        }
        let (dir_key, dir) = dirs[i];
        return Err(format!(
            "{key} = {spec:?} contradicts {dir_key} = {dir:?}: with two folders domain {} is \
             that folder's images (class {i}, {:?}); leave {key} out",
            ["A", "B"][i],
            names[i]
        ));
    }
    Ok(())
}

/// Fills what a `cyclegan` configuration leaves empty: the domains (the two folders'
/// classes 0 and 1, else [`DEFAULT_DOMAINS`]) and, on two folders, `data.name`.
pub(crate) fn fill_default_domains(cfg: &mut TrainConfig) {
    let t = &mut cfg.translate;
    let defaults = match t.folders_data_name() {
        Some(name) => {
            cfg.data.name = name;
            ["0", "1"]
        }
        None => DEFAULT_DOMAINS,
    };
    for (spec, default) in [&mut t.a, &mut t.b].into_iter().zip(defaults) {
        if spec.trim().is_empty() {
            *spec = default.to_string();
        }
    }
}

/// Lower-case letters and digits only: how class names are compared.
fn normalise(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The class indices a domain `spec` names (a comma list of indices or class names) among
/// `classes` classes called `names`.
///
/// ```
/// use agon_gan::tasks::parse_domain;
/// let names = ["T-shirt/top".to_string(), "Trouser".into(), "Ankle boot".into()];
/// assert_eq!(parse_domain("translate.a", "ankle-boot, 1", Some(&names), 3).unwrap(), [2, 1]);
/// assert_eq!(parse_domain("translate.b", "top", Some(&names), 3).unwrap(), [0]);
/// assert!(parse_domain("translate.b", "sandal", Some(&names), 3).is_err());
/// ```
///
/// # Errors
/// An empty list, an index out of range, or a name no class has (the message lists them).
pub fn parse_domain(
    key: &str,
    spec: &str,
    names: Option<&[String]>,
    classes: usize,
) -> Result<Vec<usize>, String> {
    let mut out = vec![];
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let index = match item.parse::<usize>() {
            Ok(i) if i < classes => i,
            Ok(i) => {
                return Err(format!(
                    "{key}: class {i} does not exist (the data has {classes} classes)"
                ))
            }
            Err(_) => {
                let wanted = normalise(item);
                let found = names.and_then(|names| {
                    names.iter().position(|n| {
                        normalise(n) == wanted || n.split('/').any(|p| normalise(p) == wanted)
                    })
                });
                match (found, names) {
                    (Some(i), _) => i,
                    (None, Some(names)) => {
                        return Err(format!(
                            "{key}: no class is called {item:?}; the classes are {}",
                            names.join(", ")
                        ))
                    }
                    (None, None) => {
                        return Err(format!(
                            "{key}: {item:?} is not a class index, and the data has no class names"
                        ))
                    }
                }
            }
        };
        if !out.contains(&index) {
            out.push(index);
        }
    }
    if out.is_empty() {
        return Err(format!("{key} names no class"));
    }
    Ok(out)
}

pub(super) fn config_error(message: String) -> ConfigError {
    ConfigError {
        source: "configuration".into(),
        message,
    }
}

/// Rewrites `translate.a` and `translate.b` of a `cyclegan` configuration as the class
/// indices they name in `data`, so that the saved configuration rebuilds the task without
/// the data (`agon apply`), and returns the note the run prints.
///
/// # Errors
/// Unlabelled data, a name no class has, or domains that share a class.
pub fn resolve_domains(cfg: &mut TrainConfig, data: &Dataset) -> Result<String, ConfigError> {
    let Some(classes) = data.num_classes() else {
        return Err(config_error(format!(
            "task = \"cyclegan\" needs labelled data to split into domains, but {} has no \
             labels (a folder with one subfolder per domain is labelled)",
            cfg.data.name
        )));
    };
    let names = data.class_names();
    let a = parse_domain("translate.a", &cfg.translate.a, names, classes).map_err(config_error)?;
    let b = parse_domain("translate.b", &cfg.translate.b, names, classes).map_err(config_error)?;
    if let Some(shared) = a.iter().find(|c| b.contains(c)) {
        return Err(config_error(format!(
            "translate.a and translate.b share class {shared}: the domains must be disjoint"
        )));
    }
    let list = |v: &[usize]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let describe = |v: &[usize]| {
        v.iter()
            .map(|&i| match names {
                Some(n) => format!("{} ({i})", n[i]),
                None => format!("class {i}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    cfg.translate.a = list(&a);
    cfg.translate.b = list(&b);
    Ok(format!(
        "domain A: {}; domain B: {}",
        describe(&a),
        describe(&b)
    ))
}

/// The images of `data` in either domain of `cfg` (resolved by [`resolve_domains`]), in
/// their order.
///
/// # Errors
/// Domains that are not (resolved) class indices of `data`, or unlabelled data.
pub fn select_domains(cfg: &TrainConfig, data: &Dataset) -> Result<Dataset, ConfigError> {
    let (a, b) = domains(&cfg.translate, data.num_classes().unwrap_or(0))?;
    let labels = data.labels().ok_or_else(|| {
        config_error(format!(
            "task = \"cyclegan\" needs labelled data; {} has no labels",
            cfg.data.name
        ))
    })?;
    Ok(data.subset(&rows_in(labels, &[a, b].concat())))
}

/// The positions of the `labels` that are among `classes`, in order.
///
/// ```
/// assert_eq!(agon_gan::tasks::rows_in(&[7, 9, 1, 7], &[7]), [0, 3]);
/// ```
pub fn rows_in(labels: &[usize], classes: &[usize]) -> Vec<usize> {
    (0..labels.len())
        .filter(|&i| classes.contains(&labels[i]))
        .collect()
}

/// The rows `rows` of `images` `[N, ...]`, stacked in that order.
pub(super) fn pick_rows(images: &NdArray, rows: &[usize]) -> NdArray {
    let parts: Vec<NdArray> = rows.iter().map(|&i| images.narrow(0, i, 1)).collect();
    NdArray::concat(&parts.iter().collect::<Vec<_>>(), 0)
}

/// Domains A and B of resolved settings, as class indices below `classes`.
pub(super) fn domains(
    t: &TranslateConfig,
    classes: usize,
) -> Result<(Vec<usize>, Vec<usize>), ConfigError> {
    let a = parse_domain("translate.a", &t.a, None, classes).map_err(config_error)?;
    let b = parse_domain("translate.b", &t.b, None, classes).map_err(config_error)?;
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_parsed_by_index_and_by_forgiving_name() {
        let names: Vec<String> = ["T-shirt/top", "Trouser", "Ankle boot"]
            .map(String::from)
            .to_vec();
        let p = |s: &str| parse_domain("translate.a", s, Some(&names), 3);
        assert_eq!(p("ankle-boot").unwrap(), [2]);
        assert_eq!(p("t-shirt, 1").unwrap(), [0, 1]);
        assert_eq!(p("TOP,t-shirt").unwrap(), [0]);
        assert!(p("sandal").unwrap_err().contains("Trouser"));
        assert!(p("3").unwrap_err().contains("3 classes"));
        assert!(p(" , ").unwrap_err().contains("names no class"));
    }
}
