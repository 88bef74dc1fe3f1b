//! The lookup table of the fast ASCII scorer: one open-addressing hash table from a lowercase ASCII
//! token to everything VADER 3.3.2 knows about it (lexicon valence, booster increment, membership of
//! the negation list, and the role the word plays in the rules: "no", "but", "least", idiom words...).
//!
//! Only keys an ASCII token can ever equal are stored: a token comes out of a whitespace split and
//! is looked up lowercased, so lexicon keys with whitespace, upper-case letters or non-ASCII
//! characters can never match one and are left out (the fallback scorer still sees them all).
//!
//! The data: `vader_lexicon.txt` is a byte-identical copy of the file in the vaderSentiment 3.3.2
//! sdist (MIT, copyright C.J. Hutto; see `LICENSE-VADER` beside it), and the booster, negation and
//! idiom tables below are transcribed from that package's `vaderSentiment.py`.

/// `vaderSentiment/vader_lexicon.txt` from the vaderSentiment 3.3.2 sdist, byte for byte.
pub(super) const VADER_LEXICON: &str = include_str!("vader_lexicon.txt");

/// sha256 of [`VADER_LEXICON`], as recorded for the 3.3.2 sdist (and in `vader-parity`'s PROVENANCE).
#[cfg(test)]
pub(super) const VADER_LEXICON_SHA256: &str =
    "1ec9c6e9ee19aade328f8beb393a6afa71a5bb3acf7d3cc22d4ef568df374bf5";

/// Python `str.isspace()` for an ASCII byte: the six ASCII whitespace characters (vertical tab
/// included) and the four separators U+001C..U+001F.
pub(super) const fn is_py_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f)
}

/// `B_INCR` / `B_DECR` of the reference.
const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;

