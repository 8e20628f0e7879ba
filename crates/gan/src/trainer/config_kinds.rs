//! The configuration's named choices as types: `model.kind`, `model.upsample`, `loss.kind`
//! and `task` are parsed once, when the TOML is read, so that a misspelt name is an error
//! naming the key and the valid names, and no code downstream matches on strings.

use std::fmt;
use std::str::FromStr;

use crate::{GanLoss, Upsampling};

/// A choice a configuration key names by a string.
pub trait ConfigChoice: Copy + Sized + 'static {
    /// The dotted key the choice is written under, for error messages.
    const KEY: &'static str;
    /// Every choice.
    const ALL: &'static [Self];
    /// The canonical name, which [`parse_choice`] accepts back and `to_toml` writes.
    fn name(&self) -> &'static str;
    /// Names accepted besides the canonical ones (aliases).
    fn parse_alias(_text: &str) -> Option<Self> {
        None
    }
}

/// Parses `text` as a `T`, with an error naming `T::KEY` and every valid name.
///
/// ```
/// use agon_gan::trainer::{parse_choice, ModelKind};
/// assert_eq!(parse_choice::<ModelKind>("mlp").unwrap(), ModelKind::Mlp);
/// let e = parse_choice::<ModelKind>("resnet").unwrap_err();
/// assert!(e.contains("model.kind") && e.contains("dcgan28"), "{e}");
/// ```
///
/// # Errors
/// A name that is none of `T`'s.
pub fn parse_choice<T: ConfigChoice>(text: &str) -> Result<T, String> {
    T::ALL
        .iter()
        .copied()
        .find(|c| c.name() == text)
        .or_else(|| T::parse_alias(text))
        .ok_or_else(|| {
            let names: Vec<&str> = T::ALL.iter().map(|c| c.name()).collect();
            format!("{} = {text:?} is not one of {}", T::KEY, names.join(", "))
        })
}

/// Serde glue for a [`ConfigChoice`] field (`#[serde(with = "by_name")]`): written as its
/// name, read through [`parse_choice`].
pub(crate) mod by_name {
    use super::{parse_choice, ConfigChoice};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: ConfigChoice, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.name())
    }

    pub fn deserialize<'de, T: ConfigChoice, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        parse_choice(&text).map_err(serde::de::Error::custom)
    }
}

/// The architecture family (`model.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// The configurable DCGAN (`model.width`, `model.upsample`; any supported image size).
    Dcgan,
    /// The fixed 28x28 reference model of docs/architecture.md (latent size 100).
    Dcgan28,
    /// Multi-layer perceptrons (2-D toys and flattened images).
    Mlp,
}

impl ConfigChoice for ModelKind {
    const KEY: &'static str = "model.kind";
    const ALL: &'static [Self] = &[ModelKind::Dcgan, ModelKind::Dcgan28, ModelKind::Mlp];
    fn name(&self) -> &'static str {
        match self {
            ModelKind::Dcgan => "dcgan",
            ModelKind::Dcgan28 => "dcgan28",
            ModelKind::Mlp => "mlp",
        }
    }
}

/// The GAN task (`task`): what a batch holds and what G and D see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// `conditional` when `model.conditional` is set, else `unconditional` (the default;
    /// older configurations write it as `""`).
    Auto,
    /// Noise in, a sample out.
    Unconditional,
    /// Noise and a class label in; D judges (sample, label).
    Conditional,
    /// Super-resolution: the image downsampled `translate.scale` times in, the full image
    /// out (SRGAN-style residual generator with sub-pixel upsampling).
    Superres,
    /// Inpainting: the image with holes and the hole mask in, the filled image out (U-Net).
    Inpaint,
    /// Sketch to image: the image's Sobel edge map in, the image out (pix2pix U-Net).
    Sketch2image,
    /// Unpaired translation between two domains (sets of classes, `translate.a` and
    /// `translate.b`, or two image folders, `translate.a_dir` and `translate.b_dir`), both
    /// directions at once (CycleGAN).
    Cyclegan,
}

impl TaskKind {
    /// True for the tasks that turn one image into another (`superres`, `inpaint`,
    /// `sketch2image`, `cyclegan`); false for the generation tasks (noise in).
    pub fn is_image_to_image(self) -> bool {
        matches!(
            self,
            TaskKind::Superres | TaskKind::Inpaint | TaskKind::Sketch2image | TaskKind::Cyclegan
        )
    }
}

