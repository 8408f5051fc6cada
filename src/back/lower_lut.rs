//! How an interpolated table lookup is printed (decided once, here, for
//! every back end that prints it).
//!
//! [`crate::ir::Lut::apply`] (the interpreter's arithmetic, the oracle) is
//!
//! ```text
//! d = clamp(x, lo, hi) - lo,  k = d >> s,  f = d & (2^s - 1)
//! y = table[k] + ((delta[k] * f + 2^(s - 1)) >> s)
//! ```
//!
//! Because `table[k] * 2^s` is a multiple of `2^s`, the floor division
//! takes it in whole, and `f = d - k * 2^s`; so, with
//!
//! ```text
//! base[k] = table[k] * 2^s + 2^(s - 1) - delta[k] * k * 2^s
//! ```
//!
//! `y = (base[k] + delta[k] * d) >> s`, the same integer for every `d`:
//! one multiply, one add and one shift, no mask and no rounding constant
//! (the "folded" form). It is chosen where every intermediate of it is
//! proven inside s64 for every step and fraction (computed here in i128);
//! otherwise the table keeps the plain form.

use crate::ir::Lut;

/// The printed form of one interpolated table.
#[derive(Clone, Debug, PartialEq)]
pub enum LutForm {
    /// `table[k] + rescale(f, delta[k], s)`, as [`Lut::apply`] reads.
    Plain,
    /// `(base[k] + delta[k] * d) >> s`; `base` has one entry per step.
    Folded { base: Vec<i64> },
}

/// The steps' slopes `delta[k] = table[k + 1] - table[k]`, for the entries
/// `0 ..= (hi - lo) >> s` that start a step.
pub fn deltas(lut: &Lut) -> Vec<i64> {
    let steps = (((lut.hi - lut.lo) >> lut.step_shift) + 1) as usize;
    lut.table
        .windows(2)
        .take(steps)
        .map(|p| p[1] - p[0])
        .collect()
}

/// The form `lut` is printed in: [`LutForm::Folded`] where its bounds are
/// proven, [`LutForm::Plain`] without interpolation, when they are not, or
/// when the table is `gathered` in AVX2 lanes (`lower_simd::vector_lut`;
/// its scalar fallback then reads the same `table` and `delta`).
pub fn lut_form(lut: &Lut, gathered: bool) -> LutForm {
    if gathered || lut.step_shift == 0 || lut.step_shift >= 62 || lut.lo > lut.hi {
        return LutForm::Plain;
    }
    folded_base(lut).map_or(LutForm::Plain, |base| LutForm::Folded { base })
}

/// `base[k]` for every step, or `None` when some intermediate of
/// `base[k] + delta[k] * d` (d in the step) could leave s64.
fn folded_base(lut: &Lut) -> Option<Vec<i64>> {
    let s = lut.step_shift;
    let range = (lut.hi - lut.lo) as i128;
    let fits = |v: i128| v >= i64::MIN as i128 && v <= i64::MAX as i128;
    let mut base = Vec::new();
    for (k, &dk) in deltas(lut).iter().enumerate() {
        let start = (k as i128) << s;
        let last = (start + (1i128 << s) - 1).min(range);
        let b = ((lut.table[k] as i128) << s) + (1i128 << (s - 1)) - dk as i128 * start;
        let (p0, p1) = (dk as i128 * start, dk as i128 * last);
        let ok = [b, p0, p1, b + p0, b + p1].into_iter().all(fits);
        if !ok {
            return None;
        }
        base.push(b as i64);
    }
    Some(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::LutFunc;

    fn lut(lo: i64, hi: i64, step_shift: u32, table: Vec<i64>) -> Lut {
        Lut {
            func: LutFunc::Tanh,
            lo,
            hi,
            step_shift,
            table,
            max_error: 0.0,
        }
    }

    /// The folded form evaluated as the C prints it.
    fn folded(l: &Lut, base: &[i64], x: i64) -> i64 {
        let d = x.clamp(l.lo, l.hi) - l.lo;
        let k = (d >> l.step_shift) as usize;
        (base[k] + deltas(l)[k] * d) >> l.step_shift
    }

    #[test]
    fn folded_form_equals_the_interpreter_on_every_input() {
        // Uneven steps, negative slopes and a last step cut short by hi.
        let table = vec![-32765, -32000, -100, 7, 7, 32765, -5, 0, 12, 12];
        for s in 1..=4 {
            let hi = -37 + ((table.len() as i64 - 2) << s) - 3;
            let l = lut(-37, hi, s, table.clone());
            let LutForm::Folded { base } = lut_form(&l, false) else {
                panic!("step 2^{s}: not folded");
            };
            for x in l.lo - 40..=l.hi + 40 {
                assert_eq!(folded(&l, &base, x), l.apply(x), "x = {x}, step 2^{s}");
            }
        }
    }

    #[test]
    fn folded_form_is_refused_outside_s64() {
        let l = lut(0, 1 << 40, 30, vec![0, i64::MAX / 4, 0]);
        assert_eq!(lut_form(&l, false), LutForm::Plain);
        let plain = lut(0, 10, 0, vec![0; 11]);
        assert_eq!(lut_form(&plain, false), LutForm::Plain);
        let gathered = lut(0, 10, 1, vec![0; 7]);
        assert_eq!(lut_form(&gathered, true), LutForm::Plain);
        assert!(matches!(lut_form(&gathered, false), LutForm::Folded { .. }));
    }
}
