//! Composites: functions built only from primitive ops, with no backward rule of their
//! own. Their first and second derivatives follow from the primitives' rules. The one
//! exception is training-mode batch norm (`batch_norm_train.rs`), fused into one op with a
//! rule of its own for speed, and held to the composition it replaced by a test.

mod batch_norm_train;
mod image_ops;
mod losses;
mod norm;
mod softmax;
#[cfg(test)]
mod test_util;
mod upsample_conv;

pub use image_ops::{instance_norm, pixel_shuffle, reflection_pad2d};
pub use losses::Reduction;
pub use norm::{batch_norm, batch_norm_inference, layer_norm, BatchNormMode, BatchStats};
pub use upsample_conv::upsample2x_conv3x3;