impl ConfigChoice for TaskKind {
    const KEY: &'static str = "task";
    const ALL: &'static [Self] = &[
        TaskKind::Auto,
        TaskKind::Unconditional,
        TaskKind::Conditional,
        TaskKind::Superres,
        TaskKind::Inpaint,
        TaskKind::Sketch2image,
        TaskKind::Cyclegan,
    ];
    fn name(&self) -> &'static str {
        match self {
            TaskKind::Auto => "auto",
            TaskKind::Unconditional => "unconditional",
            TaskKind::Conditional => "conditional",
            TaskKind::Superres => "superres",
            TaskKind::Inpaint => "inpaint",
            TaskKind::Sketch2image => "sketch2image",
            TaskKind::Cyclegan => "cyclegan",
        }
    }
    fn parse_alias(text: &str) -> Option<Self> {
        text.is_empty().then_some(TaskKind::Auto)
    }
}

/// The holes `inpaint` trains on (`translate.holes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HoleChoice {
    /// Each image a random rectangle or free-form strokes, half and half (the default).
    Mixed,
    /// Random rectangles only.
    Rectangle,
    /// Free-form strokes only.
    Strokes,
    /// The fixed centre square (the evaluation mask) only.
    Centre,
}

impl ConfigChoice for HoleChoice {
    const KEY: &'static str = "translate.holes";
    const ALL: &'static [Self] = &[
        HoleChoice::Mixed,
        HoleChoice::Rectangle,
        HoleChoice::Strokes,
        HoleChoice::Centre,
    ];
    fn name(&self) -> &'static str {
        match self {
            HoleChoice::Mixed => "mixed",
            HoleChoice::Rectangle => "rectangle",
            HoleChoice::Strokes => "strokes",
            HoleChoice::Centre => "centre",
        }
    }
    fn parse_alias(text: &str) -> Option<Self> {
        (text == "center").then_some(HoleChoice::Centre)
    }
}

impl ConfigChoice for Upsampling {
    const KEY: &'static str = "model.upsample";
    const ALL: &'static [Self] = &[Upsampling::NearestConv, Upsampling::Transposed];
    fn name(&self) -> &'static str {
        match self {
            Upsampling::NearestConv => "nearest",
            Upsampling::Transposed => "transposed",
        }
    }
}

impl ConfigChoice for GanLoss {
    const KEY: &'static str = "loss.kind";
    const ALL: &'static [Self] = &GanLoss::ALL;
    fn name(&self) -> &'static str {
        GanLoss::name(self)
    }
    /// `ns`, `wgan`, `least-squares`, any case: what [`GanLoss`]'s `FromStr` accepts.
    fn parse_alias(text: &str) -> Option<Self> {
        GanLoss::from_str(text).ok()
    }
}

macro_rules! display_and_from_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(ConfigChoice::name(self))
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                parse_choice(s)
            }
        }
    )*};
}

display_and_from_str!(ModelKind, TaskKind, HoleChoice);

impl fmt::Display for Upsampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ConfigChoice::name(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: ConfigChoice + PartialEq + fmt::Debug>() {
        for c in T::ALL {
            assert_eq!(parse_choice::<T>(c.name()).unwrap(), *c);
        }
        let e = parse_choice::<T>("no-such-choice").unwrap_err();
        assert!(e.starts_with(T::KEY), "{e}");
        assert!(T::ALL.iter().all(|c| e.contains(c.name())), "{e}");
    }

    #[test]
    fn every_choice_parses_back_from_its_name_and_errors_list_them_all() {
        round_trips::<ModelKind>();
        round_trips::<TaskKind>();
        round_trips::<HoleChoice>();
        round_trips::<Upsampling>();
        round_trips::<GanLoss>();
    }

    #[test]
    fn aliases_are_the_old_spellings() {
        assert_eq!(parse_choice::<TaskKind>("").unwrap(), TaskKind::Auto);
        assert_eq!(
            parse_choice::<GanLoss>("WGAN").unwrap(),
            GanLoss::Wasserstein
        );
        assert!(parse_choice::<ModelKind>("DCGAN").is_err());
    }
}
