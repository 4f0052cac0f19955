//! Deterministic mutations of corpus entries for the stable-toolchain smoke run: bit flips,
//! truncations, byte insertions and deletions, chosen by a small seeded generator so every run
//! tries the same inputs.

/// A tiny deterministic generator (SplitMix64): the smoke run must be reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            return 0;
        }
        (self.next_u64() % bound as u64) as usize
    }
}

/// Bytes that are interesting to CBOR and JSON readers when written over an input.
const INTERESTING: [u8; 16] = [
    0x00, 0x01, 0x17, 0x18, 0x1b, 0x1f, 0x3f, 0x5f, 0x7f, 0x9f, 0xbf, 0xd9, 0xf6, 0xff, b'"', b'{',
];

/// One mutation of `input`: a bit flip, an interesting byte, a truncation, a deletion or an
/// insertion, chosen by `rng`.
pub fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    match rng.below(6) {
        0 | 1 if !out.is_empty() => {
            let at = rng.below(out.len());
            out[at] ^= 1 << rng.below(8);
        }
        2 if !out.is_empty() => {
            let at = rng.below(out.len());
            out[at] = INTERESTING[rng.below(INTERESTING.len())];
        }
        3 => out.truncate(rng.below(out.len() + 1)),
        4 if !out.is_empty() => {
            let at = rng.below(out.len());
            let len = (1 + rng.below(8)).min(out.len() - at);
            out.drain(at..at + len);
        }
        _ => {
            let at = rng.below(out.len() + 1);
            out.insert(at, INTERESTING[rng.below(INTERESTING.len())]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_reproducible() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(mutate(b"abcdef", &mut a), mutate(b"abcdef", &mut b));
        }
        assert!(mutate(b"", &mut a).len() <= 1);
    }
}
