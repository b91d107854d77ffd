//! A node standing in for a slower machine gives each running guest a share of a host core
//! (`cpu_share`), counted in CPU time: a guest is stopped (SIGSTOP to its process group) once
//! it has run more than its share of the wall time, and continued when the clock has caught
//! up. A guest that waited for a host core keeps what it is owed (up to [`MAX_OWED`] of wall
//! time), so the guests of nodes that share the host's cores still get their share, where a
//! fixed duty cycle would lose it whenever their running windows overlap.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::processes::{Processes, thread_cpu_ns};

/// How often the guests' CPU time is read and each is stopped or continued.
pub(crate) const TICK: Duration = Duration::from_millis(5);
/// How often each guest's process tree is looked up again (a process-backend guest runs in a
/// child that `xisa run` starts after it).
const TREE_REFRESH: Duration = Duration::from_millis(100);
/// The most wall time a guest that waited for a host core is owed the share of.
const MAX_OWED: Duration = Duration::from_millis(100);

/// What a tick decided for one guest: stop or continue its process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Order {
    pub guest: u64,
    pub group: u32,
    pub stop: bool,
}

/// The CPU-time accounts of a node's running guests.
pub(crate) struct CpuShare {
    share: f64,
    accounts: BTreeMap<u64, Account>,
    last_tick: Option<Instant>,
    trees_read: Option<Instant>,
}

struct Account {
    /// The guest's process group (its `xisa run` process's pid).
    group: u32,
    pids: Vec<u32>,
    /// Each thread's CPU time at the last tick.
    threads: BTreeMap<u32, u64>,
    balance: Balance,
}

/// CPU time a guest is owed (positive) or has overdrawn (negative), and whether it is stopped.
#[derive(Debug, Default, Clone, Copy)]
struct Balance {
    owed_ns: f64,
    stopped: bool,
}

impl Balance {
    /// Credits `wall_ns` of wall time at `share` and charges `used_ns` of CPU time; returns
    /// whether the guest should be stopped now.
    fn settle(&mut self, share: f64, wall_ns: f64, used_ns: f64) -> bool {
        let cap = share * MAX_OWED.as_nanos() as f64;
        self.owed_ns = (self.owed_ns + share * wall_ns - used_ns).min(cap);
        self.owed_ns <= 0.0
    }
}

impl CpuShare {
    pub(crate) fn new(share: f64) -> CpuShare {
        CpuShare {
            share: share.clamp(0.01, 1.0),
            accounts: BTreeMap::new(),
            last_tick: None,
            trees_read: None,
        }
    }

    /// Settles every running guest (id and process group) at `now`; returns the guests whose
    /// process group must be stopped or continued. Guests no longer running are forgotten.
    pub(crate) fn tick(&mut self, running: &[(u64, u32)], now: Instant) -> Vec<Order> {
        let wall_ns = self
            .last_tick
            .map_or(0.0, |last| now.duration_since(last).as_nanos() as f64);
        self.last_tick = Some(now);
        self.accounts.retain(|guest, account| {
            running
                .iter()
                .any(|&(id, group)| id == *guest && group == account.group)
        });
        let refresh = self
            .trees_read
            .is_none_or(|read| now.duration_since(read) >= TREE_REFRESH)
            || running
                .iter()
                .any(|(guest, _)| !self.accounts.contains_key(guest));
        let processes = refresh.then(Processes::read);
        if refresh {
            self.trees_read = Some(now);
        }
        let share = self.share;
        let mut orders = Vec::new();
        for &(guest, group) in running {
            let mut new = false;
            let account = self.accounts.entry(guest).or_insert_with(|| {
                new = true;
                Account {
                    group,
                    pids: vec![group],
                    threads: BTreeMap::new(),
                    balance: Balance {
                        owed_ns: share * TICK.as_nanos() as f64,
                        stopped: false,
                    },
                }
            });
            if let Some(processes) = &processes {
                account.pids = processes.tree(group);
            }
            let threads = thread_cpu_ns(&account.pids);
            // A thread not seen before started since, or its process joined the tree since:
            // none of its time was counted yet.
            let used: u64 = threads
                .iter()
                .map(|(tid, ns)| ns.saturating_sub(account.threads.get(tid).copied().unwrap_or(0)))
                .sum();
            account.threads = threads;
            if new {
                continue;
            }
            let stop = account.balance.settle(share, wall_ns, used as f64);
            if stop != account.balance.stopped {
                account.balance.stopped = stop;
                orders.push(Order { guest, group, stop });
            }
        }
        orders
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK_NS: f64 = 5e6;

    #[test]
    fn a_busy_guest_runs_its_share_of_the_time() {
        for share in [0.1, 0.25, 0.5, 0.9] {
            let mut balance = Balance::default();
            let mut running_ticks = 0;
            for _ in 0..10_000 {
                let used = if balance.stopped { 0.0 } else { TICK_NS };
                running_ticks += usize::from(!balance.stopped);
                balance.stopped = balance.settle(share, TICK_NS, used);
            }
            let ran = running_ticks as f64 / 10_000.0;
            assert!((ran - share).abs() < 0.01, "share {share}: ran {ran}");
        }
    }

    #[test]
    fn a_guest_that_waited_for_a_core_is_owed_at_most_its_share_of_the_cap() {
        let mut balance = Balance::default();
        for _ in 0..1_000 {
            assert!(!balance.settle(0.25, TICK_NS, 0.0));
        }
        let cap = 0.25 * MAX_OWED.as_nanos() as f64;
        assert_eq!(balance.owed_ns, cap);
        // Then it runs flat out: it is stopped once the owed time and the tick's share are used.
        let mut ticks = 0;
        while !balance.settle(0.25, TICK_NS, TICK_NS) {
            ticks += 1;
        }
        assert_eq!(ticks, (cap / (0.75 * TICK_NS)).floor() as usize);
    }

    #[test]
    fn a_busy_process_is_held_to_its_share_of_a_core() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .process_group(0)
            .spawn()
            .expect("sh starts");
        let group = child.id();
        let mut shares = CpuShare::new(0.25);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(1) {
            for order in shares.tick(&[(7, group)], Instant::now()) {
                assert_eq!((order.guest, order.group), (7, group));
                let signal = if order.stop {
                    libc::SIGSTOP
                } else {
                    libc::SIGCONT
                };
                // SAFETY: kill has no memory effects; the group is this test's own child's.
                unsafe {
                    libc::kill(-(group as i32), signal);
                }
            }
            std::thread::sleep(TICK);
        }
        let wall = start.elapsed().as_secs_f64();
        let ran: u64 = thread_cpu_ns(&[group]).values().sum();
        // SAFETY: as above.
        unsafe {
            libc::kill(-(group as i32), libc::SIGKILL);
        }
        let _ = child.wait();
        let ran = ran as f64 / 1e9 / wall;
        // Unthrottled it would run nearly the whole second; starved, not at all.
        assert!((0.05..0.4).contains(&ran), "ran {ran:.2} of the wall time");
    }
}
