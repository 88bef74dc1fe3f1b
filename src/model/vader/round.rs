//! Python's `round(x, 3)` and `round(x, 4)`: the exact binary value of `x` rounded to 3 or 4
//! decimals, correctly (ties to even on the exact value), then the nearest `f64` to that decimal.
//!
//! Fast path: `y = x * 10^d` is within half an ulp of the exact product (|y| <= 10^4 here, so
//! within ~1e-12), so unless the fraction of `y` is within [`TIE_MARGIN`] of one half, rounding `y`
//! to the nearest integer gives the correctly rounded integer `n`; `n / 10^d` is a correctly rounded
//! IEEE division, i.e. the nearest `f64` to the decimal `n / 10^d`, which is what Python's
//! `float(repr)` would give. A zero result keeps the sign of `x`, as Python's `round(-0.0003, 3)` is
//! `-0.0`.
//!
//! Near a tie (or for values too large for the bound above) the exact method runs: Rust's
//! fixed-precision formatting rounds the exact binary value to nearest, ties to even, and `parse`
//! returns the nearest `f64`; that is the method `vader-parity` uses for every value.

/// Distance from one half below which the fast path defers to the exact method.
const TIE_MARGIN: f64 = 1e-6;

/// `round(x, digits)` for `digits` of 3 or 4.
#[inline]
pub(super) fn python_round(x: f64, digits: usize) -> f64 {
    let scale = if digits == 3 { 1e3 } else { 1e4 };
    let y = x * scale;
    if y.abs() < 1e6 {
        // Truncation and the fraction left over are exact here.
        let truncated = y as i64;
        let fraction = (y - truncated as f64).abs();
        if (fraction - 0.5).abs() > TIE_MARGIN {
            let n = if fraction < 0.5 {
                truncated
            } else if y > 0.0 {
                truncated + 1
            } else {
                truncated - 1
            };
            // A zero keeps the sign of `x`, as in Python: round(-0.0001, 3) is -0.0.
            return if n == 0 {
                0.0_f64.copysign(x)
            } else {
                n as f64 / scale
            };
        }
    }
    exact_round(x, digits)
}

/// The exact method (see the module docs).
#[cold]
pub(super) fn exact_round(x: f64, digits: usize) -> f64 {
    format!("{x:.digits$}").parse::<f64>().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(x: f64) {
        for digits in [3, 4] {
            assert_eq!(
                python_round(x, digits).to_bits(),
                exact_round(x, digits).to_bits(),
                "round({x:e}, {digits})"
            );
        }
    }

    #[test]
    fn ties_and_signs_follow_python() {
        // round(0.0625, 3) == 0.062: an exact tie, to even.
        assert_eq!(python_round(0.0625, 3), 0.062);
        // round(0.0635, 3) == 0.064 and round(0.0645, 3) == 0.065: above the tie in binary.
        assert_eq!(python_round(0.0635, 3), 0.064);
        assert_eq!(python_round(0.0645, 3), 0.065);
        // round(2.675, 2) == 2.67: below the tie in binary (a naive `round(x * 100) / 100` says 2.68).
        assert_eq!(exact_round(2.675, 2), 2.67);
        assert_eq!(python_round(0.0285, 3), 0.029);
        assert_eq!(python_round(0.00005, 4), 0.0001);
        assert_eq!(python_round(-0.00004, 3).to_bits(), (-0.0_f64).to_bits());
        assert_eq!(python_round(-0.0, 4).to_bits(), (-0.0_f64).to_bits());
        assert_eq!(python_round(0.0, 4).to_bits(), 0.0_f64.to_bits());
        assert_eq!(python_round(1.0, 3), 1.0);
        assert_eq!(python_round(-1.0, 4), -1.0);
    }

    #[test]
    fn the_fast_path_agrees_with_the_exact_method() {
        // Every decimal tie and its neighbours, and a sweep of pseudo-random values in [-1, 1].
        for n in -20_000..=20_000_i64 {
            let tie = (n as f64 + 0.5) / 1e4;
            check(tie);
            check(f64::from_bits(tie.to_bits() + 1));
            check(f64::from_bits(tie.to_bits() - 1));
            let tie3 = (n as f64 + 0.5) / 1e3;
            check(tie3);
            check(f64::from_bits(tie3.to_bits() + 1));
            check(f64::from_bits(tie3.to_bits() - 1));
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            check(x);
            check(x * 1e-3);
            check(x * 1e-6);
        }
    }
}