/// The reference's `BOOSTER_DICT`, multi-word keys included ("just enough", "kind of", "sort of").
pub(super) const BOOSTER_DICT: [(&str, f64); 84] = [
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerable", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormous", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptional", B_INCR),
    ("exceptionally", B_INCR),
    ("extreme", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("flipping", B_INCR),
    ("flippin", B_INCR),
    ("frackin", B_INCR),
    ("fracking", B_INCR),
    ("fricking", B_INCR),
    ("frickin", B_INCR),
    ("frigging", B_INCR),
    ("friggin", B_INCR),
    ("fully", B_INCR),
    ("fuckin", B_INCR),
    ("fucking", B_INCR),
    ("fuggin", B_INCR),
    ("fugging", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredible", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("major", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("substantially", B_INCR),
    ("thoroughly", B_INCR),
    ("total", B_INCR),
    ("totally", B_INCR),
    ("tremendous", B_INCR),
    ("tremendously", B_INCR),
    ("uber", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utter", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("just enough", B_DECR),
    ("kind of", B_DECR),
    ("kinda", B_DECR),
    ("kindof", B_DECR),
    ("kind-of", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginal", B_DECR),
    ("marginally", B_DECR),
    ("occasional", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarce", B_DECR),
    ("scarcely", B_DECR),
    ("slight", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sort of", B_DECR),
    ("sorta", B_DECR),
    ("sortof", B_DECR),
    ("sort-of", B_DECR),
];

/// The reference's `SPECIAL_CASES`: key, value, and whether the Python literal is an int (CPython's
/// `sum` treats a leading run of ints differently from floats, so the int-ness is observable).
pub(super) const SPECIAL_CASES: [(&str, f64, bool); 9] = [
    ("the shit", 3.0, true),
    ("the bomb", 3.0, true),
    ("bad ass", 1.5, false),
    ("badass", 1.5, false),
    ("bus stop", 0.0, false),
    ("yeah right", -2.0, true),
    ("kiss of death", -1.5, false),
    ("to die for", 3.0, true),
    ("beating heart", 3.5, false),
];

/// The reference's `NEGATE` list (`vaderSentiment.py`), one word a line, in its order; the one copy
/// the model and the tests read. `scripts/vader_parity.py` checks it against the Python package.
pub(super) const NEGATE_TXT: &str = include_str!("negate.txt");

/// The words of [`NEGATE_TXT`].
pub(super) fn negate() -> impl Iterator<Item = &'static str> {
    NEGATE_TXT.lines().filter(|line| !line.is_empty())
}

/// Word ids: the words the rules compare tokens against, and the words of the multi-word idioms
/// and booster n-grams. Id 0 is "any other token".
pub(super) mod word {
    pub const NO: u8 = 1;
    pub const OR: u8 = 2;
    pub const NOR: u8 = 3;
    pub const KIND: u8 = 4;
    pub const OF: u8 = 5;
    pub const NEVER: u8 = 6;
    pub const SO: u8 = 7;
    pub const THIS: u8 = 8;
    pub const WITHOUT: u8 = 9;
    pub const DOUBT: u8 = 10;
    pub const LEAST: u8 = 11;
    pub const AT: u8 = 12;
    pub const VERY: u8 = 13;
    pub const BUT: u8 = 14;

    /// Every word with an id, at the index of its id.
    pub const NAMES: [&str; 15] = [
        "", "no", "or", "nor", "kind", "of", "never", "so", "this", "without", "doubt", "least",
        "at", "very", "but",
    ];
}

/// Entry flag: a lexicon key.
pub(super) const F_LEXICON: u8 = 1;
/// In `BOOSTER_DICT` as a single word.
pub(super) const F_BOOSTER: u8 = 2;
/// In `NEGATE`.
pub(super) const F_NEGATE: u8 = 4;
/// Part of a multi-word `SPECIAL_CASES` key or booster n-gram.
pub(super) const F_IDIOM: u8 = 8;

/// Everything known about one lowercase token.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Entry {
    /// Lexicon valence (meaningful with [`F_LEXICON`]).
    pub valence: f64,
    /// Booster increment (meaningful with [`F_BOOSTER`]).
    pub booster: f64,
    /// Index of the key's first word in the key-word arena.
    key_at: u16,
    /// Index of this entry in the table.
    pub index: u16,
    /// Length of the key in bytes.
    key_len: u8,
    /// `F_*` bits.
    pub flags: u8,
    /// Word id, see [`word`].
    pub word: u8,
    /// Id of the word among the words of the multi-word idioms and booster n-grams (0 = none).
    pub idiom_word: u8,
}

/// A multi-word idiom or booster n-gram: its idiom-word ids packed by [`pack2`] or [`pack3`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Phrase {
    /// The packed idiom-word ids (all non-zero).
    pub ids: u32,
    /// The replacement valence of an idiom, or the increment of a booster n-gram.
    pub value: f64,
    /// Whether the Python literal of an idiom is an int.
    pub is_int: bool,
}

/// Two idiom-word ids packed for comparison with [`Phrase::ids`].
#[inline(always)]
pub(super) fn pack2(a: u8, b: u8) -> u32 {
    u32::from(a) | (u32::from(b) << 8)
}

/// Three idiom-word ids packed for comparison with [`Phrase::ids`].
#[inline(always)]
pub(super) fn pack3(a: u8, b: u8, c: u8) -> u32 {
    pack2(a, b) | (u32::from(c) << 16)
}

/// Longest token that is looked up; longer ones cannot equal any key.
pub(super) const KEY_MAX: usize = 24;

/// A lowercase ASCII token of at most [`KEY_MAX`] bytes as three zero-padded little-endian words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Key {
    words: [u64; 3],
    len: usize,
}

/// The top bit of every byte of `w` in `lo..=hi`; every byte of `w` must be below 0x80, and
/// `0 < lo <= hi < 0x80`.
#[inline(always)]
pub(super) const fn bytes_in(w: u64, lo: u8, hi: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Byte + (0x80 - c) has its top bit set exactly when byte >= c (no carry: bytes are < 0x80).
    let at_least_lo = w.wrapping_add(ONES * (0x80 - lo as u64));
    let above_hi = w.wrapping_add(ONES * (0x80 - hi as u64 - 1));
    at_least_lo & !above_hi & (ONES * 0x80)
}

impl Key {
    /// The key of `token` lowercased. `token` must be ASCII and at most [`KEY_MAX`] bytes long.
    pub(super) fn lowercase(token: &[u8]) -> Key {
        let mut buf = [0u8; KEY_MAX];
        buf[..token.len()].copy_from_slice(token);
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[i * 8..i * 8 + 8]);
            let w = u64::from_le_bytes(b);
            w | (bytes_in(w, b'A', b'Z') >> 2)
        };
        Key::from_lowercase_words([word(0), word(1), word(2)], token.len())
    }

    /// The key of a token of `len` bytes (at most [`KEY_MAX`]) given as its lowercase bytes in
    /// three little-endian words, zero past `len`.
    #[inline(always)]
    pub(super) fn from_lowercase_words(words: [u64; 3], len: usize) -> Key {
        Key { words, len }
    }

    /// Number of words the key occupies.
    #[inline(always)]
    fn word_count(len: usize) -> usize {
        len.div_ceil(8)
    }

    #[inline(always)]
    fn hash(&self) -> u64 {
        let [w0, w1, w2] = self.words;
        let len = (self.len as u64) ^ 0x082e_fa98_ec4e_6c89;
        let a = fold_mul(w0 ^ 0x243f_6a88_85a3_08d3, w1 ^ 0x1319_8a2e_0370_7344);
        let b = fold_mul(w2 ^ 0xa409_3822_299f_31d0, len);
        fold_mul(a ^ 0x4528_21e6_38d0_1377, b ^ 0xbe54_66cf_34e9_0c6c)
    }
}

