//! BLAKE3 in derive-key mode for many short independent inputs, `LANES` at a time.
//!
//! The `blake3` crate hashes one short input per call (~330 cycles on the reference
//! machine) and has no API for many independent inputs. The state digest hashes one or two
//! short elements per op, so this module runs BLAKE3's single-block compression for
//! `LANES` inputs side by side in SIMD vectors, at about half the cost per input. It
//! computes exactly the derive-key output of the `blake3` crate for inputs of at most
//! `BLOCK_BYTES` bytes (a test checks every length against the crate); longer inputs are
//! refused and go to the crate.

use std::array;

use wide::u32x8;

/// Inputs hashed together: one per lane of a 256-bit vector. Without AVX2 enabled at
/// build time it is two 128-bit halves, whose independent chains still fill the pipeline
/// better than one: about 1.2× the throughput of four lanes on the reference machine.
pub(crate) const LANES: usize = 8;

/// Longest input hashed here: one BLAKE3 block.
pub(crate) const BLOCK_BYTES: usize = 64;

type Vector = u32x8;

const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

const CHUNK_START: u32 = 1 << 0;
const CHUNK_END: u32 = 1 << 1;
const ROOT: u32 = 1 << 3;
const DERIVE_KEY_MATERIAL: u32 = 1 << 6;

/// Up to `LANES` inputs waiting to be hashed under one context key.
///
/// Inputs are stored already transposed (word `w` of every lane side by side), so hashing
/// loads whole vectors instead of gathering lanes.
pub(crate) struct Lanes {
    key: [u32; 8],
    words: [[u32; LANES]; 16],
    lens: [u32; LANES],
    filled: usize,
}

impl Lanes {
    /// An empty batch for a context key from `blake3::hazmat::hash_derive_key_context`.
    pub(crate) fn new(context_key: &[u8; 32]) -> Lanes {
        let (chunks, _) = context_key.as_chunks::<4>();
        let mut key = [0u32; 8];
        key.iter_mut()
            .zip(chunks)
            .for_each(|(word, chunk)| *word = u32::from_le_bytes(*chunk));
        Lanes {
            key,
            words: [[0; LANES]; 16],
            lens: [0; LANES],
            filled: 0,
        }
    }

    /// Inputs waiting.
    pub(crate) fn len(&self) -> usize {
        self.filled
    }

    /// Whether every lane holds an input.
    pub(crate) fn is_full(&self) -> bool {
        self.filled == LANES
    }

    /// Puts `input` in the next lane. Returns false, storing nothing, if the input is
    /// longer than `BLOCK_BYTES` or the batch is full.
    pub(crate) fn push(&mut self, input: &[u8]) -> bool {
        let lane = self.filled;
        if input.len() > BLOCK_BYTES || lane >= LANES {
            return false;
        }
        // Rows past the input stay zero: `hash` clears them for the next batch.
        let (chunks, tail) = input.as_chunks::<4>();
        let mut rows = self.words.iter_mut();
        // Chunks first: `zip` must not take a row it has no chunk for.
        for (chunk, row) in chunks.iter().zip(rows.by_ref()) {
            if let Some(word) = row.get_mut(lane) {
                *word = u32::from_le_bytes(*chunk);
            }
        }
        if !tail.is_empty() {
            let mut last = [0u8; 4];
            last.iter_mut()
                .zip(tail)
                .for_each(|(byte, tail)| *byte = *tail);
            if let Some(word) = rows.next().and_then(|row| row.get_mut(lane)) {
                *word = u32::from_le_bytes(last);
            }
        }
        if let Some(len) = self.lens.get_mut(lane) {
            *len = input.len() as u32;
        }
        self.filled += 1;
        true
    }

