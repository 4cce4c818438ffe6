//! The deterministic generated corpus: pseudo-words drawn from a Zipf distribution.

use crate::rng::{mix_all, SplitMix64};

/// Distinct words in the generated vocabulary.
pub(crate) const VOCABULARY: usize = 20_000;

const CONSONANTS: [&str; 12] = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t"];
const VOWELS: [&str; 5] = ["a", "e", "i", "o", "u"];
const SYLLABLES: usize = CONSONANTS.len() * VOWELS.len();

/// The vocabulary of one seed, and the Zipf distribution over it.
#[derive(Debug)]
pub(crate) struct Vocabulary {
    words: Vec<String>,
    /// `cdf[r]`: probability of a rank `<= r`.
    cdf: Vec<f64>,
    /// `bucket[b]`: the first rank `r` with `cdf[r] > b / BUCKETS`, so a sample `u` in
    /// bucket `b` is between `bucket[b]` and `bucket[b + 1]`.
    bucket: Vec<u32>,
}

const BUCKETS: usize = 4096;

impl Vocabulary {
    pub(crate) fn new(seed: u64) -> Self {
        // The seed shuffles the syllable table, so different seeds speak different languages.
        let mut syllables: Vec<String> = CONSONANTS
            .iter()
            .flat_map(|c| VOWELS.iter().map(move |v| format!("{c}{v}")))
            .collect();
        let mut rng = SplitMix64::new(mix_all(&[seed, 0x0076_6f63_6162]));
        for i in (1..syllables.len()).rev() {
            syllables.swap(i, rng.below(i as u64 + 1) as usize);
        }
        // Rank r is written in base SYLLABLES with a length that grows with r, so
        // frequent words are short and every word is distinct.
        let words = (0..VOCABULARY)
            .map(|r| {
                let (mut x, len) = if r < SYLLABLES {
                    (r, 1)
                } else if r < SYLLABLES + SYLLABLES.pow(2) {
                    (r - SYLLABLES, 2)
                } else {
                    (r - SYLLABLES - SYLLABLES.pow(2), 3)
                };
                let mut w = String::new();
                for _ in 0..len {
                    w.push_str(&syllables[x % SYLLABLES]);
                    x /= SYLLABLES;
                }
                w
            })
            .collect();
        let weights: Vec<f64> = (0..VOCABULARY).map(|r| 1.0 / (r as f64 + 2.0)).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cdf: Vec<f64> = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        let bucket = (0..=BUCKETS)
            .map(|b| {
                let u = b as f64 / BUCKETS as f64;
                cdf.partition_point(|&p| p <= u).min(VOCABULARY - 1) as u32
            })
            .collect();
        Vocabulary { words, cdf, bucket }
    }

    fn sample(&self, rng: &mut SplitMix64) -> &str {
        let u = rng.next_f64();
        let b = ((u * BUCKETS as f64) as usize).min(BUCKETS - 1);
        let (lo, hi) = (self.bucket[b] as usize, self.bucket[b + 1] as usize);
        let r = lo + self.cdf[lo..=hi].partition_point(|&p| p <= u);
        &self.words[r.min(VOCABULARY - 1)]
    }

    /// The text of document `doc` of the corpus with seed `seed`.
    pub(crate) fn document(&self, seed: u64, doc: u32, out: &mut String) {
        out.clear();
        let mut rng = SplitMix64::new(mix_all(&[seed, u64::from(doc)]));
        let words = 80 + rng.below(320);
        let mut sentence = 0;
        for i in 0..words {
            let w = self.sample(&mut rng);
            if sentence == 0 {
                let mut cs = w.chars();
                if let Some(first) = cs.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(cs.as_str());
                }
            } else {
                out.push_str(w);
            }
            sentence += 1;
            if i + 1 == words || rng.below(12) == 0 {
                out.push_str(". ");
                sentence = 0;
            } else if rng.below(10) == 0 {
                out.push_str(", ");
            } else {
                out.push(' ');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_distinct_and_documents_deterministic() {
        let v = Vocabulary::new(1);
        let set: std::collections::HashSet<_> = v.words.iter().collect();
        assert_eq!(set.len(), VOCABULARY);
        let (mut a, mut b) = (String::new(), String::new());
        v.document(1, 17, &mut a);
        Vocabulary::new(1).document(1, 17, &mut b);
        assert_eq!(a, b);
        v.document(1, 18, &mut b);
        assert_ne!(a, b);
        assert!(a.ends_with(". "));
        assert_ne!(Vocabulary::new(2).words, v.words);
    }

    #[test]
    fn bucketed_sampling_matches_a_plain_cdf_search() {
        let v = Vocabulary::new(3);
        let mut rng = SplitMix64::new(9);
        for _ in 0..20_000 {
            let mut copy = rng.clone();
            let u = copy.next_f64();
            let want = v.cdf.partition_point(|&p| p <= u).min(VOCABULARY - 1);
            assert_eq!(v.sample(&mut rng), v.words[want]);
        }
    }
}