/// The high 64 bits xor the low 64 bits of a 64x64 multiplication.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// The combined table. Built once; read-only afterwards (Send + Sync by construction).
pub(super) struct Table {
    /// `(fingerprint << 16) | entry index`, 0 when empty. Power-of-two size, linear probing.
    slots: Box<[u32]>,
    /// Entry 0 is the empty entry that every unknown token maps to.
    entries: Box<[Entry]>,
    /// The keys' words, each key at its entry's `key_at`.
    key_words: Box<[u64]>,
    /// Length of the longest key; longer tokens are not looked up.
    pub max_key_len: usize,
    /// Two-word `SPECIAL_CASES` keys.
    pub idioms2: Box<[Phrase]>,
    /// Three-word `SPECIAL_CASES` keys.
    pub idioms3: Box<[Phrase]>,
    /// Two-word `BOOSTER_DICT` keys.
    pub boosters2: Box<[Phrase]>,
    /// Three-word `BOOSTER_DICT` keys (none in 3.3.2).
    pub boosters3: Box<[Phrase]>,
}

impl Table {
    /// Builds the table from the embedded data.
    pub(super) fn new() -> Table {
        // An upper bound on the number of keys sizes the slots once, for a load of at most 1/2.
        let lines = VADER_LEXICON.bytes().filter(|&b| b == b'\n').count() + 1;
        let bound = lines
            + BOOSTER_DICT.len()
            + negate().count()
            + word::NAMES.len()
            + 3 * SPECIAL_CASES.len();
        let mut builder = Builder {
            slots: vec![0; (2 * bound).next_power_of_two()],
            entries: vec![Entry::default()],
            key_words: Vec::with_capacity(2 * bound),
            idiom_words: Vec::new(),
        };

        // make_lex_dict: `line.strip().split('\t')[0:2]`, later duplicates overwrite earlier ones.
        for line in VADER_LEXICON.trim_end_matches('\n').split('\n') {
            if line.is_empty() {
                continue;
            }
            let mut fields = line.trim().split('\t');
            let (Some(key), Some(measure)) = (fields.next(), fields.next()) else {
                continue;
            };
            if !Builder::reachable(key) {
                continue;
            }
            let Some(valence) = parse_decimal(measure) else {
                continue;
            };
            if let Some(e) = builder.entry(key) {
                e.valence = valence;
                e.flags |= F_LEXICON;
            }
        }
        for (key, increment) in BOOSTER_DICT {
            if let Some(e) = builder.entry(key) {
                e.booster = increment;
                e.flags |= F_BOOSTER;
            }
        }
        for key in negate() {
            if let Some(e) = builder.entry(key) {
                e.flags |= F_NEGATE;
            }
        }
        for (id, key) in word::NAMES.iter().enumerate().skip(1) {
            if let Some(e) = builder.entry(key) {
                e.word = id as u8;
            }
        }
        let (mut idioms2, mut idioms3) = (Vec::new(), Vec::new());
        for (key, value, is_int) in SPECIAL_CASES {
            match builder.phrase(key) {
                Some((ids, 2)) => idioms2.push(Phrase { ids, value, is_int }),
                Some((ids, _)) => idioms3.push(Phrase { ids, value, is_int }),
                None => {}
            }
        }
        let (mut boosters2, mut boosters3) = (Vec::new(), Vec::new());
        for (key, value) in BOOSTER_DICT {
            let is_int = false;
            match builder.phrase(key) {
                Some((ids, 2)) => boosters2.push(Phrase { ids, value, is_int }),
                Some((ids, _)) => boosters3.push(Phrase { ids, value, is_int }),
                None => {}
            }
        }
        let max_key_len = builder
            .entries
            .iter()
            .map(|e| usize::from(e.key_len))
            .max()
            .unwrap_or(0);
        Table {
            slots: builder.slots.into_boxed_slice(),
            entries: builder.entries.into_boxed_slice(),
            key_words: builder.key_words.into_boxed_slice(),
            max_key_len,
            idioms2: idioms2.into_boxed_slice(),
            idioms3: idioms3.into_boxed_slice(),
            boosters2: boosters2.into_boxed_slice(),
            boosters3: boosters3.into_boxed_slice(),
        }
    }

