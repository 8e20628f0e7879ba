//! Parsing safetensors bytes defensively, and applying tensors to modules and optimisers.
//!
//! Hostile files are expected. Every size is bounded by the bytes actually present: the
//! header length must fit in the file, the safetensors parser checks that the offsets tile
//! the data exactly, and each tensor's byte length is checked against `numel * dtype size`
//! (with checked arithmetic) before anything is converted. Memory used is therefore a small
//! multiple of the file size, whatever the header claims.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use agon_tensor::NdArray;
use safetensors::SafeTensors;

use super::dtype::{is_integer, to_f32};
use super::{CheckpointError, Entry, Value};
use crate::module::Module;
use crate::optim::Optimizer;
use crate::param::{Buffer, BufferKind, Param};

/// Bytes of the little-endian header-length field that starts every safetensors file.
const LEN_FIELD: usize = 8;

/// Largest integer accepted anywhere in a header (2^48 = 256 TiB). Offsets cannot exceed
/// the file size and dimensions cannot exceed the element count (unless it is zero), so
/// legitimate files stay far below; the bound keeps every offset sum the parser computes
/// far from overflow (the safetensors crate adds offsets unchecked, which panics in debug
/// builds on a crafted header whose offsets add up to nearly 2^64).
const MAX_HEADER_INT: u64 = 1 << 48;

/// What a file holds: its tensors by name, and its metadata.
pub(crate) type Parsed = (BTreeMap<String, Entry>, BTreeMap<String, String>);

/// Tensors and metadata parsed from safetensors `bytes`; `path` names the file in errors.
pub(crate) fn parse(bytes: &[u8], path: &Path) -> Result<Parsed, CheckpointError> {
    let bad = |reason: String| CheckpointError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    let len = bytes.len();
    let Some(field) = bytes.get(..LEN_FIELD) else {
        return Err(bad(format!(
            "the file is {len} bytes, too short for the 8-byte header length"
        )));
    };
    let mut n = [0u8; LEN_FIELD];
    n.copy_from_slice(field);
    let header_len = u64::from_le_bytes(n);
    let room = (len - LEN_FIELD) as u64;
    if header_len > room {
        return Err(bad(format!(
            "the header length field says {header_len} bytes but only {room} follow it \
             (truncated file or corrupt length)"
        )));
    }
    // header_len <= room < usize::MAX, so the conversion and the addition are exact.
    let header_end = LEN_FIELD + header_len as usize;
    check_header_integers(&bytes[LEN_FIELD..header_end]).map_err(&bad)?;

    let (n, meta) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
    let data = bytes
        .get(LEN_FIELD.saturating_add(n)..)
        .ok_or_else(|| bad("the header runs past the end of the file".into()))?;

    let mut entries = BTreeMap::new();
    for name in meta.offset_keys() {
        let Some(info) = meta.info(&name) else {
            continue;
        };
        let (start, end) = info.data_offsets;
        let raw = data.get(start..end).ok_or_else(|| {
            bad(format!(
                "tensor `{name}`: data offsets [{start}, {end}) lie outside the {} data bytes",
                data.len()
            ))
        })?;
        let shape = info.shape.clone();
        let numel = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad(format!("tensor `{name}`: shape {shape:?} overflows")))?;
        // Strides multiply the non-zero extents; they must fit too (a zero-size tensor can
        // still carry absurd extents).
        if shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d.max(1)))
            .is_none()
        {
            return Err(bad(format!(
                "tensor `{name}`: shape {shape:?} is too large to address"
            )));
        }
        let bits = numel.checked_mul(info.dtype.bitsize());
        if bits.is_none_or(|b| b % 8 != 0 || b / 8 != raw.len()) {
            return Err(bad(format!(
                "tensor `{name}`: {} bytes do not hold shape {shape:?} of dtype {}",
                raw.len(),
                info.dtype
            )));
        }
        let value = match to_f32(info.dtype, raw) {
            Some(v) => Value::Float(
                NdArray::from_vec(v, &shape).map_err(|e| bad(format!("tensor `{name}`: {e}")))?,
            ),
            None => Value::Raw(raw.to_vec()),
        };
        entries.insert(
            name,
            Entry {
                dtype: info.dtype,
                shape,
                value,
            },
        );
    }
    let metadata = meta
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok((entries, metadata))
}