    /// The hashes of the waiting inputs, in the order they were pushed, in the first
    /// `len()` entries; the batch is then empty. Entries past `len()` are meaningless.
    pub(crate) fn hash(&mut self) -> [[u8; 32]; LANES] {
        self.filled = 0;
        let words = std::mem::replace(&mut self.words, [[0; LANES]; 16]);
        let [w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15] = words;
        let mut m: [Vector; 16] = [
            u32x8::new(w0),
            u32x8::new(w1),
            u32x8::new(w2),
            u32x8::new(w3),
            u32x8::new(w4),
            u32x8::new(w5),
            u32x8::new(w6),
            u32x8::new(w7),
            u32x8::new(w8),
            u32x8::new(w9),
            u32x8::new(w10),
            u32x8::new(w11),
            u32x8::new(w12),
            u32x8::new(w13),
            u32x8::new(w14),
            u32x8::new(w15),
        ];
        let splat = u32x8::splat;
        let [k0, k1, k2, k3, k4, k5, k6, k7] = self.key;
        let [iv0, iv1, iv2, iv3, ..] = IV;
        let mut s: [Vector; 16] = [
            splat(k0),
            splat(k1),
            splat(k2),
            splat(k3),
            splat(k4),
            splat(k5),
            splat(k6),
            splat(k7),
            splat(iv0),
            splat(iv1),
            splat(iv2),
            splat(iv3),
            splat(0),
            splat(0),
            u32x8::new(self.lens),
            splat(CHUNK_START | CHUNK_END | ROOT | DERIVE_KEY_MATERIAL),
        ];
        for r in 0..7 {
            round(&mut s, &m);
            if r < 6 {
                m = permute(&m);
            }
        }
        let [s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15] = s;
        let words: [[u32; LANES]; 8] = [
            (s0 ^ s8).to_array(),
            (s1 ^ s9).to_array(),
            (s2 ^ s10).to_array(),
            (s3 ^ s11).to_array(),
            (s4 ^ s12).to_array(),
            (s5 ^ s13).to_array(),
            (s6 ^ s14).to_array(),
            (s7 ^ s15).to_array(),
        ];
        array::from_fn(|lane| {
            let mut out = [0u8; 32];
            let (chunks, _) = out.as_chunks_mut::<4>();
            for (chunk, row) in chunks.iter_mut().zip(&words) {
                *chunk = row.get(lane).copied().unwrap_or(0).to_le_bytes();
            }
            out
        })
    }
}

/// BLAKE3's message permutation, spelled out so it compiles to register moves.
#[inline(always)]
fn permute(m: &[Vector; 16]) -> [Vector; 16] {
    let [m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15] = *m;
    [
        m2, m6, m3, m10, m7, m0, m4, m13, m1, m11, m12, m5, m9, m14, m15, m8,
    ]
}

#[inline(always)]
fn round(s: &mut [Vector; 16], m: &[Vector; 16]) {
    g(s, 0, 4, 8, 12, m[0], m[1]);
    g(s, 1, 5, 9, 13, m[2], m[3]);
    g(s, 2, 6, 10, 14, m[4], m[5]);
    g(s, 3, 7, 11, 15, m[6], m[7]);
    g(s, 0, 5, 10, 15, m[8], m[9]);
    g(s, 1, 6, 11, 12, m[10], m[11]);
    g(s, 2, 7, 8, 13, m[12], m[13]);
    g(s, 3, 4, 9, 14, m[14], m[15]);
}

/// BLAKE3's quarter-round on lanes; indexes are the constants `round` passes.
#[inline(always)]
fn g(s: &mut [Vector; 16], a: usize, b: usize, c: usize, d: usize, x: Vector, y: Vector) {
    s[a] = s[a] + s[b] + x;
    s[d] = rotr::<16>(s[d] ^ s[a]);
    s[c] += s[d];
    s[b] = rotr::<12>(s[b] ^ s[c]);
    s[a] = s[a] + s[b] + y;
    s[d] = rotr::<8>(s[d] ^ s[a]);
    s[c] += s[d];
    s[b] = rotr::<7>(s[b] ^ s[c]);
}

#[inline(always)]
fn rotr<const N: u32>(a: Vector) -> Vector {
    (a >> N) | (a << (32 - N))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: &str = "jitos.warp.lanes.test";

    #[test]
    fn matches_blake3_for_every_length_and_lane() {
        // Goal: every lane of every batch equals the crate's derive_key output, for each
        // input length 0..=64, with lanes of different lengths mixed in one batch and
        // partly filled batches.
        let inputs: Vec<Vec<u8>> = (0..=BLOCK_BYTES)
            .map(|len| (0..len).map(|i| (i * 31 + len * 7) as u8).collect())
            .collect();
        let mut lanes = Lanes::new(&blake3::hazmat::hash_derive_key_context(CONTEXT));
        for start in 0..inputs.len() {
            let count = 1 + start % LANES;
            let batch: Vec<&Vec<u8>> = (0..count)
                .map(|lane| &inputs[(start + lane * 5) % inputs.len()])
                .collect();
            for input in &batch {
                assert!(lanes.push(input));
            }
            assert_eq!(lanes.len(), count);
            let hashes = lanes.hash();
            assert_eq!(lanes.len(), 0);
            for (input, hash) in batch.iter().zip(hashes) {
                assert_eq!(
                    hash,
                    blake3::derive_key(CONTEXT, input),
                    "input of {} bytes",
                    input.len()
                );
            }
        }
    }

    #[test]
    fn refuses_long_inputs_and_overfilling() {
        // Goal: a 65-byte input is not mistaken for a one-block one, and a full batch
        // takes nothing more.
        let mut lanes = Lanes::new(&[0; 32]);
        assert!(!lanes.push(&[0u8; BLOCK_BYTES + 1]));
        for _ in 0..LANES {
            assert!(lanes.push(&[1u8; BLOCK_BYTES]));
        }
        assert!(lanes.is_full());
        assert!(!lanes.push(b"x"));
    }
}
