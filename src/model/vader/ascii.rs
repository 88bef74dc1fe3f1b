//! The fast VADER 3.3.2 scorer for ASCII texts, written from the reference algorithm
//! (`vaderSentiment.py` 3.3.2) and exact to the bit against it as `vader-parity` computes it.
//!
//! For an ASCII text the reference's preparation is simple: no emoji-lexicon key is ASCII, so the
//! emoji translation is the identity and its final `strip()` only drops outer whitespace, which
//! neither the whitespace split nor the `!`/`?` counts can see. The text is split eight bytes at a
//! time; each token is lowercased the same way and looked up once in [`Table`], and the rules then
//! read the per-token facts (lexicon, booster, negation, word id, all-caps) from a 4-byte [`Tok`].
//! Nothing is allocated per call once the per-thread buffers are warm. Python's
//! number semantics are kept where they are observable: every float operation of the reference
//! happens here in the same order, the int-ness of a valence is tracked for CPython's `sum` (whose
//! leading int run is added without compensation, then a Neumaier loop), and `round` is Python's.
//!
//! The scorer declines (returns `None`) non-ASCII texts, and texts whose "but" reweighting would
//! cost more than [`BUT_SCAN_BUDGET`] steps per valence (only contrived texts, full of repeated
//! values that the reweighting turns into one another); the caller scores those with
//! `vader-parity`.

use std::cell::RefCell;

use super::lexicon::{
    bytes_in, pack2, pack3, word, Entry, Key, Phrase, Table, F_BOOSTER, F_IDIOM, F_LEXICON,
    F_NEGATE, KEY_MAX,
};
use super::round::python_round;
use crate::model::Scores;

/// `C_INCR`: all-caps emphasis.
const C_INCR: f64 = 0.733;
/// `N_SCALAR`: negation.
const N_SCALAR: f64 = -0.74;

/// Slots the "but" reweighting may scan per non-zero valence, on average, before the text is
/// declined (see [`but_check`]).
const BUT_SCAN_BUDGET: usize = 32;

/// Byte classes, for the rare byte-at-a-time paths.
const C_PUNCT: u8 = 1;
const C_UPPER: u8 = 2;
const C_LOWER: u8 = 4;
const C_APOS: u8 = 8;

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        if c.is_ascii_punctuation() {
            class |= C_PUNCT;
        }
        if c.is_ascii_uppercase() {
            class |= C_UPPER;
        }
        if c.is_ascii_lowercase() {
            class |= C_LOWER;
        }
        if c == b'\'' {
            class |= C_APOS;
        }
        t[b] = class;
        b += 1;
    }
    t
}

static CLASS: [u8; 256] = classes();

/// Token flag: `isupper()`.
const T_UPPER: u8 = 0x40;
/// Token flag: the lowercased token contains "n't".
const T_NT: u8 = 0x80;

/// One token: its table entry and the facts the rules read.
#[derive(Clone, Copy, Debug)]
struct Tok {
    /// Table entry index, 0 for an unknown token.
    entry: u16,
    /// `F_*` bits of the entry, plus `T_UPPER` and `T_NT`.
    flags: u8,
    /// Word id of the entry.
    word: u8,
}

impl Tok {
    #[inline(always)]
    fn in_lexicon(self) -> bool {
        self.flags & F_LEXICON != 0
    }

    #[inline(always)]
    fn is_upper(self) -> bool {
        self.flags & T_UPPER != 0
    }

    /// The reference's `negated([word])`: in `NEGATE`, or containing "n't".
    #[inline(always)]
    fn negated(self) -> bool {
        self.flags & (F_NEGATE | T_NT) != 0
    }

    #[inline(always)]
    fn is(self, id: u8) -> bool {
        self.word == id
    }
}

/// One valence of the sentiments list, and whether Python holds it as an int.
#[derive(Clone, Copy, Debug)]
struct Val {
    v: f64,
    int: bool,
}