    /// The entry of `key`; the empty entry (index 0) when the key is unknown.
    #[inline(always)]
    pub(super) fn lookup(&self, key: &Key) -> &Entry {
        let index = probe(&self.slots, &self.entries, &self.key_words, key).unwrap_or_default();
        &self.entries[usize::from(index)]
    }

    /// The entry at `index` (as returned by [`Table::lookup`]).
    #[inline(always)]
    pub(super) fn entry(&self, index: u16) -> &Entry {
        &self.entries[usize::from(index)]
    }

    /// Number of real entries (the empty entry 0 aside).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len() - 1
    }

    /// Bytes the table holds on the heap.
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        use std::mem::size_of_val;
        size_of_val(&*self.slots)
            + size_of_val(&*self.entries)
            + size_of_val(&*self.key_words)
            + size_of_val(&*self.idioms2)
            + size_of_val(&*self.idioms3)
            + size_of_val(&*self.boosters2)
            + size_of_val(&*self.boosters3)
    }

    /// The key of entry `index`.
    #[cfg(test)]
    pub(super) fn key(&self, index: u16) -> String {
        let e = self.entry(index);
        let start = e.key_at as usize;
        let bytes: Vec<u8> = self.key_words[start..start + Key::word_count(usize::from(e.key_len))]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .take(usize::from(e.key_len))
            .collect();
        String::from_utf8(bytes).expect("ASCII keys")
    }

    /// Lookup by string (lowercased first), for tests.
    #[cfg(test)]
    pub(super) fn get(&self, key: &str) -> Option<&Entry> {
        if key.len() > self.max_key_len || !key.is_ascii() {
            return None;
        }
        Some(self.lookup(&Key::lowercase(key.as_bytes()))).filter(|e| e.index != 0)
    }
}

/// Where `key` sits: `Ok(entry index)`, or `Err(slot)` with the empty slot that ends its probe.
#[inline(always)]
fn probe(slots: &[u32], entries: &[Entry], key_words: &[u64], key: &Key) -> Result<u16, usize> {
    let h = key.hash();
    let fingerprint = (h >> 48) as u32;
    let mask = slots.len() - 1;
    let mut at = (h as usize) & mask;
    loop {
        let slot = slots[at];
        if slot == 0 {
            return Err(at);
        }
        if slot >> 16 == fingerprint {
            let index = (slot & 0xffff) as usize;
            let e = &entries[index];
            if usize::from(e.key_len) == key.len {
                let start = e.key_at as usize;
                let stored = &key_words[start..start + Key::word_count(key.len)];
                if stored.iter().zip(&key.words).all(|(a, b)| a == b) {
                    return Ok(index as u16);
                }
            }
        }
        at = (at + 1) & mask;
    }
}

