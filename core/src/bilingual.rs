//! Sentences a person reads — refusals, mostly — in Chinese and in English, each written once per
//! language: `bilingual!` gives an error enum its `zh()`, its `en()` and a `Display` of both
//! (`中文 / English`, for logs), so the API never has to cut one language out of the other.

/// A refusal in two languages.
pub trait Bilingual {
    fn zh(&self) -> String;
    fn en(&self) -> String;
}

/// Implements [`Bilingual`], `Display` and `std::error::Error` for an enum from one table of its
/// sentences: `Pattern => ("中文 {field}") / ("English {field}")`.
#[macro_export]
macro_rules! bilingual {
    ($ty:ty { $($pat:pat => ($($zh:tt)+) / ($($en:tt)+)),* $(,)? }) => {
        impl $crate::bilingual::Bilingual for $ty {
            #[allow(unused_variables)]
            fn zh(&self) -> String {
                match self { $($pat => format!($($zh)+),)* }
            }
            #[allow(unused_variables)]
            fn en(&self) -> String {
                match self { $($pat => format!($($en)+),)* }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} / {}", $crate::bilingual::Bilingual::zh(self), $crate::bilingual::Bilingual::en(self))
            }
        }
        impl std::error::Error for $ty {}
    };
}
