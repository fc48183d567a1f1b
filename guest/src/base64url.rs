//! Base64url without padding, as JWE compact serialisation writes it, into
//! a slice the caller sized.
//!
//! A sealed page is ~950,000 characters of base64url (its ciphertexts, IVs
//! and tags). The `base64` crate's encoder takes six bits at a time with a
//! table lookup each; in the component that was 8% of a sealed page's time.
//! With WebAssembly's 128-bit SIMD (on for the component, see
//! `.cargo/config.toml`), twelve bytes become sixteen characters in about
//! twenty vector instructions. Native builds use the `base64` crate; the
//! runtime's tests open the component's values with it for every length up
//! to 300 bytes and beyond.

#[cfg(any(test, not(all(target_arch = "wasm32", target_feature = "simd128"))))]
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// The characters `input` takes, unpadded.
pub fn encoded_len(input: usize) -> usize {
    input / 3 * 4 + [0, 2, 3][input % 3]
}

/// Write `input` as base64url into `output`, which must be exactly
/// [`encoded_len`] bytes.
///
/// ```
/// # use hcal_core::base64url;
/// let mut out = [0; 6];
/// base64url::encode_into(b"\xfb\xffhi", &mut out);
/// assert_eq!(&out, b"-_9oaQ");
/// ```
pub fn encode_into(input: &[u8], output: &mut [u8]) {
    assert_eq!(
        output.len(),
        encoded_len(input.len()),
        "output sized for the input"
    );
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    simd::encode(input, output);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    URL_SAFE_NO_PAD
        .encode_slice(input, output)
        .expect("sized for its base64");
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    /// Twelve bytes at a time while sixteen can be loaded, then the last
    /// (at most fifteen) from a zero-padded copy: zero bits are what the
    /// unpadded encoding puts in a partial group's last character, so the
    /// first characters of the padded group are the right ones.
    pub(super) fn encode(input: &[u8], output: &mut [u8]) {
        let mut read = 0;
        let mut written = 0;
        while read + 16 <= input.len() {
            let source = &input[read..read + 16];
            let target = &mut output[written..written + 16];
            // SAFETY: both slices are 16 bytes long; v128 loads and stores
            // have no alignment requirement.
            unsafe {
                let bytes = v128_load(source.as_ptr().cast());
                v128_store(target.as_mut_ptr().cast(), encode12(bytes));
            }
            read += 12;
            written += 16;
        }
        while read < input.len() {
            let take = (input.len() - read).min(12);
            let mut source = [0u8; 16];
            source[..take].copy_from_slice(&input[read..read + take]);
            let mut target = [0u8; 16];
            // SAFETY: both arrays are 16 bytes long.
            unsafe {
                let bytes = v128_load(source.as_ptr().cast());
                v128_store(target.as_mut_ptr().cast(), encode12(bytes));
            }
            let chars = super::encoded_len(take);
            output[written..written + chars].copy_from_slice(&target[..chars]);
            read += take;
            written += chars;
        }
    }

    /// The first twelve bytes of `bytes` as sixteen base64url characters.
    #[inline(always)]
    fn encode12(bytes: v128) -> v128 {
        // Each 32-bit lane gets one group's bytes b0 b1 b2 as b1 b0 b2 b1
        // (little-endian), so every 6-bit index is a shift of the lane.
        let lanes =
            u8x16_shuffle::<1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10>(bytes, bytes);
        let first = v128_and(u32x4_shr(lanes, 10), u32x4_splat(0x0000_003f));
        let second = v128_and(u32x4_shl(lanes, 4), u32x4_splat(0x0000_3f00));
        let third = v128_and(u32x4_shr(lanes, 6), u32x4_splat(0x003f_0000));
        let fourth = v128_and(u32x4_shl(lanes, 8), u32x4_splat(0x3f00_0000));
        let indices = v128_or(v128_or(first, second), v128_or(third, fourth));
        // Index to character by the offset of its range: 0..=25 'A'..,
        // 26..=51 'a'.., 52..=61 '0'.., 62 '-', 63 '_'. The range is picked
        // by a saturating subtraction (52..=63 become 1..=12, the rest 0)
        // and the letters below 26 moved to slot 13.
        let mut range = u8x16_sub_sat(indices, u8x16_splat(51));
        range = v128_or(
            range,
            v128_and(u8x16_lt(indices, u8x16_splat(26)), u8x16_splat(13)),
        );
        let offsets = i8x16(
            71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -17, 32, 65, 0, 0,
        );
        u8x16_add(indices, i8x16_swizzle(offsets, range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Natively this checks `encoded_len` and the slice handling; the
    /// component's SIMD path is checked by `host/tests/runtime.rs`
    /// (`sealed_values_of_every_length_open_natively`).
    #[test]
    fn every_length_matches_the_base64_crate() {
        let input: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        for len in 0..input.len() {
            let mut out = vec![0; encoded_len(len)];
            encode_into(&input[..len], &mut out);
            assert_eq!(
                out,
                URL_SAFE_NO_PAD.encode(&input[..len]).as_bytes(),
                "length {len}"
            );
        }
    }
}
