//! Runtime for apps built on a dcgen-generated schema.

pub mod hash;
