//! Time calls: clock_gettime/getres, gettimeofday, nanosleep, clock_nanosleep.

use crate::abi::{TIMER_ABSTIME, Timespec, Timeval};
use crate::guest_io::GuestMemoryExt;
use crate::memory::GuestMemory;
use crate::personality::Personality;
use crate::sys::{SysResult, check_flags};
use crate::time::Clock;

const CLOCK_REALTIME: u64 = crate::abi::CLOCK_REALTIME as u64;
const CLOCK_MONOTONIC: u64 = crate::abi::CLOCK_MONOTONIC as u64;

impl Personality {
    pub(crate) fn sys_clock_gettime(
        &mut self,
        mem: &mut dyn GuestMemory,
        clock: u64,
        out: u64,
    ) -> SysResult {
        let now = self.clock.get(clock)?;
        mem.write_struct(out, &now)?;
        Ok(0)
    }

    pub(crate) fn sys_clock_getres(
        &mut self,
        mem: &mut dyn GuestMemory,
        clock: u64,
        out: u64,
    ) -> SysResult {
        let resolution = Clock::resolution(clock)?;
        if out != 0 {
            mem.write_struct(out, &resolution)?;
        }
        Ok(0)
    }

    pub(crate) fn sys_gettimeofday(
        &mut self,
        mem: &mut dyn GuestMemory,
        tv: u64,
        tz: u64,
    ) -> SysResult {
        if tv != 0 {
            let now = self.clock.get(CLOCK_REALTIME)?;
            mem.write_struct(
                tv,
                &Timeval {
                    sec: now.sec,
                    usec: now.nsec / 1000,
                },
            )?;
        }
        if tz != 0 {
            // struct timezone: minutes west of UTC and DST flag, both 0 (UTC).
            mem.write_bytes(tz, &[0; 8])?;
        }
        Ok(0)
    }

    pub(crate) fn sys_nanosleep(&mut self, mem: &mut dyn GuestMemory, request: u64) -> SysResult {
        self.sys_clock_nanosleep(mem, CLOCK_MONOTONIC, 0, request)
    }

    /// Really sleep: the guest's notion of time must match the host's. Never interrupted,
    /// so the remaining-time output is never written.
    pub(crate) fn sys_clock_nanosleep(
        &mut self,
        mem: &mut dyn GuestMemory,
        clock: u64,
        flags: u64,
        request: u64,
    ) -> SysResult {
        check_flags(flags, TIMER_ABSTIME)?;
        let request: Timespec = mem.read_struct(request)?;
        let wait = self
            .clock
            .sleep_duration(clock, flags & TIMER_ABSTIME != 0, request)?;
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        Ok(0)
    }
}