impl Val {
    /// Python's int `0`.
    const INT_ZERO: Val = Val { v: 0.0, int: true };

    #[inline(always)]
    fn float(v: f64) -> Val {
        Val { v, int: false }
    }
}

/// Per-thread buffers, reused from call to call, so a call allocates nothing once warm.
#[derive(Default)]
struct Scratch {
    /// The text and [`PAD`] zero bytes.
    padded: Vec<u8>,
    /// The tokens.
    toks: Vec<Tok>,
    /// The sentiments list, one valence per token.
    vals: Vec<Val>,
    /// [`but_check`]: the non-zero valences and their positions.
    nonzero: Vec<(u32, f64)>,
    /// [`but_check`]: value to first holder.
    first: Vec<(u64, u32)>,
}

/// Buffers grown past this many elements are released after the call.
const SCRATCH_KEEP: usize = 1 << 14;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Scores `text` if it is ASCII (and not declined, see the module docs).
pub(super) fn score(table: &Table, text: &str) -> Option<Scores> {
    // Positions are held in 32 bits (a service text is far shorter).
    if !text.is_ascii() || text.len() >= u32::MAX as usize {
        return None;
    }
    let text = text.as_bytes();
    SCRATCH
        .try_with(|cell| {
            let mut scratch = cell.try_borrow_mut().ok()?;
            let scores = score_with(table, text, &mut scratch);
            if scratch.padded.capacity() > SCRATCH_KEEP || scratch.first.capacity() > SCRATCH_KEEP {
                *scratch = Scratch::default();
            }
            Some(scores)
        })
        .ok()
        .flatten()
        // No thread-local buffers (a thread being torn down): fresh ones.
        .unwrap_or_else(|| score_with(table, text, &mut Scratch::default()))
}

fn score_with(table: &Table, text: &[u8], scratch: &mut Scratch) -> Option<Scores> {
    let Scratch {
        padded,
        toks,
        vals,
        nonzero,
        first,
    } = scratch;
    let n = text.len();
    padded.clear();
    padded.extend_from_slice(text);
    padded.resize(n + PAD, 0);
    let facts = tokenize(table, padded, n, toks);
    let toks = &toks[..];

    // `allcap_differential`: some tokens but not all are all-caps.
    let cap_diff = facts.upper_tokens > 0 && facts.upper_tokens < toks.len();

    vals.clear();
    vals.reserve(toks.len());
    for (i, &t) in toks.iter().enumerate() {
        // Boosters and the "kind" of "kind of" are not scored themselves.
        let modifier = t.flags & F_BOOSTER != 0
            || (t.is(word::KIND) && toks.get(i + 1).is_some_and(|n| n.is(word::OF)));
        if modifier {
            vals.push(Val::INT_ZERO);
        } else if t.in_lexicon() {
            vals.push(sentiment_valence(table, toks, i, cap_diff));
        } else {
            vals.push(Val::INT_ZERO);
        }
    }

    if let Some(bi) = facts.first_but {
        if !but_check(vals, bi, nonzero, first) {
            return None;
        }
    }
    Some(score_valence(vals, facts.exclamations, facts.questions))
}

