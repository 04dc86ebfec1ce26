//! The one pseudo-random generator of fakehub and the tests that use it: splitmix64
//! (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014, with
//! Vigna's constants), seeded, with the few helpers the generators need.
//!
//! Invariant: the output depends only on the seed. Generated repositories (and so their
//! commit SHAs), Python projects and file bytes are the same on every run and machine for
//! one seed, so a failing run can be replayed. Changing anything here changes what every
//! seed generates.
//!
//! Not for anything secret: splitmix64 is fast and well spread, not unpredictable.

/// splitmix64's increment (2^64 / the golden ratio).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A seeded splitmix64 generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Stream `stream` of `seed`: distinct `(seed, stream)` pairs give unrelated sequences,
    /// so one seed can feed several independent generators (one per repository, say).
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut rng = Rng(seed
            .wrapping_mul(0xA076_1D64_78BD_642F)
            .wrapping_add(stream.wrapping_mul(GAMMA))
            ^ 0x0123_4567_89AB_CDEF);
        rng.next_u64();
        rng
    }

    /// A generator whose state is `state` as is (the first output is the mix of
    /// `state + GAMMA`). Close states give unrelated sequences, but states one `GAMMA`
    /// apart give the same sequence shifted by one: prefer [`Rng::new`].
    pub fn from_state(state: u64) -> Rng {
        Rng(state)
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `0..n` (modulo bias is negligible for the small `n` used here); 0 when `n` is 0,
    /// without drawing.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// In `0.0..1.0`, from the top 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// True with probability 1/`n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.next_u64().is_multiple_of(n)
    }

    /// One element of `xs` (which must not be empty).
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    /// An index of `weights`, each chosen in proportion to its weight.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// `k` distinct elements of `from`, in a deterministic order (a Fisher-Yates shuffle,
    /// cut).
    pub fn choose(&mut self, from: &[usize], k: usize) -> Vec<usize> {
        let mut v = from.to_vec();
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
        v.truncate(k);
        v
    }

    /// Fills `buf`, 8 bytes (little-endian) per draw; the last draw's extra bytes are
    /// dropped, so a stream filled in pieces that are multiples of 8 is one sequence.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // Vigna's splitmix64.c from state 0: the first three outputs.
        let mut r = Rng::from_state(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn same_seed_same_sequence_other_stream_other_sequence() {
        let draw = |mut r: Rng| (0..4).map(|_| r.next_u64()).collect::<Vec<_>>();
        assert_eq!(draw(Rng::new(7, 1)), draw(Rng::new(7, 1)));
        assert_ne!(draw(Rng::new(7, 1)), draw(Rng::new(7, 2)));
        assert_ne!(draw(Rng::new(7, 1)), draw(Rng::new(8, 1)));
    }

    #[test]
    fn helpers_stay_in_bounds() {
        let mut r = Rng::new(1, 0);
        for n in 1..50 {
            assert!(r.below(n) < n);
            let x = r.range(3, 3 + n as u64);
            assert!((3..=3 + n as u64).contains(&x));
        }
        assert_eq!(r.below(0), 0);
        assert!(!r.chance(0.0) && r.chance(1.0));
        assert_eq!(r.weighted(&[0.0, 1.0, 0.0]), 1);
        let mut chosen = r.choose(&[1, 2, 3, 4, 5], 3);
        chosen.sort();
        chosen.dedup();
        assert_eq!(chosen.len(), 3);
    }

    #[test]
    fn filling_in_pieces_of_eight_is_one_stream() {
        let mut whole = vec![0u8; 64];
        Rng::new(5, 0).fill(&mut whole);
        let mut pieces = vec![0u8; 64];
        let mut r = Rng::new(5, 0);
        for piece in pieces.chunks_mut(16) {
            r.fill(piece);
        }
        assert_eq!(whole, pieces);
        let mut short = vec![0u8; 13];
        Rng::new(5, 0).fill(&mut short);
        assert_eq!(short, whole[..13]);
    }
}