/// Refuses headers holding an integer literal (outside JSON strings) above
/// [`MAX_HEADER_INT`]. Lexes JSON strings as JSON does (a `"` opens and closes, `\` escapes
/// the next byte), so for any header the JSON parser would accept, this sees exactly its
/// numbers; for anything else the parser reports the error.
fn check_header_integers(header: &[u8]) -> Result<(), String> {
    let mut i = 0;
    while i < header.len() {
        match header[i] {
            b'"' => {
                i += 1;
                while i < header.len() && header[i] != b'"' {
                    i += if header[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'0'..=b'9' => {
                let start = i;
                let mut value: u64 = 0;
                while i < header.len() && header[i].is_ascii_digit() {
                    value = value
                        .saturating_mul(10)
                        .saturating_add(u64::from(header[i] - b'0'));
                    i += 1;
                }
                if value > MAX_HEADER_INT {
                    let shown = String::from_utf8_lossy(&header[start..i.min(start + 40)]);
                    return Err(format!(
                        "the header holds the number {shown}, beyond any offset or extent \
                         a checkpoint can have (at most 2^48)"
                    ));
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// The full name of `local` under `prefix` (`"prefix.local"`, or `local` for `""`).
pub(crate) fn join(prefix: &str, local: &str) -> String {
    if prefix.is_empty() {
        local.to_string()
    } else {
        format!("{prefix}.{local}")
    }
}

/// True when `name` lies under `prefix` (everything lies under `""`).
fn under(prefix: &str, name: &str) -> bool {
    prefix.is_empty()
        || name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

enum Target {
    Param(Param),
    Buffer(Buffer),
}

/// Strict load of the tensors under `prefix` into `module`: every name present, nothing
/// extra, shapes and dtypes right. Everything is checked before the first value is set, so
/// an error leaves the module untouched.
pub(crate) fn apply_module(
    entries: &BTreeMap<String, Entry>,
    path: &Path,
    prefix: &str,
    module: &dyn Module,
) -> Result<(), CheckpointError> {
    let mut targets: Vec<(String, Target)> = module
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (join(prefix, &n), Target::Param(p)))
        .collect();
    targets.extend(
        module
            .named_buffers()
            .into_iter()
            .map(|(n, b)| (join(prefix, &n), Target::Buffer(b))),
    );

    let wanted: BTreeSet<&str> = targets.iter().map(|(n, _)| n.as_str()).collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|n| !entries.contains_key(**n))
        .map(|n| n.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(CheckpointError::MissingTensors {
            path: path.to_path_buf(),
            names: missing,
        });
    }
    let unexpected: Vec<String> = entries
        .keys()
        .filter(|n| under(prefix, n) && !wanted.contains(n.as_str()))
        .cloned()
        .collect();
    if !unexpected.is_empty() {
        return Err(CheckpointError::UnexpectedTensors {
            path: path.to_path_buf(),
            names: unexpected,
        });
    }

    let mut updates = Vec::with_capacity(targets.len());
    for (name, target) in &targets {
        let entry = &entries[name];
        let (expected, counter) = match target {
            Target::Param(p) => (p.shape(), false),
            Target::Buffer(b) => (b.shape(), b.kind() == BufferKind::Count),
        };
        let array = match &entry.value {
            Value::Float(a) if counter || !is_integer(entry.dtype) => a,
            _ => {
                return Err(CheckpointError::UnsupportedDtype {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    dtype: entry.dtype.to_string(),
                })
            }
        };
        if array.shape() != expected.as_slice() {
            return Err(CheckpointError::ShapeMismatch {
                path: path.to_path_buf(),
                name: name.clone(),
                expected,
                found: array.shape().to_vec(),
            });
        }
        updates.push((target, array.clone()));
    }
    for (target, array) in updates {
        match target {
            Target::Param(p) => p.set(array),
            Target::Buffer(b) => b.set(array),
        }
    }
    Ok(())
}

/// Hands the tensors under `prefix` (names stripped of it) to `opt.load_state_dict`.
pub(crate) fn apply_optimizer(
    entries: &BTreeMap<String, Entry>,
    path: &Path,
    prefix: &str,
    opt: &mut dyn Optimizer,
) -> Result<(), CheckpointError> {
    let mut state = vec![];
    for (name, entry) in entries.iter().filter(|(n, _)| under(prefix, n)) {
        let local = if prefix.is_empty() {
            name.as_str()
        } else {
            &name[prefix.len() + 1..]
        };
        match &entry.value {
            Value::Float(a) => state.push((local.to_string(), a.clone())),
            Value::Raw(_) => {
                return Err(CheckpointError::UnsupportedDtype {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    dtype: entry.dtype.to_string(),
                })
            }
        }
    }
    opt.load_state_dict(&state)
        .map_err(|source| CheckpointError::Optimizer {
            path: path.to_path_buf(),
            prefix: prefix.to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_integers_outside_strings_are_bounded() {
        assert!(check_header_integers(br#"{"a":{"shape":[2,3],"data_offsets":[0,24]}}"#).is_ok());
        assert!(check_header_integers(br#"{"__metadata__":{"k":"99999999999999999999"}}"#).is_ok());
        assert!(check_header_integers(br#"{"a\"1":{"shape":[281474976710656]}}"#).is_ok());
        assert!(check_header_integers(br#"{"a":{"shape":[281474976710657]}}"#).is_err());
        assert!(
            check_header_integers(br#"{"a\\":{"data_offsets":[0,99999999999999999999999]}}"#)
                .is_err()
        );
        assert!(check_header_integers(b"\"unterminated \\").is_ok());
    }

    #[test]
    fn prefixes_match_whole_components() {
        assert!(under("g", "g.weight"));
        assert!(!under("g", "gen.weight"));
        assert!(!under("g", "g"));
        assert!(under("", "anything"));
        assert_eq!(join("", "w"), "w");
        assert_eq!(join("d", "0.w"), "d.0.w");
    }
}
