//! Guest clocks: host realtime, and a monotonic clock that survives checkpoint/restore.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::abi::{
    CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW, CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME, CLOCK_REALTIME_ALARM,
    CLOCK_REALTIME_COARSE, CLOCK_TAI, CLOCK_THREAD_CPUTIME_ID, Timespec,
};
use crate::errno::Errno;

/// Resolution reported for the coarse clocks (one 250 Hz jiffy, as on a typical kernel).
const COARSE_RESOLUTION_NS: u128 = 4_000_000;

/// Which host source a guest clock id reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Realtime,
    Monotonic,
}

fn source(clock: u64) -> Result<(Source, bool), Errno> {
    // The kernel takes a clockid_t (int); negative ids (per-process CPU clocks, fd
    // clocks) and unknown ones are EINVAL.
    let clock = u32::try_from(clock).map_err(|_| Errno::EINVAL)?;
    match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_ALARM | CLOCK_TAI => Ok((Source::Realtime, false)),
        CLOCK_REALTIME_COARSE => Ok((Source::Realtime, true)),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => {
            Ok((Source::Monotonic, false))
        }
        CLOCK_MONOTONIC_COARSE => Ok((Source::Monotonic, true)),
        // A single-threaded guest that never blocks elsewhere: CPU time is close enough
        // to elapsed time, and it is monotonic, which is what callers rely on.
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => Ok((Source::Monotonic, false)),
        _ => Err(Errno::EINVAL),
    }
}

/// The guest's clocks. Monotonic time is the host's plus an offset chosen at restore so
/// that it continues from the checkpointed value and never goes backwards.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    offset_ns: i128,
}

fn host_monotonic_ns() -> i128 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_nsec)
}

fn host_realtime_ns() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// A possibly negative nanosecond count as a normalized timespec.
fn timespec(nanos: i128) -> Timespec {
    Timespec {
        sec: i64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(i64::MAX),
        nsec: nanos.rem_euclid(1_000_000_000) as i64,
    }
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock { offset_ns: 0 }
    }

    /// A clock whose monotonic time continues from `monotonic_ns`.
    pub(crate) fn resumed_at(monotonic_ns: u64) -> Self {
        Clock {
            offset_ns: i128::from(monotonic_ns) - host_monotonic_ns(),
        }
    }

    /// Current guest monotonic time in nanoseconds.
    pub(crate) fn monotonic_ns(&self) -> u64 {
        (host_monotonic_ns() + self.offset_ns).clamp(0, u64::MAX as i128) as u64
    }

    fn now_ns(&self, source: Source) -> i128 {
        match source {
            Source::Realtime => host_realtime_ns(),
            Source::Monotonic => i128::from(self.monotonic_ns()),
        }
    }

    /// `clock_gettime`.
    pub(crate) fn get(&self, clock: u64) -> Result<Timespec, Errno> {
        let (source, _) = source(clock)?;
        Ok(timespec(self.now_ns(source)))
    }

    /// `clock_getres`.
    pub(crate) fn resolution(clock: u64) -> Result<Timespec, Errno> {
        let (_, coarse) = source(clock)?;
        Ok(Timespec::from_nanos(if coarse {
            COARSE_RESOLUTION_NS
        } else {
            1
        }))
    }

    /// How long to sleep for `clock_nanosleep`: `request` is relative, or, with
    /// `absolute`, a deadline on `clock`.
    pub(crate) fn sleep_duration(
        &self,
        clock: u64,
        absolute: bool,
        request: Timespec,
    ) -> Result<Duration, Errno> {
        let (source, _) = source(clock)?;
        if matches!(
            clock as u32,
            CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID
        ) {
            // Linux refuses to sleep on the calling thread's own CPU clock.
            return Err(Errno::EINVAL);
        }
        let nanos = request.to_nanos().ok_or(Errno::EINVAL)?;
        let wait = if absolute {
            let now = self.now_ns(source);
            u128::try_from((nanos as i128).saturating_sub(now)).unwrap_or(0)
        } else {
            nanos
        };
        Ok(duration(wait))
    }
}

/// Nanoseconds as a Duration, saturating (a guest may ask for an absurdly long sleep).
pub(crate) fn duration(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_never_goes_backwards_and_resumes() {
        let clock = Clock::new();
        let a = clock.monotonic_ns();
        let b = clock.monotonic_ns();
        assert!(b >= a);
        // A restore far "in the future" of this host continues from the saved value.
        let saved = a + 1_000_000_000_000;
        let resumed = Clock::resumed_at(saved);
        let c = resumed.monotonic_ns();
        assert!(c >= saved && c < saved + 60_000_000_000, "{c} vs {saved}");
        // And one far in the past too (a host that booted long ago).
        let resumed = Clock::resumed_at(5);
        assert!(resumed.monotonic_ns() >= 5 && resumed.monotonic_ns() < 60_000_000_000);
    }

    #[test]
    fn clock_ids() {
        let clock = Clock::new();
        let real = clock.get(u64::from(CLOCK_REALTIME)).unwrap();
        assert!(real.sec > 1_600_000_000, "realtime {real:?}");
        assert!(clock.get(u64::from(CLOCK_MONOTONIC)).is_ok());
        assert!(clock.get(u64::from(CLOCK_BOOTTIME)).is_ok());
        assert_eq!(clock.get(10), Err(Errno::EINVAL));
        assert_eq!(clock.get(-6i64 as u64), Err(Errno::EINVAL));
        assert_eq!(Clock::resolution(0), Ok(Timespec { sec: 0, nsec: 1 }));
        assert_eq!(
            Clock::resolution(u64::from(CLOCK_MONOTONIC_COARSE)),
            Ok(Timespec {
                sec: 0,
                nsec: 4_000_000
            })
        );
    }

    #[test]
    fn timespec_of_negative_nanos_is_normalized() {
        assert_eq!(
            timespec(-1),
            Timespec {
                sec: -1,
                nsec: 999_999_999
            }
        );
        assert_eq!(
            timespec(1_500_000_000),
            Timespec {
                sec: 1,
                nsec: 500_000_000
            }
        );
    }

    #[test]
    fn sleep_durations() {
        let clock = Clock::new();
        let rel = Timespec { sec: 1, nsec: 2 };
        assert_eq!(clock.sleep_duration(1, false, rel), Ok(Duration::new(1, 2)));
        // An absolute deadline in the past does not sleep.
        assert_eq!(clock.sleep_duration(1, true, rel), Ok(Duration::ZERO));
        assert_eq!(
            clock.sleep_duration(1, false, Timespec { sec: 0, nsec: -1 }),
            Err(Errno::EINVAL)
        );
        assert_eq!(clock.sleep_duration(2, false, rel), Err(Errno::EINVAL));
        assert_eq!(duration(u128::MAX).as_secs(), u64::MAX);
    }
}