/// The table under construction; its slots are sized up front.
struct Builder {
    slots: Vec<u32>,
    entries: Vec<Entry>,
    key_words: Vec<u64>,
    /// Idiom words, by idiom-word id - 1.
    idiom_words: Vec<&'static str>,
}

impl Builder {
    /// Whether an ASCII token could ever equal `key`: not empty, at most [`KEY_MAX`] bytes, and no
    /// whitespace, upper-case or non-ASCII characters.
    fn reachable(key: &str) -> bool {
        !key.is_empty()
            && key.len() <= KEY_MAX
            && key
                .bytes()
                .all(|b| b.is_ascii() && !b.is_ascii_uppercase() && !is_py_space(b))
    }

    /// The entry for `key`, created if new; `None` when the key is not [`Builder::reachable`].
    fn entry(&mut self, key: &str) -> Option<&mut Entry> {
        if !Builder::reachable(key) {
            return None;
        }
        let k = Key::lowercase(key.as_bytes());
        let index = match probe(&self.slots, &self.entries, &self.key_words, &k) {
            Ok(index) => usize::from(index),
            Err(at) => {
                let index = self.entries.len();
                assert!(
                    index < 0xffff && 2 * index < self.slots.len(),
                    "the key bound is too low"
                );
                assert!(self.key_words.len() < 0xffff, "too many key words");
                self.slots[at] = (((k.hash() >> 48) as u32) << 16) | index as u32;
                self.entries.push(Entry {
                    key_at: self.key_words.len() as u16,
                    index: index as u16,
                    key_len: key.len() as u8,
                    ..Entry::default()
                });
                self.key_words
                    .extend_from_slice(&k.words[..Key::word_count(key.len())]);
                index
            }
        };
        Some(&mut self.entries[index])
    }

    /// The packed idiom-word ids and the word count of a multi-word key, giving each of its words
    /// an id and [`F_IDIOM`]; `None` for a single-word key (a token never holds a space, so such a
    /// key can never match a sequence of tokens).
    fn phrase(&mut self, key: &'static str) -> Option<(u32, usize)> {
        let words: Vec<&'static str> = key.split(' ').collect();
        if words.len() < 2 || words.len() > 3 {
            return None;
        }
        let mut ids = [0u8; 3];
        for (k, &w) in words.iter().enumerate() {
            let id = match self.idiom_words.iter().position(|&x| x == w) {
                Some(p) => p + 1,
                None => {
                    self.idiom_words.push(w);
                    self.idiom_words.len()
                }
            };
            let e = self.entry(w)?;
            e.idiom_word = u8::try_from(id).ok()?;
            e.flags |= F_IDIOM;
            ids[k] = e.idiom_word;
        }
        let packed = if words.len() == 2 {
            pack2(ids[0], ids[1])
        } else {
            pack3(ids[0], ids[1], ids[2])
        };
        Some((packed, words.len()))
    }
}

