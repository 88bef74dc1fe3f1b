//! Calendar periods in UTC: which day or month an instant falls in, when the next one starts,
//! and how long until then (the `Retry-After` of a spent quota).

use time::{Date, Duration, Month, OffsetDateTime, Time};

/// A quota's period: a calendar day or a calendar month, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    /// 00:00:00 to 23:59:59 UTC.
    Day,
    /// The first of the month 00:00 UTC to the last day's end.
    Month,
}

impl Period {
    /// Both, shortest first.
    pub const ALL: [Period; 2] = [Period::Day, Period::Month];

    /// `day` or `month`: the policy name in the `RateLimit` headers and the `/me` field's stem.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
        }
    }

    /// The number of the period `now` falls in: days since the Julian epoch, or months since
    /// year 0. Counters are kept per index, so a new period starts from zero by itself.
    pub fn index(self, now: OffsetDateTime) -> i64 {
        let now = now.to_offset(time::UtcOffset::UTC);
        match self {
            Period::Day => i64::from(now.date().to_julian_day()),
            Period::Month => i64::from(now.year()) * 12 + i64::from(u8::from(now.month())) - 1,
        }
    }

    /// When the period `now` falls in ends: the start of the next one.
    pub fn next_reset(self, now: OffsetDateTime) -> OffsetDateTime {
        let now = now.to_offset(time::UtcOffset::UTC);
        let date = now.date();
        let next = match self {
            Period::Day => date.next_day(),
            Period::Month => {
                let (year, month) = match date.month() {
                    Month::December => (date.year() + 1, Month::January),
                    m => (date.year(), m.next()),
                };
                Date::from_calendar_date(year, month, 1).ok()
            }
        };
        // Only the last day the `time` crate can represent has no next one.
        next.map_or(now, |d| d.with_time(Time::MIDNIGHT).assume_utc())
    }

    /// The length of the period `now` falls in, in seconds (a month's varies: 28 to 31 days).
    pub fn length_secs(self, now: OffsetDateTime) -> u64 {
        let now = now.to_offset(time::UtcOffset::UTC);
        match self {
            Period::Day => 86_400,
            Period::Month => u64::from(now.month().length(now.year())) * 86_400,
        }
    }

    /// Whole seconds from `now` until the next period starts, rounded up, at least one: the
    /// `Retry-After` of a request refused on this period's quota.
    pub fn secs_until_reset(self, now: OffsetDateTime) -> u64 {
        let left = self.next_reset(now) - now;
        ceil_secs(left).max(1)
    }
}

fn ceil_secs(d: Duration) -> u64 {
    if d <= Duration::ZERO {
        return 0;
    }
    let whole = d.whole_seconds() as u64;
    whole + u64::from(d.subsec_nanoseconds() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    /// An RFC 3339 instant, written `2026-03-14 23:59:59.999 UTC` or with an offset `+02:00`.
    fn at(text: &str) -> OffsetDateTime {
        let text = text
            .replacen(' ', "T", 1)
            .replace(" UTC", "Z")
            .replace(' ', "");
        OffsetDateTime::parse(&text, &Rfc3339).unwrap()
    }

    #[test]
    fn the_last_second_of_a_day_is_that_day_and_the_next_second_is_the_next() {
        let last = at("2026-03-14 23:59:59.999 UTC");
        let first = at("2026-03-15 00:00:00 UTC");
        assert_eq!(Period::Day.index(last) + 1, Period::Day.index(first));
        assert_eq!(Period::Day.next_reset(last), first);
        assert_eq!(Period::Day.secs_until_reset(last), 1);
        assert_eq!(
            Period::Day.secs_until_reset(at("2026-03-14 23:59:59 UTC")),
            1
        );
        assert_eq!(
            Period::Day.secs_until_reset(at("2026-03-14 23:59:58.5 UTC")),
            2
        );
        assert_eq!(Period::Day.secs_until_reset(first), 86_400);
        assert_eq!(Period::Day.next_reset(first), at("2026-03-16 00:00:00 UTC"));
    }

    #[test]
    fn december_rolls_over_into_january_of_the_next_year() {
        let last = at("2026-12-31 23:59:59 UTC");
        let first = at("2027-01-01 00:00:00 UTC");
        assert_eq!(Period::Month.index(last) + 1, Period::Month.index(first));
        assert_eq!(Period::Day.index(last) + 1, Period::Day.index(first));
        assert_eq!(Period::Month.next_reset(last), first);
        assert_eq!(Period::Day.next_reset(last), first);
        assert_eq!(Period::Month.secs_until_reset(last), 1);
        assert_eq!(Period::Month.length_secs(last), 31 * 86_400);
        assert_eq!(
            Period::Month.next_reset(first),
            at("2027-02-01 00:00:00 UTC")
        );
    }

    #[test]
    fn february_has_29_days_in_a_leap_year_and_28_otherwise() {
        let leap = at("2028-02-28 12:00:00 UTC");
        assert_eq!(Period::Month.length_secs(leap), 29 * 86_400);
        assert_eq!(
            Period::Month.next_reset(leap),
            at("2028-03-01 00:00:00 UTC")
        );
        assert_eq!(Period::Day.next_reset(leap), at("2028-02-29 00:00:00 UTC"));
        assert_eq!(
            Period::Month.index(at("2028-02-29 23:59:59 UTC")),
            Period::Month.index(leap)
        );
        let plain = at("2027-02-28 23:59:59 UTC");
        assert_eq!(Period::Month.length_secs(plain), 28 * 86_400);
        assert_eq!(
            Period::Month.next_reset(plain),
            at("2027-03-01 00:00:00 UTC")
        );
        assert_eq!(Period::Month.secs_until_reset(plain), 1);
    }

    #[test]
    fn an_instant_in_another_offset_counts_in_utc() {
        let east = at("2026-06-01 01:30:00+02:00");
        assert_eq!(
            Period::Month.index(east),
            Period::Month.index(at("2026-05-31 12:00:00 UTC"))
        );
        assert_eq!(
            Period::Month.next_reset(east),
            at("2026-06-01 00:00:00 UTC")
        );
    }

    #[test]
    fn the_first_of_a_month_is_a_whole_month_from_the_next() {
        let first = at("2026-04-01 00:00:00 UTC");
        assert_eq!(Period::Month.secs_until_reset(first), 30 * 86_400);
        assert_eq!(
            Period::Month.index(first),
            Period::Month.index(at("2026-03-31 23:59:59 UTC")) + 1
        );
    }
}
