//! The IDX file format: reading ([`read_idx`]) and writing ([`write_idx`]) arrays of
//! unsigned bytes, gzip-compressed or raw.
//!
//! # Format
//! An IDX file is a 4-byte magic number `00 00 TT NN` (`TT` the element type, `0x08` for
//! unsigned bytes, the only type these datasets use; `NN` the number of dims), then `NN`
//! big-endian `u32` extents, then the elements in row-major order. Images are
//! `idx3` (`[count, rows, cols]`), labels `idx1` (`[count]`). A file starting with the gzip
//! magic `1f 8b` is decompressed on the fly, whatever its name.
//!
//! # Hostile files
//! Only regular files are opened (a FIFO or device is refused before it can block). The
//! header is read on its own first ([`IdxHeader`]), so a caller can check what it claims
//! against its own budget before a byte of payload is allocated. The extents are multiplied
//! with overflow checks and capped at [`MAX_IDX_BYTES`](crate::MAX_IDX_BYTES). A raw file's length is compared
//! with the header's claim before anything is allocated; a gzip stream is read through a
//! limit of exactly the claimed size (plus one byte, to detect trailing data), so the
//! buffer grows only with bytes that really decompress. Short files, extra bytes, corrupt
//! gzip streams and wrong magic numbers are errors naming the file.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::DataError;
use crate::files::open_regular;
use crate::limits::{within, Limit};

/// The IDX element-type code for unsigned bytes.
const TYPE_U8: u8 = 0x08;

/// The contents of one IDX file of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The extents from the header.
    pub dims: Vec<usize>,
    /// The elements, row-major; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

/// An IDX file whose header has been read and checked, positioned at its payload.
pub(crate) struct IdxHeader {
    path: PathBuf,
    reader: Box<dyn Read>,
    gzip: bool,
    header_len: u64,
    /// The extents, each at most `u32::MAX`.
    pub dims: Vec<u64>,
    /// Their product, at most [`MAX_IDX_BYTES`](crate::MAX_IDX_BYTES).
    pub payload: u64,
}

/// Reads an IDX file of unsigned bytes with exactly `ndims` dims, gzip or raw.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("agon-idx-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("x-idx2-ubyte.gz");
/// agon_data::write_idx(&path, &[2, 3], &[1, 2, 3, 4, 5, 6], true).unwrap();
/// let back = agon_data::read_idx(&path, 2).unwrap();
/// assert_eq!(back.dims, vec![2, 3]);
/// assert_eq!(back.data, vec![1, 2, 3, 4, 5, 6]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
/// [`DataError::Io`] when the file cannot be opened, [`DataError::NotAFile`] for a
/// directory, FIFO or device, [`DataError::BadMagic`] when it is not IDX,
/// [`DataError::Unsupported`] for another element type or number of dims,
/// [`DataError::TooLarge`] when the header claims more than [`MAX_IDX_BYTES`](crate::MAX_IDX_BYTES),
/// [`DataError::Truncated`] when it is short, [`DataError::Invalid`] for trailing bytes or
/// a corrupt gzip stream.
pub fn read_idx(path: &Path, ndims: usize) -> Result<IdxArray, DataError> {
    read_header(path, ndims)?.read_payload()
}

/// Opens `path` and reads and checks its header (everything [`read_idx`] checks before the
/// payload, including, for a raw file, that it is long enough).
pub(crate) fn read_header(path: &Path, ndims: usize) -> Result<IdxHeader, DataError> {
    let (file, file_len) = open_regular(path)?;
    let mut buffered = BufReader::new(file);
    let gzip = {
        let head = std::io::BufRead::fill_buf(&mut buffered).map_err(|e| DataError::io(path, e))?;
        head.len() >= 2 && head[..2] == [0x1f, 0x8b]
    };
    let mut reader: Box<dyn Read> = if gzip {
        Box::new(GzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };

    let mut magic = [0u8; 4];
    let got = read_up_to(&mut reader, &mut magic, path, gzip)?;
    if got < 4 {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: 4,
            actual: got as u64,
        });
    }
    check_magic(path, magic, ndims)?;

    let header_len = 4 + 4 * ndims as u64;
    let mut dim_bytes = vec![0u8; 4 * ndims];
    let got = read_up_to(&mut reader, &mut dim_bytes, path, gzip)?;
    if got < dim_bytes.len() {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header_len,
            actual: 4 + got as u64,
        });
    }
    let dims: Vec<u64> = dim_bytes
        .chunks_exact(4)
        .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    let product = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    let what = || format!("the payload of the header's dims {dims:?}");
    let payload = within(path, what, product, Limit::IdxBytes)?;
    // A raw file must hold what its header claims; checked before anything is allocated.
    let needed = header_len + payload;
    if !gzip && file_len < needed {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: needed,
            actual: file_len,
        });
    }
    Ok(IdxHeader {
        path: path.to_path_buf(),
        reader,
        gzip,
        header_len,
        dims,
        payload,
    })
}

