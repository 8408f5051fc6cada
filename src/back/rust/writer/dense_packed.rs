//! `Dense` with two channels per 64-bit accumulator in the Rust back end,
//! where the plan says so ([`crate::back::lower`], `Step::lanes`; proven
//! by [`crate::valid::lanes`]), as the C prints it
//! (`back/c/emit/dense_packed.rs`): channels `2p` and `2p + 1` are summed
//! in one `u64` against `W[2p][i] + W[2p + 1][i] * 2^K`, so one multiply
//! and one add do two multiply-adds; the two lanes are read back and
//! rescaled as the unpacked layer would. The sums are `wrapping_*` on
//! `u64` (modulo 2^64, as C's `u64`): partial sums may wrap, both lanes
//! of the final one are exact, so the result is the unpacked one bit for
//! bit.

use super::{fail, Writer};
use crate::back::c;
use crate::back::lower::LANE_BLOCK;
use crate::ir::TensorId;
use crate::valid::lanes;
use crate::Result;

/// A `u64` literal of the packed constant `v`.
fn hex(v: i64) -> String {
    format!("0x{:016x}", v as u64)
}

/// What the packed forms share with the unpacked one: the operands and
/// how an output channel's value is finished.
pub(super) struct Packed<'a> {
    pub ident: &'a str,
    pub src: TensorId,
    pub x: String,
    pub y: String,
    pub weight: &'a [i64],
    pub bias: &'a [i64],
    /// The lane shift K.
    pub shift: u32,
    /// `acc` (a channel's sum, `i64`) and its index -> the stored value
    /// (rescale, zero point, clamp, fused table).
    pub value: &'a dyn Fn(&str, &str) -> String,
}

