//! The deterministic storage simulator (TigerBeetle's simulated storage,
//! FoundationDB's simulation): a file layer held in memory that injects
//! faults chosen by a seed (`disk`), a seeded workload that records every
//! state the store acknowledged (`workload`), and the checks made after each
//! simulated crash (`checks`). Everything random comes from one `Rng` made
//! from the seed, so a failing seed replays exactly.

pub mod checks;
pub mod disk;
pub mod workload;

/// splitmix64: small, fast, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    pub fn percent(&mut self, chance: u64) -> bool {
        self.below(100) < chance
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// A new generator whose numbers do not follow this one's: each part of
    /// a run draws from its own, so a change in one part's use of randomness
    /// does not reshuffle the others.
    pub fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }
}
