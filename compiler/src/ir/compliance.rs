//! Compliance: frameworks claimed for scopes of namespaces, waivers and exemptions with their
//! owners and ends, and the calendar dates they are counted in.

use super::AdmissionScope;
use crate::span::Span;
use std::fmt;

/// A day of the proleptic Gregorian calendar, as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i64);

impl Date {
    /// `YYYY-MM-DD`, a day that exists.
    pub fn parse(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
            return None;
        }
        let year: i64 = text.get(0..4)?.parse().ok()?;
        let month: u32 = text.get(5..7)?.parse().ok()?;
        let day: u32 = text.get(8..10)?.parse().ok()?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// The day a Unix time (seconds, UTC) falls on.
    pub fn from_unix(seconds: i64) -> Date {
        Date(seconds.div_euclid(86_400))
    }

    /// Days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        later.0 - self.0
    }

    fn civil(self) -> (i64, u32, u32) {
        // Howard Hinnant's `civil_from_days`: eras of 400 years, each 146,097 days.
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        (
            year,
            u32::try_from(month).unwrap_or(1),
            u32::try_from(day).unwrap_or(1),
        )
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A `compliance` block.
#[derive(Clone, Debug)]
pub struct Compliance {
    pub name: String,
    /// The frameworks claimed (the catalog's names), each with the line claiming it.
    pub frameworks: Vec<(String, Span)>,
    pub scope: AdmissionScope,
    pub waivers: Vec<Waiver>,
    pub span: Span,
}

/// `waive FRAMEWORK CONTROL owner "…" until DATE because "…"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiver {
    pub framework: String,
    pub control: String,
    pub owner: String,
    pub until: Date,
    pub reason: String,
    pub span: Span,
    /// The `until DATE` part, where expiry is reported.
    pub until_span: Span,
}

/// An admission block's `exempt` line: what it leaves out, why, who answers for it and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exemption {
    /// The Pod Security check, or `images "PATTERN", …`.
    pub what: String,
    pub reason: String,
    pub owner: Option<String>,
    pub until: Option<(Date, Span)>,
    pub span: Span,
}

#[cfg(test)]
mod tests {
    use super::Date;

    #[test]
    fn dates_round_trip_and_count_days() {
        for text in [
            "1970-01-01",
            "2000-02-29",
            "2026-12-06",
            "2027-03-31",
            "1999-12-31",
        ] {
            let d = Date::parse(text).unwrap_or(Date(i64::MIN));
            assert_eq!(d.to_string(), text);
        }
        assert_eq!(Date::parse("1970-01-02"), Some(Date(1)));
        assert_eq!(Date::parse("2026-12-06").map(|d| d.0), Some(20_793));
        assert_eq!(Date::from_unix(1_796_515_200).to_string(), "2026-12-06");
        assert_eq!(Date::from_unix(-1).to_string(), "1969-12-31");
        let bad = [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "26-01-01",
            "2026-1-01",
        ];
        for bad in bad {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        let (a, b) = (Date::parse("2026-12-06"), Date::parse("2027-01-05"));
        assert_eq!(a.zip(b).map(|(a, b)| a.days_until(b)), Some(30));
    }
}