impl Packed<'_> {
    /// Channel 2p: the low lane of `pk`, sign-extended.
    fn lo(&self, k: &str, pk: &str) -> String {
        if self.shift == 32 {
            format!("{pk} as i32 as i64")
        } else {
            format!("(({pk} << (64 - {k})) as i64) >> (64 - {k})")
        }
    }

    /// Channel 2p + 1, once `lo` holds channel 2p.
    fn hi(&self, k: &str, pk: &str) -> String {
        format!("({pk}.wrapping_sub(lo as u64) as i64) >> {k}")
    }

    /// The lane shift constant, after the validator's proof is repeated
    /// where the code is printed (as the C writer does).
    fn declare(&self, w: &mut Writer) -> Result<String> {
        let srcb = match w.info.elem_bounds.get(self.src.index()) {
            Some(b) => b,
            None => return fail("no bounds for a packed Dense source"),
        };
        if let Err(e) = lanes::check(self.weight, self.bias, srcb, self.shift) {
            return fail(format!("packed Dense: {e}"));
        }
        Ok(w.konst(
            c::namer::macro_name(self.ident, "lane_shift"),
            "u32",
            self.shift.to_string(),
            Some(format!(
                "channel 2p in the low lane_shift bits, 2p + 1 above (both lanes proven to fit: {} and {} bits)",
                self.shift,
                64 - self.shift
            )),
        ))
    }

    fn packed(&self) -> Result<Vec<i64>> {
        let n = self.weight.len() / self.bias.len().max(1);
        lanes::packed_weights(self.weight, n, self.shift).or_else(fail)
    }

    fn pbias(&self, p: usize) -> i64 {
        lanes::pack(self.bias[2 * p], self.bias[2 * p + 1], self.shift).unwrap_or_default()
    }

    /// Straight line: the packed weights and biases are immediates, summed
    /// [`LANE_BLOCK`] pairs at a time input by input (as the C).
    pub fn straight_line(&self, w: &mut Writer) -> Result<Vec<String>> {
        let k = self.declare(w)?;
        let packed = self.packed()?;
        let n = self.weight.len() / self.bias.len().max(1);
        let x = &self.x;
        let mut out = vec![format!(
            "// two channels per u64: W[2p][i] + W[2p + 1][i] * 2^{}, immediates below",
            self.shift
        )];
        let rows: Vec<&[i64]> = packed.chunks(n.max(1)).collect();
        for (bk, block) in rows.chunks(LANE_BLOCK).enumerate() {
            let first = bk * LANE_BLOCK;
            for b in 0..block.len() {
                out.push(format!(
                    "let mut pk{b}: u64 = {};",
                    hex(self.pbias(first + b))
                ));
            }
            for i in 0..n {
                for (b, row) in block.iter().enumerate() {
                    if row[i] != 0 {
                        out.push(format!(
                            "pk{b} = pk{b}.wrapping_add(({x}[{i}] as u64).wrapping_mul({}));",
                            hex(row[i])
                        ));
                    }
                }
            }
            for b in 0..block.len() {
                let p = first + b;
                let pk = format!("pk{b}");
                out.push(format!("let lo = {};", self.lo(&k, &pk)));
                let v = (self.value)("lo", &(2 * p).to_string());
                out.push(format!("{}[{}] = {v};", self.y, 2 * p));
                out.push(format!("let hi = {};", self.hi(&k, &pk)));
                let v = (self.value)("hi", &(2 * p + 1).to_string());
                out.push(format!("{}[{}] = {v};", self.y, 2 * p + 1));
            }
        }
        Ok(out)
    }

    /// A loop over the packed weight table, two channels per iteration,
    /// the inner loop unrolled by `unroll` as the plan says.
    pub fn looped(&self, w: &mut Writer, unroll: usize) -> Result<Vec<String>> {
        let k = self.declare(w)?;
        let packed = self.packed()?;
        let m = self.bias.len();
        let n = self.weight.len() / m.max(1);
        let name = |s: &str| c::namer::macro_name(self.ident, s);
        let rows: Vec<String> = packed
            .chunks(n.max(1))
            .map(|row| {
                let items: Vec<String> = row.iter().map(|&v| hex(v)).collect();
                format!(
                    "    [\n{}\n    ],",
                    super::wrap(&items, "        ").join("\n")
                )
            })
            .collect();
        let wname = name("packed");
        w.rodata_bytes += packed.len() * 8;
        w.items.push(format!(
            "/// packed[p][i] = weight[2p][i] + weight[2p + 1][i] * 2^{}\nstatic {wname}: [[u64; {n}]; {}] = [\n{}\n];",
            self.shift,
            m / 2,
            rows.join("\n")
        ));
        let pb: Vec<String> = (0..m / 2).map(|p| hex(self.pbias(p))).collect();
        let bname = name("pbias");
        w.rodata_bytes += pb.len() * 8;
        w.items.push(format!(
            "/// bias[2p] + bias[2p + 1] * 2^{}\nstatic {bname}: [u64; {}] = [\n{}\n];",
            self.shift,
            m / 2,
            super::wrap(&pb, "    ").join("\n")
        ));
        let x = &self.x;
        let term = |i: &str| {
            format!("pk = pk.wrapping_add(({x}[{i}] as u64).wrapping_mul({wname}[p][{i}]));")
        };
        let mut out = vec![
            format!("for p in 0..{} {{", m / 2),
            "    let j = 2 * p;".into(),
            format!("    let mut pk: u64 = {bname}[p];"),
        ];
        let u = unroll.clamp(1, n.max(1));
        let blocked = if n / u >= 2 { n - n % u } else { 0 };
        if blocked > 0 {
            // `b * u`, not `step_by` (no unwind table: `Helpers::render`).
            out.push(format!("    for b in 0..{} {{", blocked / u));
            out.push(format!("        let i = b * {u};"));
            for d in 0..u {
                let i = if d == 0 {
                    "i".into()
                } else {
                    format!("i + {d}")
                };
                out.push(format!("        {}", term(&i)));
            }
            out.push("    }".into());
        }
        for i in blocked..n {
            out.push(format!("    {}", term(&i.to_string())));
        }
        out.push(format!("    let lo = {};", self.lo(&k, "pk")));
        let v = (self.value)("lo", "j");
        out.push(format!("    {}[j] = {v};", self.y));
        out.push(format!("    let hi = {};", self.hi(&k, "pk")));
        let v = (self.value)("hi", "j + 1");
        out.push(format!("    {}[j + 1] = {v};", self.y));
        out.push("}".into());
        Ok(out)
    }
}
