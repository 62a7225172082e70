//! SHA3-256, from the fastest maintained implementation the target has.
//!
//! On x86_64 and aarch64 that is `keccak-asm`: OpenSSL's CRYPTOGAMS
//! keccak1600 assembly (the code Python's `hashlib` runs through OpenSSL),
//! built by its `sha3-asm` dependency with perl and the C compiler; on this
//! project's x86_64 machines it takes ~25% less time per row than RustCrypto's
//! `keccak` crate, which has no x86 assembly. Every other target uses
//! RustCrypto's `sha3`. Both are `digest` 0.10 hashers and give the same
//! digest; the hash vectors check that on every target the tests run on.

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub use keccak_asm::Sha3_256;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub use sha3::Sha3_256;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
use sha3::Digest as _;

/// The SHA3-256 of `bytes`, in one call (keccak-asm's own one-shot path
/// where it is the hasher).
#[inline]
pub fn sha3_256(bytes: &[u8]) -> [u8; 32] {
    Sha3_256::digest(bytes).into()
}
