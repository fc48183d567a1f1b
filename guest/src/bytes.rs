//! Finding bytes eight at a time ("SWAR": SIMD within a register). The text
//! loops of the core look at every byte of every description; in wasm a
//! byte-at-a-time loop also pays a deadline check on every iteration, so
//! skipping uninteresting bytes a word at a time pays twice.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` that is zero (exact for the lowest one).
#[inline]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// High bit set in each byte of `word` equal to `byte`.
#[inline]
pub fn equal_to(word: u64, byte: u8) -> u64 {
    zero_bytes(word ^ (ONES * u64::from(byte)))
}

/// High bit set in each byte of `word` below `limit` (`limit` <= 128).
#[inline]
pub fn below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGHS
}

/// The first position at or after `from` whose byte `wanted` accepts.
/// `mask` must flag (at least) every such byte of a little-endian word;
/// it may flag others, which `wanted` then rejects.
#[inline]
pub fn find(
    bytes: &[u8],
    from: usize,
    mask: impl Fn(u64) -> u64,
    wanted: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut i = from;
    while i + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("eight bytes"));
        let mut flagged = mask(word);
        while flagged != 0 {
            let at = i + (flagged.trailing_zeros() / 8) as usize;
            if wanted(bytes[at]) {
                return Some(at);
            }
            flagged &= flagged - 1;
        }
        i += 8;
    }
    (i..bytes.len()).find(|&at| wanted(bytes[at]))
}

/// The first `byte` at or after `from` (`memchr`). The standard library's
/// reads a machine word at a time, four bytes in wasm32; this reads eight.
#[inline]
pub fn find_byte(bytes: &[u8], from: usize, byte: u8) -> Option<usize> {
    find(bytes, from, |w| equal_to(w, byte), |b| b == byte)
}

/// `text` split at its last `byte`, without it (`rsplit_once` for an ASCII
/// byte), for short text: an e-mail address or a URL's authority. A plain
/// loop: the standard library's `memrchr` (behind `rsplit_once`) spends more
/// aligning its words than such text takes, 2% of a page in the component.
#[inline]
pub fn rsplit_once_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    debug_assert!(byte.is_ascii());
    let at = text.as_bytes().iter().rposition(|&b| b == byte)?;
    // An ASCII byte is always a character boundary.
    Some((&text[..at], &text[at + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsplit_once_byte_is_rsplit_once() {
        for text in ["", "@", "a@b", "a@b@c", "no at", "é@ü", "@@", "x@"] {
            assert_eq!(
                rsplit_once_byte(text, b'@'),
                text.rsplit_once('@'),
                "{text:?}"
            );
        }
    }

    #[test]
    fn finds_what_a_plain_loop_finds() {
        let text = b"plain text, then a:colon and 50% and @at; \xc2\xa0 and\ttab and a long tail without any";
        let interesting = |b: u8| matches!(b, b':' | b'%' | b'@');
        let mask = |w: u64| equal_to(w, b':') | equal_to(w, b'%') | equal_to(w, b'@');
        for from in 0..text.len() {
            assert_eq!(
                find(text, from, mask, interesting),
                (from..text.len()).find(|&i| interesting(text[i])),
                "from {from}"
            );
        }
        for byte in [b':', b'@', b'\xc2', b'\t', b'z'] {
            for from in 0..=text.len() {
                assert_eq!(
                    find_byte(text, from, byte),
                    text[from..]
                        .iter()
                        .position(|&b| b == byte)
                        .map(|p| from + p)
                );
            }
        }
        let space = |b: u8| b <= b' ' || b == 0xc2;
        for from in 0..text.len() {
            assert_eq!(
                find(text, from, |w| below(w, 0x21) | equal_to(w, 0xc2), space),
                (from..text.len()).find(|&i| space(text[i]))
            );
        }
    }
}