/// Python's `float()` of a lexicon measure. A plain decimal `-?D+(.D+)?` of at most 15 digits is
/// `n / 10^k` with `n` and `10^k` exact in an `f64`, so one IEEE division gives the nearest `f64`
/// to it, exactly what `str::parse` (and Python) give; anything else goes through `str::parse`.
fn parse_decimal(text: &str) -> Option<f64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !all_digits(whole)
        || !all_digits(fraction)
        || (digits.contains('.') && fraction.is_empty())
        || whole.len() + fraction.len() > 15
    {
        return text.parse().ok();
    }
    let n = whole
        .bytes()
        .chain(fraction.bytes())
        .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    let value = n as f64 / 10f64.powi(fraction.len() as i32);
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_lexicon_is_the_3_3_2_file() {
        let digest = Sha256::digest(VADER_LEXICON.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, VADER_LEXICON_SHA256);
    }

    #[test]
    fn the_table_holds_every_reachable_key() {
        let table = Table::new();
        // 7,506 lexicon keys, of which 7,488 are ASCII, lower-case and free of whitespace.
        let lexicon = (1..=table.len() as u16)
            .filter(|&i| table.entry(i).flags & F_LEXICON != 0)
            .count();
        assert_eq!(lexicon, 7488);
        assert_eq!(table.max_key_len, 19);
        for i in 1..=table.len() as u16 {
            let key = table.key(i);
            let found = table.get(&key).map(|e| e as *const Entry);
            assert_eq!(found, Some(table.entry(i) as *const Entry), "{key}");
        }
        assert_eq!(table.get("good").map(|e| e.valence), Some(1.9));
        assert_eq!(
            table.get("no").map(|e| (e.valence, e.word)),
            Some((-1.2, word::NO))
        );
        assert_eq!(table.get(":)").map(|e| e.valence), Some(2.0));
        assert_eq!(table.get("so").map(|e| e.booster), Some(B_INCR));
        assert!(table
            .get("kind")
            .is_some_and(|e| e.flags & F_LEXICON != 0 && e.word == word::KIND));
        assert!(table.get("wasn't").is_some_and(|e| e.flags & F_NEGATE != 0));
        assert!(table.get("good ").is_none());
        // Lookups lowercase first, as the scorer does.
        assert_eq!(table.get("GOOD").map(|e| e.valence), Some(1.9));
        assert_eq!(table.get("GooD").map(|e| e.valence), Some(1.9));
        assert!(table.get("[good]").is_none());
        assert!(table.get("goodx").is_none());
        // Compact: 64 KiB of slots, 24 bytes an entry, the keys as 8-byte words (~340 KiB).
        assert!(
            table.heap_bytes() < 384 * 1024,
            "{} bytes",
            table.heap_bytes()
        );
        // Every special case but "badass" (one word), and the three two-word boosters.
        assert_eq!((table.idioms2.len(), table.idioms3.len()), (6, 2));
        assert_eq!((table.boosters2.len(), table.boosters3.len()), (3, 0));
        for name in word::NAMES.iter().skip(1) {
            assert!(table.get(name).is_some(), "{name}");
        }
    }

    #[test]
    fn lexicon_measures_parse_like_the_standard_library() {
        let mut plain = 0;
        for line in VADER_LEXICON.lines() {
            let measure = line.trim().split('\t').nth(1).unwrap();
            let expected: f64 = measure.parse().unwrap();
            assert_eq!(
                parse_decimal(measure).map(f64::to_bits),
                Some(expected.to_bits())
            );
            plain += usize::from(!measure.contains('e'));
        }
        assert!(plain > 7000);
        for text in [
            "0", "-0", "-0.0", "3.25", "10", "1e3", "0.1", "-3.9", "x", "", "-", "1.", ".5",
        ] {
            assert_eq!(
                parse_decimal(text).map(f64::to_bits),
                text.parse::<f64>().ok().map(f64::to_bits),
                "{text:?}"
            );
        }
    }

    #[test]
    fn keys_lowercase_every_ascii_byte_like_the_standard_library() {
        for b in 0..128u8 {
            for at in 0..KEY_MAX {
                let mut token = vec![b'X'; at + 1];
                token[at] = b;
                let key = Key::lowercase(&token);
                let bytes: Vec<u8> = key.words.iter().flat_map(|w| w.to_le_bytes()).collect();
                let mut expected: Vec<u8> = token.iter().map(u8::to_ascii_lowercase).collect();
                expected.resize(KEY_MAX, 0);
                assert_eq!(bytes, expected, "byte {b:#x} at {at}");
                assert_eq!(key.len, at + 1);
            }
        }
    }

    #[test]
    fn role_words_are_not_lexicon_boosters_or_negations_where_the_rules_assume_so() {
        // The scorer follows the reference whatever the flags say; this pins the data it was
        // measured on.
        let table = Table::new();
        let but = table.get("but").unwrap();
        assert_eq!(but.flags & (F_LEXICON | F_BOOSTER), 0);
    }
}