/// The magic number must be IDX unsigned bytes with `ndims` dims.
fn check_magic(path: &Path, magic: [u8; 4], ndims: usize) -> Result<(), DataError> {
    let known_type = matches!(magic[2], 0x08 | 0x09 | 0x0b | 0x0c | 0x0d | 0x0e);
    if magic[0] != 0 || magic[1] != 0 || !known_type || magic[3] == 0 {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected: format!("0x000008{ndims:02x} (IDX unsigned bytes, {ndims} dims)"),
            found: format!("0x{:08x}", u32::from_be_bytes(magic)),
        });
    }
    if magic[2] != TYPE_U8 {
        return Err(DataError::unsupported(
            path,
            format!(
                "IDX element type 0x{:02x}; only unsigned bytes (0x08) are read",
                magic[2]
            ),
        ));
    }
    if usize::from(magic[3]) != ndims {
        let hint = match (ndims, magic[3]) {
            (3, 1) => " (is this a label file?)",
            (1, 3) => " (is this an image file?)",
            _ => "",
        };
        return Err(DataError::unsupported(
            path,
            format!(
                "IDX file with {} dims where {ndims} are needed{hint}",
                magic[3]
            ),
        ));
    }
    Ok(())
}

impl IdxHeader {
    /// Reads the payload: exactly `payload` bytes, no more, no fewer.
    pub(crate) fn read_payload(self) -> Result<IdxArray, DataError> {
        let IdxHeader {
            path,
            mut reader,
            gzip,
            header_len,
            dims,
            payload,
        } = self;
        let path = path.as_path();
        let data = if gzip {
            let mut data = Vec::new();
            // Grows only as real bytes decompress; stops one byte past the claim.
            let result = (&mut reader).take(payload + 1).read_to_end(&mut data);
            if let Err(e) = result {
                return Err(stream_error(
                    path,
                    e,
                    header_len + data.len() as u64,
                    header_len + payload,
                ));
            }
            data
        } else {
            // `read_header` checked the file is long enough: the claimed size is backed by
            // real bytes.
            let mut data = vec![0u8; payload as usize];
            let got = read_up_to(&mut reader, &mut data, path, false)?;
            data.truncate(got);
            let mut extra = [0u8; 1];
            if read_up_to(&mut reader, &mut extra, path, false)? > 0 {
                data.push(extra[0]);
            }
            data
        };
        let got = data.len() as u64;
        if got < payload {
            return Err(DataError::Truncated {
                path: path.to_path_buf(),
                expected: header_len + payload,
                actual: header_len + got,
            });
        }
        if got > payload {
            return Err(DataError::invalid(
                path,
                format!(
                    "trailing bytes after the {payload} data bytes the header (dims {dims:?}) \
                     describes"
                ),
            ));
        }
        Ok(IdxArray {
            dims: dims.iter().map(|&d| d as usize).collect(),
            data,
        })
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_up_to(
    reader: &mut dyn Read,
    buf: &mut [u8],
    path: &Path,
    gzip: bool,
) -> Result<usize, DataError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if gzip => {
                return Err(stream_error(path, e, filled as u64, buf.len() as u64));
            }
            Err(e) => return Err(DataError::io(path, e)),
        }
    }
    Ok(filled)
}

/// Maps a gzip decoding failure to a truncation or a corrupt-stream error.
fn stream_error(path: &Path, e: std::io::Error, actual: u64, expected: u64) -> DataError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            actual,
        }
    } else {
        DataError::invalid(path, format!("corrupt gzip stream: {e}"))
    }
}

/// Writes `data` (row-major, `dims.iter().product()` bytes) as an IDX file of unsigned
/// bytes, gzip-compressed when `gzip`, atomically (temp file, then rename).
///
/// # Errors
/// [`DataError::Io`] when the file cannot be written.
///
/// # Panics
/// If `data.len()` is not the product of `dims`, or `dims` is empty, longer than 255, or
/// holds an extent above `u32::MAX`.
#[track_caller]
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8], gzip: bool) -> Result<(), DataError> {
    assert_eq!(
        dims.iter().product::<usize>(),
        data.len(),
        "write_idx: dims {dims:?} need {} bytes, got {}",
        dims.iter().product::<usize>(),
        data.len()
    );
    assert!(
        !dims.is_empty() && dims.len() <= 255 && dims.iter().all(|&d| d <= u32::MAX as usize),
        "write_idx: dims {dims:?} cannot be written as IDX"
    );
    let mut bytes = vec![0, 0, TYPE_U8, dims.len() as u8];
    for &d in dims {
        bytes.extend_from_slice(&(d as u32).to_be_bytes());
    }
    bytes.extend_from_slice(data);
    if gzip {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&bytes).map_err(|e| DataError::io(path, e))?;
        bytes = enc.finish().map_err(|e| DataError::io(path, e))?;
    }
    crate::write_atomic(path, &bytes)
}
