//! Composites: functions built only from primitive ops, with no backward rule of their
//! own. Their first and second derivatives follow from the primitives' rules.

mod batch_norm_train;
mod losses;
mod norm;
mod softmax;

pub use losses::Reduction;
pub use norm::{batch_norm, layer_norm, BatchNormMode, BatchStats};