/// Eight bytes at `at` as a little-endian word (`bytes` must hold `at + 8` bytes).
#[inline(always)]
fn load(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Bit `k` set where byte `k` of `high_bits` has its top bit set.
#[inline(always)]
fn gather(high_bits: u64) -> u64 {
    ((high_bits >> 7) & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Top bit of every byte of `w` that is Python whitespace (bytes must be ASCII).
#[inline(always)]
fn space_bytes(w: u64) -> u64 {
    bytes_in(w, 0x09, 0x0d) | bytes_in(w, 0x1c, 0x20)
}

/// What [`tokenize`] learns on the way.
struct TextFacts {
    /// Number of `!` in the text.
    exclamations: usize,
    /// Number of `?` in the text.
    questions: usize,
    /// Number of all-caps tokens.
    upper_tokens: usize,
    /// Index of the first token "but" (any case).
    first_but: Option<usize>,
}

/// Splits the text (zero-padded by [`PAD`] bytes in `padded`) on Python whitespace into `toks`.
///
/// The text is read eight bytes at a time into one whitespace bit per byte, 64 bytes per block;
/// the bits that differ from their predecessor's are the token starts and ends.
fn tokenize(table: &Table, padded: &[u8], n: usize, toks: &mut Vec<Tok>) -> TextFacts {
    toks.clear();
    let (mut exclamations, mut questions, mut upper_tokens) = (0, 0, 0);
    let mut first_but = None;
    // Position -1 counts as whitespace, and so does every position from `n` on.
    let mut previous = 1u64;
    let mut start = 0;
    for base in (0..=n).step_by(64) {
        let mut spaces = 0u64;
        for k in 0..8 {
            let at = base + 8 * k;
            if at >= n {
                break;
            }
            // The padding is zeros: neither whitespace nor marks.
            let w = load(padded, at);
            spaces |= gather(space_bytes(w)) << (8 * k);
            exclamations += bytes_in(w, b'!', b'!').count_ones() as usize;
            questions += bytes_in(w, b'?', b'?').count_ones() as usize;
        }
        if n - base < 64 {
            spaces |= !0u64 << (n - base);
        }
        let mut edges = spaces ^ ((spaces << 1) | previous);
        previous = spaces >> 63;
        while edges != 0 {
            let bit = edges.trailing_zeros() as usize;
            edges &= edges - 1;
            if (spaces >> bit) & 1 == 0 {
                start = base + bit;
            } else {
                let tok = token(table, padded, start, base + bit);
                upper_tokens += usize::from(tok.is_upper());
                if tok.is(word::BUT) && first_but.is_none() {
                    first_but = Some(toks.len());
                }
                toks.push(tok);
            }
        }
    }
    TextFacts {
        exclamations,
        questions,
        upper_tokens,
        first_but,
    }
}

/// Extra zero bytes after the text, so that the three words of a key can always be loaded.
const PAD: usize = KEY_MAX + 8;

/// The token of the whitespace-free word `padded[start..end]`.
#[inline(always)]
fn token(table: &Table, padded: &[u8], start: usize, end: usize) -> Tok {
    // `_strip_punc_if_word`: strip `string.punctuation` from both ends, and keep the word as it was
    // when two characters or fewer would remain.
    let (mut s, mut e) = (start, end);
    let punct = |b: u8| CLASS[usize::from(b)] & C_PUNCT != 0;
    if punct(padded[s]) || punct(padded[e - 1]) {
        while s < e && punct(padded[s]) {
            s += 1;
        }
        while e > s && punct(padded[e - 1]) {
            e -= 1;
        }
        if e - s <= 2 {
            (s, e) = (start, end);
        }
    }
    let len = e - s;
    // `isupper()`: some cased character and all of them upper case. Stripping removes no letters,
    // so the token answers for the word.
    let (upper, lower, apostrophe, entry): (_, _, _, &Entry);
    if len <= KEY_MAX {
        let mut words = [0u64; 3];
        let (mut u, mut l, mut a) = (0, 0, 0);
        let last = len.div_ceil(8).max(1) - 1;
        for (k, word) in words.iter_mut().enumerate().take(last + 1) {
            let mut w = load(padded, s + 8 * k);
            if k == last {
                // Keep the token's bytes only: 1 to 8 of them in the last word.
                w &= !0u64 >> (64 - 8 * (len - 8 * last));
            }
            let up = bytes_in(w, b'A', b'Z');
            u |= up;
            l |= bytes_in(w, b'a', b'z');
            a |= bytes_in(w, b'\'', b'\'');
            *word = w | (up >> 2);
        }
        (upper, lower, apostrophe) = (u != 0, l != 0, a != 0);
        entry = if len <= table.max_key_len {
            table.lookup(&Key::from_lowercase_words(words, len))
        } else {
            table.entry(0)
        };
    } else {
        let seen = padded[s..e]
            .iter()
            .fold(0, |seen, &b| seen | CLASS[usize::from(b)]);
        upper = seen & C_UPPER != 0;
        lower = seen & C_LOWER != 0;
        apostrophe = seen & C_APOS != 0;
        entry = table.entry(0);
    }
    let mut flags = 0;
    if upper && !lower {
        flags |= T_UPPER;
    }
    if apostrophe && contains_nt(&padded[s..e]) {
        flags |= T_NT;
    }
    Tok {
        entry: entry.index,
        flags: flags | entry.flags,
        word: entry.word,
    }
}

/// Whether the lowercase form of `tok` contains "n't".
fn contains_nt(tok: &[u8]) -> bool {
    tok.windows(3).any(|w| {
        w[0].eq_ignore_ascii_case(&b'n') && w[1] == b'\'' && w[2].eq_ignore_ascii_case(&b't')
    })
}

/// `scalar_inc_dec`: the booster contribution of a preceding token.
#[inline(always)]
fn scalar_inc_dec(table: &Table, t: Tok, valence: f64, cap_diff: bool) -> f64 {
    let mut scalar = 0.0;
    if t.flags & F_BOOSTER != 0 {
        scalar = table.entry(t.entry).booster;
        if valence < 0.0 {
            scalar = -scalar;
        }
        if t.is_upper() && cap_diff {
            if valence > 0.0 {
                scalar += C_INCR;
            } else {
                scalar -= C_INCR;
            }
        }
    }
    scalar
}

/// `sentiment_valence` for a lexicon token at `i` (boosters and "kind of" are handled by the caller).
fn sentiment_valence(table: &Table, toks: &[Tok], i: usize, cap_diff: bool) -> Val {
    let t = toks[i];
    let lex = table.entry(t.entry).valence;
    let p1 = if i >= 1 { Some(toks[i - 1]) } else { None };
    let p2 = if i >= 2 { Some(toks[i - 2]) } else { None };
    let p3 = if i >= 3 { Some(toks[i - 3]) } else { None };
    let is = |p: Option<Tok>, id: u8| p.is_some_and(|p| p.is(id));

    let mut v = lex;
    // "no" before another lexicon word is not itself scored.
    if t.is(word::NO) && toks.get(i + 1).is_some_and(|n| n.in_lexicon()) {
        v = 0.0;
    }
    if is(p1, word::NO)
        || is(p2, word::NO)
        || (is(p3, word::NO) && (is(p1, word::OR) || is(p1, word::NOR)))
    {
        v = lex * N_SCALAR;
    }
    if t.is_upper() && cap_diff {
        if v > 0.0 {
            v += C_INCR;
        } else {
            v -= C_INCR;
        }
    }

    // start_i == 0
    if let Some(p1) = p1 {
        if !p1.in_lexicon() {
            let s = scalar_inc_dec(table, p1, v, cap_diff);
            v += s;
            if p1.negated() {
                v *= N_SCALAR;
            }
        }
    }
    // start_i == 1
    if let (Some(p1), Some(p2)) = (p1, p2) {
        if !p2.in_lexicon() {
            let mut s = scalar_inc_dec(table, p2, v, cap_diff);
            if s != 0.0 {
                s *= 0.95;
            }
            v += s;
            if p2.is(word::NEVER) && (p1.is(word::SO) || p1.is(word::THIS)) {
                v *= 1.25;
            } else if p2.is(word::WITHOUT) && p1.is(word::DOUBT) {
                // unchanged
            } else if p2.negated() {
                v *= N_SCALAR;
            }
        }
    }
    // start_i == 2
    let mut int = false;
    if let (Some(p1), Some(p2), Some(p3)) = (p1, p2, p3) {
        if !p3.in_lexicon() {
            let mut s = scalar_inc_dec(table, p3, v, cap_diff);
            if s != 0.0 {
                s *= 0.9;
            }
            v += s;
            // Python's `and` binds tighter than `or`: a bare "so"/"this" right before the word counts.
            if (p3.is(word::NEVER) && (p2.is(word::SO) || p2.is(word::THIS)))
                || (p1.is(word::SO) || p1.is(word::THIS))
            {
                v *= 1.25;
            } else if p3.is(word::WITHOUT) && (p2.is(word::DOUBT) || p1.is(word::DOUBT)) {
                // unchanged
            } else if p3.negated() {
                v *= N_SCALAR;
            }
            (v, int) = special_idioms_check(table, toks, i, v);
        }
    }

    // _least_check
    if let Some(p1) = p1 {
        if !p1.in_lexicon() && p1.is(word::LEAST) {
            let exempt = p2.is_some_and(|p2| p2.is(word::AT) || p2.is(word::VERY));
            if !exempt {
                return Val::float(v * N_SCALAR);
            }
        }
    }
    Val { v, int }
}

/// `_special_idioms_check` at `i >= 3`: returns the valence and whether it is a Python int.
fn special_idioms_check(table: &Table, toks: &[Tok], i: usize, valence: f64) -> (f64, bool) {
    // Every idiom and booster n-gram is two or three idiom words in a row.
    let end = (i + 3).min(toks.len());
    let idiom_word = |t: &Tok| t.flags & F_IDIOM != 0;
    if !toks[i - 3..end]
        .windows(2)
        .any(|pair| idiom_word(&pair[0]) && idiom_word(&pair[1]))
    {
        return (valence, false);
    }
    let id = |k: usize| table.entry(toks[k].entry).idiom_word;
    fn find(phrases: &[Phrase], ids: u32) -> Option<&Phrase> {
        phrases.iter().find(|p| p.ids == ids)
    }
    let (w3, w2, w1, w0) = (id(i - 3), id(i - 2), id(i - 1), id(i));
    let (onezero, twoone, threetwo) = (pack2(w1, w0), pack2(w2, w1), pack2(w3, w2));
    let (twoonezero, threetwoone) = (pack3(w2, w1, w0), pack3(w3, w2, w1));
    let mut v = valence;
    let mut int = false;
    // sequences = [onezero, twoonezero, twoone, threetwoone, threetwo]; the first hit wins.
    let hit = find(&table.idioms2, onezero)
        .or_else(|| find(&table.idioms3, twoonezero))
        .or_else(|| find(&table.idioms2, twoone))
        .or_else(|| find(&table.idioms3, threetwoone))
        .or_else(|| find(&table.idioms2, threetwo));
    if let Some(p) = hit {
        v = p.value;
        int = p.is_int;
    }
    if i + 1 < toks.len() {
        if let Some(p) = find(&table.idioms2, pack2(w0, id(i + 1))) {
            v = p.value;
            int = p.is_int;
        }
    }
    if i + 2 < toks.len() {
        if let Some(p) = find(&table.idioms3, pack3(w0, id(i + 1), id(i + 2))) {
            v = p.value;
            int = p.is_int;
        }
    }
    // n_grams = [threetwoone, threetwo, twoone] against BOOSTER_DICT.
    let ngrams = [
        find(&table.boosters3, threetwoone),
        find(&table.boosters2, threetwo),
        find(&table.boosters2, twoone),
    ];
    for p in ngrams.into_iter().flatten() {
        v += p.value;
        int = false;
    }
    (v, int)
}

/// `_but_check`, with its quirk: each value is re-found with `sentiments.index(value)`, the first
/// slot holding an equal value (numerically: `0 == 0.0 == -0.0`, `3 == 3.0`), and that slot is the
/// one reweighted, by 0.5 before the first "but" and 1.5 after it (the "but" slot itself never).
///
/// The value read at position `p` is always the original one: slots are only rewritten at or
/// before the position being read. Zero and non-zero values never compare equal and a reweighting
/// keeps a value's zero-ness, so the two classes are handled apart.
///
/// Zeros: every zero re-finds the first zero slot `z`, so `z` ends as (last zero) x weight(z), and
/// no other zero slot changes.
///
/// Non-zero values, in order (`k` counts them): the first slot holding `x_k` is the first among
/// the slots already visited that holds it, else `k` itself. A map from value to that first
/// visited holder keeps the search constant-time: when the holder `j` is rewritten, the next
/// holder is found by scanning the visited slots after `j` (slot `k` itself still holds `x_k`).
/// Those scans are short on real text; past [`BUT_SCAN_BUDGET`] steps per value the text is
/// declined (`false`) and left to the exact fallback.
fn but_check(
    vals: &mut [Val],
    bi: usize,
    nonzero: &mut Vec<(u32, f64)>,
    first: &mut Vec<(u64, u32)>,
) -> bool {
    let weight = |slot: usize| {
        if slot < bi {
            Some(0.5)
        } else if slot > bi {
            Some(1.5)
        } else {
            None
        }
    };
    nonzero.clear();
    let mut first_zero = None;
    let mut last_zero = 0.0;
    for (p, s) in vals.iter().enumerate() {
        if s.v == 0.0 {
            first_zero.get_or_insert(p);
            last_zero = s.v;
        } else {
            nonzero.push((p as u32, s.v));
        }
    }
    if let Some(z) = first_zero {
        if let Some(w) = weight(z) {
            vals[z] = Val::float(last_zero * w);
        }
    }
    let m = nonzero.len();
    if m == 0 {
        return true;
    }

    // Open addressing on the value's bits (never 0: the values are non-zero); `NONE` when no
    // visited slot holds the value any more.
    const NONE: u32 = u32::MAX;
    let size = (4 * m).next_power_of_two();
    let mask = size - 1;
    first.clear();
    first.resize(size, (0, NONE));
    let find = |first: &[(u64, u32)], bits: u64| {
        let mut at = (bits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize & mask;
        while first[at].0 != bits && first[at].0 != 0 {
            at = (at + 1) & mask;
        }
        at
    };
    let mut budget = BUT_SCAN_BUDGET * m;

    for k in 0..m {
        let (_, x) = nonzero[k];
        let at = find(first, x.to_bits());
        let j = match first[at] {
            (bits, holder) if bits != 0 && holder != NONE => holder as usize,
            _ => k,
        };
        let slot = nonzero[j].0 as usize;
        let Some(w) = weight(slot) else {
            // The "but" slot itself (never non-zero in VADER 3.3.2) keeps its value.
            if j == k {
                first[at] = (x.to_bits(), k as u32);
            }
            continue;
        };
        if j < k {
            // Slot j stops holding x; the next visited holder is after it, or slot k.
            let scan = (j + 1..k).find(|&i| nonzero[i].1 == x);
            budget = match budget.checked_sub(scan.map_or(k - j, |i| i - j)) {
                Some(rest) => rest,
                None => return false,
            };
            first[at].1 = scan.unwrap_or(k) as u32;
        }
        let written = x * w;
        nonzero[j].1 = written;
        vals[slot] = Val::float(written);
        let bits = written.to_bits();
        let at = find(first, bits);
        if first[at].0 == 0 {
            first[at] = (bits, j as u32);
        } else if first[at].1 == NONE || (j as u32) < first[at].1 {
            first[at].1 = j as u32;
        }
    }
    true
}

/// CPython's builtin `sum` over the sentiments: a leading run of ints is summed exactly, the first
/// float is added to it plainly, and the rest goes through the Neumaier-compensated float loop.
fn python_sum(vals: &[Val]) -> f64 {
    let mut rest = vals.iter();
    let mut int_sum = 0.0_f64;
    let (mut sum, mut c) = loop {
        match rest.next() {
            None => return int_sum,
            Some(x) if x.int => int_sum += x.v,
            Some(x) => break (int_sum + x.v, 0.0_f64),
        }
    };
    for x in rest {
        let x = x.v;
        let t = sum + x;
        if sum.abs() >= x.abs() {
            c += (sum - t) + x;
        } else {
            c += (x - t) + sum;
        }
        sum = t;
    }
    if c != 0.0 && c.is_finite() {
        sum += c;
    }
    sum
}

/// `score_valence` with `_punctuation_emphasis`, `normalize` and `_sift_sentiment_scores`, rounded.
fn score_valence(vals: &[Val], exclamations: usize, questions: usize) -> Scores {
    if vals.is_empty() {
        return Scores {
            compound: 0.0,
            positive: 0.0,
            neutral: 0.0,
            negative: 0.0,
        };
    }
    let ep = exclamations.min(4) as f64 * 0.292;
    let qm = if questions > 1 {
        if questions <= 3 {
            questions as f64 * 0.18
        } else {
            0.96
        }
    } else {
        0.0
    };
    let amplifier = ep + qm;

    let mut sum = python_sum(vals);
    if sum > 0.0 {
        sum += amplifier;
    } else if sum < 0.0 {
        sum -= amplifier;
    }
    let compound = (sum / (sum * sum + 15.0).sqrt()).clamp(-1.0, 1.0);

    let (mut pos_sum, mut neg_sum, mut neu_count) = (0.0_f64, 0.0_f64, 0.0_f64);
    for x in vals {
        let v = x.v;
        if v > 0.0 {
            pos_sum += v + 1.0;
        }
        if v < 0.0 {
            neg_sum += v - 1.0;
        }
        if v == 0.0 {
            neu_count += 1.0;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += amplifier;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= amplifier;
    }
    let total = pos_sum + neg_sum.abs() + neu_count;
    Scores {
        compound: python_round(compound, 4),
        positive: python_round((pos_sum / total).abs(), 3),
        neutral: python_round((neu_count / total).abs(), 3),
        negative: python_round((neg_sum / total).abs(), 3),
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexicon::is_py_space;
    use super::*;

    #[test]
    fn python_whitespace_is_the_ten_ascii_separators() {
        let spaces: Vec<u8> = (0..=127u8).filter(|&b| is_py_space(b)).collect();
        assert_eq!(spaces, [9, 10, 11, 12, 13, 28, 29, 30, 31, 32]);
    }

    #[test]
    fn word_at_a_time_whitespace_matches_the_byte_predicate() {
        for b in 0..128u8 {
            for k in 0..8 {
                for filler in [b'x', b' '] {
                    let mut bytes = [filler; 8];
                    bytes[k] = b;
                    let expected = (0..8)
                        .filter(|&j| is_py_space(bytes[j]))
                        .fold(0u64, |m, j| m | 1 << j);
                    let w = u64::from_le_bytes(bytes);
                    assert_eq!(gather(space_bytes(w)), expected, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn the_tokenizer_splits_like_python() {
        let table = Table::new();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let alphabet = b" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1fab!.'";
        for len in (0..300).chain([511, 512, 513, 1000]) {
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let mut padded = text.clone();
            padded.resize(len + PAD, 0);
            let mut toks = Vec::new();
            let facts = tokenize(&table, &padded, len, &mut toks);
            let count = |c: u8| text.iter().filter(|&&b| b == c).count();
            assert_eq!(facts.exclamations, count(b'!'));
            assert_eq!(facts.questions, count(b'?'));
            let expected = text
                .split(|&b| is_py_space(b))
                .filter(|w| !w.is_empty())
                .count();
            assert_eq!(toks.len(), expected, "{:?}", String::from_utf8_lossy(&text));
        }
    }

    /// `_but_check` as the reference writes it: a live list, `index()` and pop/insert.
    fn but_check_literally(vals: &mut Vec<Val>, bi: usize) {
        for pos in 0..vals.len() {
            let sentiment = vals[pos];
            let si = vals.iter().position(|v| v.v == sentiment.v).unwrap();
            let w = match si.cmp(&bi) {
                std::cmp::Ordering::Less => 0.5,
                std::cmp::Ordering::Greater => 1.5,
                std::cmp::Ordering::Equal => continue,
            };
            vals.remove(si);
            vals.insert(si, Val::float(sentiment.v * w));
        }
    }

    #[test]
    fn the_but_check_matches_the_literal_transcription() {
        // Values closed under x0.5 and x1.5 collide often, which is what the quirk is about.
        let palette = [
            0.0, -0.0, 0.75, 1.5, 3.0, 4.5, 2.25, 1.125, 6.75, -1.5, -3.0, -0.75, -4.5, 1.9, 2.8,
        ];
        let mut state = 0x1234_5678_9abc_def1_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut nonzero, mut first) = (Vec::new(), Vec::new());
        for case in 0..20_000 {
            let len = 1 + next(if case % 10 == 0 { 300 } else { 30 });
            let distinct = 1 + next(palette.len());
            let mut vals: Vec<Val> = (0..len)
                .map(|_| Val {
                    v: palette[next(distinct)],
                    int: next(3) == 0,
                })
                .collect();
            let bi = next(len);
            vals[bi] = Val::INT_ZERO;
            let mut expected = vals.clone();
            but_check_literally(&mut expected, bi);
            assert!(but_check(&mut vals, bi, &mut nonzero, &mut first));
            let bits = |v: &[Val]| v.iter().map(|x| (x.v.to_bits(), x.int)).collect::<Vec<_>>();
            assert_eq!(bits(&vals), bits(&expected), "case {case}, but at {bi}");
        }
    }

    #[test]
    fn a_costly_but_check_is_declined() {
        // u, u/2 pairs before the "but" leave each u/2 held early; each u/2 after it then scans
        // across the whole first half: quadratic, declined for many pairs, exact for a few.
        for (pairs, declined) in [(20, false), (300, true)] {
            let mut vals = Vec::new();
            for i in 0..pairs {
                let u = f64::from(i) + 1.0;
                vals.push(Val::float(u));
                vals.push(Val::float(u * 0.5));
            }
            let bi = vals.len();
            vals.push(Val::INT_ZERO);
            for i in 0..pairs {
                vals.push(Val::float((f64::from(i) + 1.0) * 0.5));
            }
            let mut expected = vals.clone();
            but_check_literally(&mut expected, bi);
            let (mut nonzero, mut first) = (Vec::new(), Vec::new());
            let taken = but_check(&mut vals, bi, &mut nonzero, &mut first);
            assert_eq!(taken, !declined, "{pairs} pairs");
            if taken {
                let bits = |v: &[Val]| v.iter().map(|x| (x.v.to_bits(), x.int)).collect::<Vec<_>>();
                assert_eq!(bits(&vals), bits(&expected));
            }
        }
    }

    #[test]
    fn python_sum_keeps_the_int_fast_path_and_compensation() {
        let f = Val::float;
        let i = |v: f64| Val { v, int: true };
        // sum([9, -2.6, -1.6]) differs from sum([9.0, -2.6, -1.6]) in CPython >= 3.12.
        let ints_first = python_sum(&[i(9.0), f(-2.6), f(-1.6)]);
        let floats = python_sum(&[f(9.0), f(-2.6), f(-1.6)]);
        assert_eq!(ints_first, (9.0 - 2.6) - 1.6);
        assert_ne!(ints_first.to_bits(), floats.to_bits());
        assert_eq!(python_sum(&[f(1e100), i(1.0), f(-1e100)]), 1.0);
        assert_eq!(python_sum(&[]).to_bits(), 0.0_f64.to_bits());
    }

    #[test]
    fn nt_is_found_in_any_case() {
        assert!(contains_nt(b"don't"));
        assert!(contains_nt(b"DON'T"));
        assert!(contains_nt(b"xN'Tx"));
        assert!(!contains_nt(b"n'"));
        assert!(!contains_nt(b"nt"));
    }
}
