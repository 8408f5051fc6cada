//! Typed C expressions. The emitters build values of [`Expr`] and print
//! them once, when a template struct is filled: no string placeholders to
//! substitute, and the printer alone decides parentheses.

use std::fmt;

use super::writer::c_int;
use crate::ir::Round;

/// Binary operators, in C precedence order (`*` binds tighter than `+`/`-`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
        }
    }
    fn precedence(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => 1,
            BinOp::Mul => 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// An integer literal (`i64::MIN` printed as an expression).
    Int(i64),
    /// A variable, macro, array or function name.
    Name(String),
    /// `base[index]`
    Index(Box<Expr>, Box<Expr>),
    /// `base.field`
    Field(Box<Expr>, &'static str),
    /// `(type)x`
    Cast(&'static str, Box<Expr>),
    /// `-x`
    Neg(Box<Expr>),
    /// `f(args)`
    Call(String, Vec<Expr>),
    Bin(Box<Expr>, BinOp, Box<Expr>),
}

impl Expr {
    pub fn name(s: impl Into<String>) -> Expr {
        Expr::Name(s.into())
    }
    /// The loop variable or local `v`.
    pub fn var(s: &str) -> Expr {
        Expr::Name(s.to_string())
    }
    pub fn index(self, i: Expr) -> Expr {
        Expr::Index(Box::new(self), Box::new(i))
    }
    /// `self[i]` for a constant index.
    pub fn at(self, i: usize) -> Expr {
        self.index(Expr::Int(i as i64))
    }
    pub fn field(self, f: &'static str) -> Expr {
        Expr::Field(Box::new(self), f)
    }
    pub fn cast(self, ty: &'static str) -> Expr {
        Expr::Cast(ty, Box::new(self))
    }
    pub fn neg(self) -> Expr {
        Expr::Neg(Box::new(self))
    }
    pub fn call(f: impl Into<String>, args: Vec<Expr>) -> Expr {
        Expr::Call(f.into(), args)
    }
    pub fn bin(self, op: BinOp, rhs: Expr) -> Expr {
        Expr::Bin(Box::new(self), op, Box::new(rhs))
    }
    pub fn mul(self, rhs: Expr) -> Expr {
        self.bin(BinOp::Mul, rhs)
    }
    /// `self + t` when there is a term (a zero point is left out when 0).
    pub fn plus(self, t: Option<Expr>) -> Expr {
        match t {
            Some(t) => self.bin(BinOp::Add, t),
            None => self,
        }
    }
    /// `self - t` when there is a term.
    pub fn minus(self, t: Option<Expr>) -> Expr {
        match t {
            Some(t) => self.bin(BinOp::Sub, t),
            None => self,
        }
    }
    /// `lf_rescale(self, mul, shift)`
    pub fn rescale(self, mul: Expr, shift: Expr) -> Expr {
        self.rescale_as(mul, shift, Round::HalfUp)
    }
    /// `lf_rescale(self, mul, shift)`, or `lf_rescale_even` for a rescale
    /// rounding ties to even.
    pub fn rescale_as(self, mul: Expr, shift: Expr, round: Round) -> Expr {
        let f = match round {
            Round::HalfUp => "lf_rescale",
            Round::HalfEven => "lf_rescale_even",
            Round::HalfOdd => "lf_rescale_odd",
        };
        Expr::call(f, vec![self, mul, shift])
    }

    fn fmt_operand(&self, f: &mut fmt::Formatter<'_>, parent: BinOp, right: bool) -> fmt::Result {
        let paren = match self {
            Expr::Bin(_, op, _) => {
                op.precedence() < parent.precedence()
                    || (right && op.precedence() == parent.precedence() && parent != BinOp::Mul)
            }
            _ => false,
        };
        if paren {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Int(v) => write!(f, "{}", c_int(*v)),
            Expr::Name(n) => write!(f, "{n}"),
            Expr::Index(b, i) => write!(f, "{b}[{i}]"),
            Expr::Field(b, name) => write!(f, "{b}.{name}"),
            Expr::Cast(ty, x) => match **x {
                Expr::Bin(..) => write!(f, "({ty})({x})"),
                _ => write!(f, "({ty}){x}"),
            },
            Expr::Neg(x) => match **x {
                Expr::Bin(..) | Expr::Int(_) | Expr::Neg(_) => write!(f, "-({x})"),
                _ => write!(f, "-{x}"),
            },
            Expr::Call(name, args) => {
                write!(f, "{name}(")?;
                for (k, a) in args.iter().enumerate() {
                    if k > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, ")")
            }
            Expr::Bin(a, op, b) => {
                a.fmt_operand(f, *op, false)?;
                write!(f, " {} ", op.symbol())?;
                b.fmt_operand(f, *op, true)
            }
        }
    }
}

/// Per-element constants as the writer declared them: one `#define` when
/// they are all equal, else a `static const` array.
#[derive(Clone, Debug, PartialEq)]
pub enum PerElem {
    Uniform(Expr),
    Array(Expr),
}

impl PerElem {
    /// The constant of element `i`.
    pub fn at(&self, i: Expr) -> Expr {
        match self {
            PerElem::Uniform(e) => e.clone(),
            PerElem::Array(a) => a.clone().index(i),
        }
    }
}

/// A fixed-point multiplier per element, as declared.
#[derive(Clone, Debug, PartialEq)]
pub enum Multipliers {
    /// Multipliers and shifts each as [`PerElem`].
    Split {
        mul: PerElem,
        shift: PerElem,
        round: Round,
    },
    /// An array of `struct lf_fixmul`.
    Structs(Expr, Round),
}

impl Multipliers {
    pub fn mul(&self, i: Expr) -> Expr {
        match self {
            Multipliers::Split { mul, .. } => mul.at(i),
            Multipliers::Structs(a, _) => a.clone().index(i).field("mul"),
        }
    }
    pub fn shift(&self, i: Expr) -> Expr {
        match self {
            Multipliers::Split { shift, .. } => shift.at(i),
            Multipliers::Structs(a, _) => a.clone().index(i).field("shift"),
        }
    }
    /// `lf_rescale(x, mul[i], shift[i])` (`lf_rescale_even` for ties to
    /// even)
    pub fn apply(&self, x: Expr, i: Expr) -> Expr {
        let (m, s) = (self.mul(i.clone()), self.shift(i));
        let round = match self {
            Multipliers::Split { round, .. } | Multipliers::Structs(_, round) => *round,
        };
        x.rescale_as(m, s, round)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_c_with_the_parentheses_it_needs() {
        let x = Expr::name("lf_b0").index(Expr::var("i"));
        let zp = Some(Expr::name("LF_X_ZP"));
        assert_eq!(
            x.clone().minus(zp.clone()).to_string(),
            "lf_b0[i] - LF_X_ZP"
        );
        let sum = Expr::var("a").plus(Some(Expr::var("b")));
        assert_eq!(sum.clone().mul(Expr::Int(3)).to_string(), "(a + b) * 3");
        assert_eq!(
            Expr::var("a").minus(Some(sum.clone())).to_string(),
            "a - (a + b)"
        );
        assert_eq!(sum.clone().minus(zp).to_string(), "a + b - LF_X_ZP");
        assert_eq!(
            x.clone().cast("s32").mul(Expr::Int(-7)).to_string(),
            "(s32)lf_b0[i] * -7"
        );
        assert_eq!(
            Expr::Int(i64::MIN).to_string(),
            "(-9223372036854775807LL - 1)"
        );
        assert_eq!(Expr::name("M").neg().to_string(), "-M");
        let m = Multipliers::Structs(Expr::name("lf_d_rescale"), Round::HalfUp);
        assert_eq!(
            m.apply(Expr::var("acc"), Expr::var("j")).to_string(),
            "lf_rescale(acc, lf_d_rescale[j].mul, lf_d_rescale[j].shift)"
        );
        let m = Multipliers::Structs(Expr::name("lf_d_rescale"), Round::HalfEven);
        assert_eq!(
            m.apply(Expr::var("acc"), Expr::var("j")).to_string(),
            "lf_rescale_even(acc, lf_d_rescale[j].mul, lf_d_rescale[j].shift)"
        );
    }
}
