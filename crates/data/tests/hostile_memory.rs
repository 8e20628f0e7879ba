//! Peak memory of loads whose files are small but whose contents are large, honestly or
//! not: decompression bombs that really inflate, a frame 30 million pixels wide, headers
//! that claim gigabytes. Each bound is stated from what the load must hold (the decoded
//! frame, the dataset returned), not from what a header says.
//!
//! One test function: the allocation counters are process-wide (see `common/counting.rs`).

use agon_data::*;
use agon_reference::counting::{peak_during, Counting};
use agon_reference::files::*;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1 << 20;

fn check(what: &str, peak: usize, allowed: usize) {
    eprintln!(
        "{what}: peak {:.1} MiB of {:.1} allowed",
        peak as f64 / MIB as f64,
        allowed as f64 / MIB as f64
    );
    assert!(
        peak <= allowed,
        "{what}: peak {peak} bytes, over the {allowed} allowed"
    );
}

#[test]
fn small_files_with_large_contents_cost_what_they_decode_to() {
    let dir = TempDir::new("memory");

    // A PNG declaring 16384 x 16384 (was: accepted at 2.1 GB resident): refused from its
    // header, before the frame's buffer or the file's data is touched.
    let mut lie = png_bytes(2, 2, 1, false, |_, _, _| 1);
    patch_ihdr(&mut lie, 16384, 16384);
    let path = dir.join("lie.png");
    std::fs::write(&path, &lie).unwrap();
    let (r, peak) = peak_during(|| load_png(&path));
    assert!(r.is_err());
    check("PNG declaring 16384x16384", peak, MIB);

    // A real 1 x 2^25 frame of zeros (a 33 KB file): decoding needs its 32 MiB and the png
    // crate's two row buffers (32 MiB each here, under its 64 MiB limit); shrinking it to
    // 8 x 8 needs nothing more of that order (was: ~40 bytes a column in tap tables).
    let wide = dir.join("wide");
    std::fs::create_dir_all(&wide).unwrap();
    std::fs::write(wide.join("a.png"), png_zeros(1 << 25, 1)).unwrap();
    let (r, peak) = peak_during(|| image_folder(&wide, [8, 8], 1));
    assert_eq!(r.unwrap().len(), 1);
    check("1 x 2^25 PNG to 8x8", peak, (32 + 64 + 4) * MIB);
    // Kept at its own size: the frame (the png crate's rows are freed by then), the f32
    // result, written in place, and one f32 intermediate plane.
    let (r, peak) = peak_during(|| image_folder_with(&wide, None, None));
    assert_eq!(r.unwrap().0.image_shape(), &[1, 1, 1 << 25]);
    check(
        "1 x 2^25 PNG at its own size",
        peak,
        (32 + 128 + 128 + 4) * MIB,
    );

    // A gzip bomb whose header is honest: 8 MiB of zero pixels in a few KB. The payload
    // plus its f32 copy, and the doubling buffer's slack.
    let n = 8 * MIB as u32 / 784;
    let images = dir.join("images.gz");
    std::fs::write(
        &images,
        gzip(&idx_bytes(&[n, 28, 28], &vec![0; n as usize * 784])),
    )
    .unwrap();
    let labels = dir.join("labels.gz");
    std::fs::write(&labels, gzip(&idx_bytes(&[n], &vec![0; n as usize]))).unwrap();
    let (r, peak) = peak_during(|| load_idx_pair(&images, &labels));
    assert_eq!(r.unwrap().len(), n as usize);
    let payload = n as usize * 785;
    check("honest 8 MiB gzip IDX bomb", peak, 7 * payload + MIB);

    // The same header claiming 1,000,000 images (3 GB as f32): refused from the header.
    std::fs::write(
        &images,
        gzip(&idx_bytes(&[1_000_000, 28, 28], &vec![0; 1 << 20])),
    )
    .unwrap();
    std::fs::write(&labels, gzip(&idx_bytes(&[1_000_000], &vec![0; 1 << 20]))).unwrap();
    let (r, peak) = peak_during(|| load_idx_pair(&images, &labels));
    assert!(matches!(r, Err(DataError::TooLarge { .. })), "{r:?}");
    check("gzip IDX claiming 3 GB of f32", peak, MIB);
}
