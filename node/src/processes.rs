//! The host's processes as /proc shows them: a guest is a process tree (a process-backend
//! guest runs in a child of `xisa run`), and the node reports and throttles it as one.

use std::collections::BTreeMap;

/// Every process: pid, parent, CPU ticks (user and system) and resident pages.
pub(crate) struct Processes(Vec<(u32, u32, u64, u64)>);

impl Processes {
    pub(crate) fn read() -> Processes {
        let mut all = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Fields after the command name (which may hold spaces) start after the last ')'.
            let Some((_, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let number = |i: usize| {
                fields
                    .get(i)
                    .and_then(|f| f.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            all.push((pid, number(1) as u32, number(11) + number(12), number(21)));
        }
        Processes(all)
    }

    /// A process and its descendants.
    pub(crate) fn tree(&self, root: u32) -> Vec<u32> {
        let mut tree = vec![root];
        let mut at = 0;
        while at < tree.len() {
            let parent = tree[at];
            tree.extend(self.0.iter().filter(|p| p.1 == parent).map(|p| p.0));
            at += 1;
        }
        tree
    }

    /// CPU time (milliseconds) and resident memory (KiB) of a process and its descendants.
    pub(crate) fn tree_usage(&self, root: u32) -> (u64, u64) {
        let tree = self.tree(root);
        let (ticks, pages) = self
            .0
            .iter()
            .filter(|p| tree.contains(&p.0))
            .fold((0, 0), |(t, r), p| (t + p.2, r + p.3));
        // SAFETY: sysconf has no memory effects.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        // SAFETY: as above.
        let page_kb = (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) / 1024) as u64;
        (ticks * 1000 / per_second, pages * page_kb)
    }
}

/// The CPU time (nanoseconds, exact to the scheduler) each thread of `pids` has run, by thread
/// id; threads that are gone are left out.
pub(crate) fn thread_cpu_ns(pids: &[u32]) -> BTreeMap<u32, u64> {
    let mut threads = BTreeMap::new();
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let Ok(schedstat) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            if let Some(ns) = schedstat
                .split_whitespace()
                .next()
                .and_then(|f| f.parse().ok())
            {
                threads.insert(tid, ns);
            }
        }
    }
    threads
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_in_its_own_tree_and_has_run() {
        let me = std::process::id();
        let processes = Processes::read();
        assert_eq!(processes.tree(me).first(), Some(&me));
        let threads = thread_cpu_ns(&[me]);
        assert!(
            threads.contains_key(&me),
            "no schedstat for the main thread"
        );
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(20) {}
        let after = thread_cpu_ns(&[me]);
        // SAFETY: gettid has no memory effects.
        let tid = (unsafe { libc::gettid() }) as u32;
        assert!(
            after.get(&tid) > threads.get(&tid),
            "a busy thread's CPU time did not grow"
        );
    }
}
