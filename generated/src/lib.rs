//! placeholder until `make gen` writes this crate.
