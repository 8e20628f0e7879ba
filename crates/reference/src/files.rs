//! Files for tests of hostile input: temporary directories, and small valid files (IDX,
//! PNG, JPEG, CIFAR-10 batches, gzip) to damage.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A fresh directory under the system temp dir, removed on drop unless the thread is
/// panicking (a failed test's files stay, to look at). Derefs to its [`Path`].
///
/// ```
/// use agon_reference::files::TempDir;
///
/// let kept;
/// {
///     let dir = TempDir::new("doc-example");
///     std::fs::write(dir.join("a.txt"), b"x").unwrap();
///     assert!(dir.is_dir());
///     kept = dir.to_path_buf();
/// }
/// assert!(!kept.exists());
/// ```
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// An empty `agon-test-<pid>-<name>` under the system temp dir (emptied if present).
    pub fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("agon-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// An IDX file of unsigned bytes: header for `dims`, then `data`.
pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut h = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        h.extend_from_slice(&d.to_be_bytes());
    }
    h.extend_from_slice(data);
    h
}

/// A `w` x `h` PNG with `channels` (1, 2, 3 or 4) 8- or 16-bit samples from `f`.
pub fn png_bytes(
    w: u32,
    h: u32,
    channels: usize,
    sixteen: bool,
    f: impl Fn(u32, u32, usize) -> u8,
) -> Vec<u8> {
    let mut data = Vec::new();
    for y in 0..h {
        for x in 0..w {
            for c in 0..channels {
                let v = f(x, y, c);
                if sixteen {
                    data.extend([v, v ^ 0x5a]);
                } else {
                    data.push(v);
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(match channels {
            1 => png::ColorType::Grayscale,
            2 => png::ColorType::GrayscaleAlpha,
            3 => png::ColorType::Rgb,
            _ => png::ColorType::Rgba,
        });
        enc.set_depth(if sixteen {
            png::BitDepth::Sixteen
        } else {
            png::BitDepth::Eight
        });
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&data).unwrap();
        wr.finish().unwrap();
    }
    out
}

/// A gray PNG of zeros, compressed as far as deflate goes: a small file for a big frame.
pub fn png_zeros(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_compression(png::Compression::High);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&vec![0u8; (w * h) as usize]).unwrap();
        wr.finish().unwrap();
    }
    out
}

/// The CRC-32 (IEEE) PNG chunks carry.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Rewrites a PNG's IHDR width and height (bytes 16..24), fixing its CRC so the lie is
/// believed.
pub fn patch_ihdr(png: &mut [u8], w: u32, h: u32) {
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
}

/// A `w` x `h` baseline JPEG, RGB or gray.
pub fn jpeg_bytes(w: u32, h: u32, rgb: bool) -> Vec<u8> {
    let c = if rgb { 3 } else { 1 };
    let data: Vec<u8> = (0..w * h * c).map(|i| (i * 37 % 251) as u8).collect();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode(
            &data,
            w,
            h,
            if rgb {
                image::ExtendedColorType::Rgb8
            } else {
                image::ExtendedColorType::L8
            },
        )
        .unwrap();
    out
}

/// The offset of the height field in a JPEG's start-of-frame segment (width follows).
pub fn jpeg_sof_dims(jpeg: &[u8]) -> Option<usize> {
    (2..jpeg.len().saturating_sub(9))
        .find(|&i| jpeg[i] == 0xff && matches!(jpeg[i + 1], 0xc0..=0xc2))
        .map(|i| i + 5)
}

/// `records` CIFAR-10 records with labels `i % 10`.
pub fn cifar_bytes(records: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for r in 0..records {
        out.push((r % 10) as u8);
        out.extend((0..3072).map(|i| ((i + r) % 256) as u8));
    }
    out
}

/// Makes a FIFO at `path`; false when `mkfifo` is unavailable (the caller skips).
pub fn mkfifo(path: &Path) -> bool {
    std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `f` on its own thread and waits at most `secs` seconds: `None` when it did not
/// finish (it blocked), so a regression to a hang fails the test instead of hanging it.
pub fn within_secs<T: Send + 'static>(
    secs: u64,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs)).ok()
}
