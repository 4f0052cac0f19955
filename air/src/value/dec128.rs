//! `dec128`: decimal numbers carried as their normalized decimal text.
//!
//! Accepted input: `[+-]?digits(.digits)?([eE][+-]?digits)?`, at most 34 significant digits and
//! an adjusted exponent within decimal128's range [-6143, 6144]. The normal form (spec/encoding.md):
//! no `+`, no leading zeros, no trailing fractional zeros, `0` for every zero; plain notation
//! while it stays within 40 digits of the point, else `d.dddE±x`.

use std::cmp::Ordering;
use std::fmt;

/// Most significant digits a dec128 holds.
pub const DIGITS_MAX: usize = 34;
/// Adjusted exponent bounds of decimal128.
pub const EXPONENT_MIN: i64 = -6143;
/// Adjusted exponent bounds of decimal128.
pub const EXPONENT_MAX: i64 = 6144;
/// Plain notation is used while the number needs at most this many digits around the point.
const PLAIN_SPAN_MAX: i64 = 40;

/// A normalized decimal.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Dec128 {
    negative: bool,
    /// Significant digits, no leading or trailing zeros; empty for zero.
    digits: String,
    /// Value = digits × 10^exponent.
    exponent: i64,
}

/// Why a text is not a dec128.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a dec128: {reason}")]
pub struct Dec128Error {
    /// The text (truncated).
    pub text: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl Dec128 {
    /// Parses and normalizes a decimal text.
    pub fn parse(text: &str) -> Result<Dec128, Dec128Error> {
        let error = |reason| Dec128Error {
            text: text.chars().take(80).collect(),
            reason,
        };
        let shape = "expected [+-]digits[.digits][e[+-]digits]";
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent_text) = match rest.find(['e', 'E']) {
            Some(index) => (&rest[..index], Some(&rest[index + 1..])),
            None => (rest, None),
        };
        let (integer, fraction) = match mantissa.split_once('.') {
            Some((integer, fraction)) => (integer, fraction),
            None => (mantissa, ""),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(integer) || (mantissa.contains('.') && !all_digits(fraction)) {
            return Err(error(shape));
        }
        let mut exponent: i64 = match exponent_text {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if !all_digits(digits) || digits.len() > 6 {
                    return Err(error("exponent must be at most 6 digits"));
                }
                e.parse().map_err(|_| error(shape))?
            }
        };
        exponent -= fraction.len() as i64;
        let mut digits: String = format!("{integer}{fraction}")
            .trim_start_matches('0')
            .to_owned();
        let trailing = digits.len() - digits.trim_end_matches('0').len();
        digits.truncate(digits.len() - trailing);
        exponent += trailing as i64;
        if digits.is_empty() {
            return Ok(Dec128 {
                negative: false,
                digits,
                exponent: 0,
            });
        }
        if digits.len() > DIGITS_MAX {
            return Err(error("more than 34 significant digits"));
        }
        let adjusted = exponent + digits.len() as i64 - 1;
        if !(EXPONENT_MIN..=EXPONENT_MAX).contains(&adjusted) {
            return Err(error("exponent out of decimal128 range"));
        }
        Ok(Dec128 {
            negative,
            digits,
            exponent,
        })
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Numeric comparison.
    pub fn cmp_numeric(&self, other: &Dec128) -> Ordering {
        let sign = |d: &Dec128| {
            if d.is_zero() {
                0
            } else if d.negative {
                -1
            } else {
                1
            }
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal if sign(self) == 0 => Ordering::Equal,
            Ordering::Equal => {
                let magnitude = self.cmp_magnitude(other);
                if self.negative {
                    magnitude.reverse()
                } else {
                    magnitude
                }
            }
            unequal => unequal,
        }
    }

    fn cmp_magnitude(&self, other: &Dec128) -> Ordering {
        let adjusted = |d: &Dec128| d.exponent + d.digits.len() as i64;
        adjusted(self).cmp(&adjusted(other)).then_with(|| {
            // Same position of the leading digit: compare digit strings, shorter padded with 0s.
            let width = self.digits.len().max(other.digits.len());
            format!("{:0<width$}", self.digits).cmp(&format!("{:0<width$}", other.digits))
        })
    }
}

impl fmt::Display for Dec128 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        if self.negative {
            f.write_str("-")?;
        }
        let len = self.digits.len() as i64;
        let adjusted = self.exponent + len - 1;
        if self.exponent >= 0 && len + self.exponent <= PLAIN_SPAN_MAX {
            write!(f, "{}{}", self.digits, "0".repeat(self.exponent as usize))
        } else if self.exponent < 0
            && adjusted >= -PLAIN_SPAN_MAX
            && -self.exponent <= PLAIN_SPAN_MAX + len
        {
            let point = len + self.exponent;
            if point > 0 {
                let (integer, fraction) = self.digits.split_at(point as usize);
                write!(f, "{integer}.{fraction}")
            } else {
                write!(f, "0.{}{}", "0".repeat((-point) as usize), self.digits)
            }
        } else {
            let (first, rest) = self.digits.split_at(1);
            let sign = if adjusted < 0 { '-' } else { '+' };
            if rest.is_empty() {
                write!(f, "{first}E{sign}{}", adjusted.abs())
            } else {
                write!(f, "{first}.{rest}E{sign}{}", adjusted.abs())
            }
        }
    }
}

impl fmt::Debug for Dec128 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dec128({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> String {
        Dec128::parse(text).unwrap().to_string()
    }

    #[test]
    fn normal_forms() {
        assert_eq!(norm("1.50"), "1.5");
        assert_eq!(norm("+007"), "7");
        assert_eq!(norm("-0.000"), "0");
        assert_eq!(norm("1e3"), "1000");
        assert_eq!(norm("12.5E-3"), "0.0125");
        assert_eq!(norm("100"), "100");
        assert_eq!(norm("1E+100"), "1E+100");
        assert_eq!(norm("1.25e-60"), "1.25E-60");
        assert_eq!(norm("0.7"), "0.7");
    }

    #[test]
    fn normal_form_is_a_fixed_point() {
        for text in [
            "1.5", "1000", "0.0125", "1E+100", "1.25E-60", "-3.14159", "0",
        ] {
            assert_eq!(norm(text), text);
            assert_eq!(norm(&norm(text)), norm(text));
        }
    }

    #[test]
    fn rejects_bad_shapes_and_ranges() {
        for bad in [
            "",
            "1.",
            ".5",
            "1e",
            "abc",
            "1.2.3",
            "--1",
            "1e1000000",
            &"9".repeat(35),
            "1E+7000",
        ] {
            assert!(Dec128::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn compares_numerically() {
        let d = |s| Dec128::parse(s).unwrap();
        assert_eq!(d("1.50").cmp_numeric(&d("1.5")), Ordering::Equal);
        assert_eq!(d("2").cmp_numeric(&d("10")), Ordering::Less);
        assert_eq!(d("-2").cmp_numeric(&d("-10")), Ordering::Greater);
        assert_eq!(d("0.09").cmp_numeric(&d("0.1")), Ordering::Less);
        assert_eq!(d("-0.1").cmp_numeric(&d("0")), Ordering::Less);
    }
}
