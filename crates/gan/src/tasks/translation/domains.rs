//! `cyclegan`'s two domains: class names or indices of a labelled dataset (`translate.a`,
//! `translate.b`) resolved to indices once the data is loaded, and the data cut down to them.

use agon_data::Dataset;
use agon_tensor::NdArray;

use crate::trainer::{ConfigError, TrainConfig, TranslateConfig};

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
