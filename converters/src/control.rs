//! When to capture: the policy an executor follows at migration points, shared by every
//! executor so `--checkpoint-at`, SIGUSR1 and `--then` mean the same thing everywhere.
//!
//! Migration points decrement the neutral counter `__xisa_countdown` and call out when it
//! reaches zero (ARCHITECTURE §5). Setting it to N stops the program at the N-th point from
//! now; an asynchronous request sets it to 1 from another thread, so the program stops at its
//! next point without the executor having to interrupt it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::snapshot::COUNTDOWN_IDLE;
use xisa_format::checkpoint::PageCompression;

/// What the run does after writing a checkpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AfterCapture {
    /// Stop the program; the run succeeds.
    #[default]
    Exit,
    /// Keep running.
    Continue,
}

/// How a capture against a parent finds the pages that changed since the parent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChangedPagesBy {
    /// From the machine's log of the pages written since the parent was captured, where it
    /// keeps one (KVM's dirty log, with the monitor's writes beside it) and this run captured
    /// the parent; by comparing every page otherwise.
    #[default]
    DirtyLog,
    /// By comparing every page with the parent's.
    Compare,
    /// Both: the capture fails if a page changed that the log left out (a self-test).
    Check,
}

/// The capture policy of one run.
#[derive(Clone, Debug, Default)]
pub struct MigrationPolicy {
    /// Capture at the N-th migration point passed (counting from the start of this run).
    pub checkpoint_at: Option<u64>,
    /// Where checkpoints go; `None` runs without capturing (points are only counted).
    pub checkpoint_to: Option<PathBuf>,
    pub then: AfterCapture,
    /// Captures store only the pages that differ from this checkpoint's memory (incremental
    /// checkpoints). A capture made while the file does not exist is complete.
    pub parent: Option<PathBuf>,
    /// A capture that ends the run while this file exists hands the guest over (a post-copy
    /// move): it writes a checkpoint without pages and serves them from the held guest on
    /// the local socket the file names, until the destination has them all.
    pub hand_over: Option<PathBuf>,
    /// Whether captures compress their pages.
    pub compression: PageCompression,
    /// How a capture against a parent finds the pages that changed since.
    pub changed_pages: ChangedPagesBy,
    /// Asynchronous capture requests (SIGUSR1, `xisa checkpoint`).
    pub trigger: Option<Arc<Trigger>>,
}

impl MigrationPolicy {
    /// The countdown to arm once `passed` points have gone by (0 at the start of a run): the
    /// points left to a `checkpoint_at` capture still to come, else idle. Re-arming after
    /// every point keeps a capture requested in between from cancelling that one.
    pub fn countdown_after(&self, passed: u64, at_pending: bool) -> i64 {
        match self.checkpoint_at {
            Some(n) if at_pending && self.checkpoint_to.is_some() && n > passed => {
                (n - passed).min(i64::MAX as u64) as i64
            }
            _ => COUNTDOWN_IDLE,
        }
    }
}

/// A request to capture at the next migration point, made from any thread.
#[derive(Debug, Default)]
pub struct Trigger {
    state: Mutex<TriggerState>,
    changed: Condvar,
    /// The armed countdown, for [`Trigger::points_passed`]; `None` before `arm` and after
    /// `close`.
    armed: Mutex<Option<Armed>>,
}

#[derive(Debug)]
struct Armed {
    /// Address of the countdown in guest memory.
    countdown: usize,
    counter: SharedCounter,
}

#[derive(Debug, Default)]
struct TriggerState {
    requested_at: Option<Instant>,
    /// The pending request ends the run after its capture, whatever `then` says.
    last: bool,
    closed: bool,
}

/// A capture request as the executor takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// When it was made (the earliest, when several came before the program took them).
    pub at: Instant,
    /// The run ends after this capture, even one that otherwise continues.
    pub last: bool,
}

impl Trigger {
    pub fn new() -> Arc<Trigger> {
        Arc::new(Trigger::default())
    }

    /// Asks for a capture at the next migration point.
    pub fn request(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.requested_at.get_or_insert_with(Instant::now);
        self.changed.notify_all();
    }

    /// Asks for a capture at the next migration point after which the run ends, even a run
    /// whose periodic captures continue (a move to another machine).
    pub fn request_last(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.requested_at.get_or_insert_with(Instant::now);
        state.last = true;
        self.changed.notify_all();
    }

    /// Takes the pending request, if any.
    pub fn take(&self) -> Option<Request> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let at = state.requested_at.take()?;
        let last = std::mem::take(&mut state.last);
        Some(Request { at, last })
    }

    fn closed(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed
    }

    fn pending(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .requested_at
            .is_some()
    }

    /// Migration points the program has passed so far, while armed: its progress, read from
    /// any thread.
    pub fn points_passed(&self) -> Option<u64> {
        let armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let armed = armed.as_ref()?;
        // SAFETY: `arm`'s contract keeps the countdown live until `close`, which clears
        // `armed` under this lock first; the read is a single aligned 8-byte atomic load.
        let value =
            unsafe { AtomicI64::from_ptr(armed.countdown as *mut i64) }.load(Ordering::Relaxed);
        let passed = armed
            .counter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .passed(value);
        Some(passed)
    }

    /// Ends every [`Trigger::arm`] thread.
    pub fn close(&self) {
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.changed.notify_all();
    }

    /// Starts a thread that, whenever a request is pending, sets the countdown at `countdown`
    /// to 1 so the program stops at its next migration point, telling `counter`. The program
    /// decrements the countdown without atomics, so a store can be lost to a racing
    /// decrement: the thread repeats it until the executor takes the request. The thread ends
    /// on [`Trigger::close`].
    ///
    /// # Safety
    /// `countdown` must point to the 8-byte-aligned countdown in guest memory and stay valid
    /// until `close` has been called and the returned handle joined.
    pub unsafe fn arm(
        self: &Arc<Self>,
        countdown: *mut i64,
        counter: SharedCounter,
    ) -> std::thread::JoinHandle<()> {
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Armed {
            countdown: countdown as usize,
            counter: Arc::clone(&counter),
        });
        struct Countdown(*mut i64);
        // SAFETY: the caller keeps the memory alive until the thread is joined; the thread
        // only performs atomic stores to it.
        unsafe impl Send for Countdown {}
        let countdown = Countdown(countdown);
        let trigger = Arc::clone(self);
        std::thread::spawn(move || {
            let countdown = countdown;
            let counter = counter;
            // SAFETY: aligned and live for the thread's life (the caller's contract); the
            // guest's plain accesses and these atomic stores are both single 8-byte moves.
            let countdown = unsafe { AtomicI64::from_ptr(countdown.0) };
            loop {
                let mut state = trigger.state.lock().unwrap_or_else(|e| e.into_inner());
                while state.requested_at.is_none() && !state.closed {
                    state = trigger
                        .changed
                        .wait(state)
                        .unwrap_or_else(|e| e.into_inner());
                }
                if state.closed {
                    return;
                }
                drop(state);
                // Until the executor takes the request, or the run ends without taking it (a
                // request made as the program exits is never taken).
                while trigger.pending() && !trigger.closed() {
                    counter
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .request_stop(countdown);
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        })
    }
}

/// Counts migration points across countdown resets, including the stores a request thread
/// makes while the program runs.
#[derive(Clone, Copy, Debug)]
pub struct PointCounter {
    /// Points passed before the countdown was last set.
    passed_before: u64,
    /// The value the countdown was last set to.
    set_to: i64,
    /// The state before the request thread's last store, in case the program's racing
    /// decrement overwrote that store.
    undo: Option<(u64, i64)>,
}

/// A counter the executor and the request thread share.
pub type SharedCounter = Arc<Mutex<PointCounter>>;

impl Default for PointCounter {
    fn default() -> Self {
        PointCounter {
            passed_before: 0,
            set_to: COUNTDOWN_IDLE,
            undo: None,
        }
    }
}

impl PointCounter {
    pub fn shared() -> SharedCounter {
        Arc::new(Mutex::new(PointCounter::default()))
    }

    /// The base the countdown counts from, given its current value: a value above what was
    /// last stored means the program never saw that store.
    fn base(&self, countdown: i64) -> (u64, i64) {
        match self.undo {
            Some(before) if countdown > self.set_to => before,
            _ => (self.passed_before, self.set_to),
        }
    }

    /// Points passed so far, given the countdown's current value.
    pub fn passed(&self, countdown: i64) -> u64 {
        let (passed_before, set_to) = self.base(countdown);
        passed_before.saturating_add(set_to.wrapping_sub(countdown).max(0) as u64)
    }

    /// Records that the countdown (now `countdown`) is being set to `value` while the
    /// program is stopped.
    pub fn reset(&mut self, countdown: i64, value: i64) {
        self.passed_before = self.passed(countdown);
        self.set_to = value;
        self.undo = None;
    }

    /// From a thread running beside the program: makes the next migration point fire by
    /// storing 1, keeping the count right.
    pub fn request_stop(&mut self, countdown: &AtomicI64) {
        loop {
            let current = countdown.load(Ordering::Relaxed);
            let base = self.base(current);
            (self.passed_before, self.set_to) = base;
            if current <= 1 {
                return;
            }
            if countdown
                .compare_exchange(current, 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                self.undo = Some(base);
                self.passed_before = base
                    .0
                    .saturating_add(base.1.wrapping_sub(current).max(0) as u64);
                self.set_to = 1;
                return;
            }
        }
    }
}

/// What happened at one capture, for the run's summary line and for benchmarks.
#[derive(Clone, Debug)]
pub struct CaptureReport {
    pub path: PathBuf,
    /// The file's header digest: its identity as a parent.
    pub digest: [u8; 32],
    /// Pages a tracker reported changed since the parent (the rest were not looked at).
    pub changed_pages: Option<u64>,
    /// Migration points passed when the capture happened.
    pub point: u64,
    pub frames: usize,
    pub pages: u64,
    pub file_size: u64,
    /// Converting frames and reading personality and registers.
    pub state_time: Duration,
    /// Encoding memory pages.
    pub memory_time: Duration,
    /// Writing the file.
    pub write_time: Duration,
    /// From an asynchronous request to the point being reached.
    pub response_latency: Option<Duration>,
    /// The pages were encoded and written while the program ran on (copy-on-write): the
    /// program was held only for `state_time` and the write protection.
    pub background: bool,
}

impl std::fmt::Display for CaptureReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "checkpoint written to {} at migration point {}: {} frames, {} pages, {} bytes (state {:.0} µs, memory {:.1} ms",
            self.path.display(),
            self.point,
            self.frames,
            self.pages,
            self.file_size,
            self.state_time.as_secs_f64() * 1e6,
            self.memory_time.as_secs_f64() * 1e3,
        )?;
        if let Some(latency) = self.response_latency {
            write!(f, ", response {:.2} ms", latency.as_secs_f64() * 1e3)?;
        }
        if let Some(changed) = self.changed_pages {
            write!(f, ", {changed} pages changed by the dirty log")?;
        }
        if self.background {
            f.write_str(", in the background")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_countdown_runs_to_a_pending_checkpoint_at() {
        let policy = MigrationPolicy {
            checkpoint_at: Some(10),
            checkpoint_to: Some("x.ckpt".into()),
            then: AfterCapture::Continue,
            parent: None,
            hand_over: None,
            trigger: None,
            ..Default::default()
        };
        assert_eq!(policy.countdown_after(0, true), 10);
        // A requested capture at point 4 re-arms for the remaining six.
        assert_eq!(policy.countdown_after(4, true), 6);
        assert_eq!(policy.countdown_after(10, false), COUNTDOWN_IDLE);
        assert_eq!(policy.countdown_after(12, true), COUNTDOWN_IDLE);
        let counting_only = MigrationPolicy {
            checkpoint_to: None,
            ..policy
        };
        assert_eq!(counting_only.countdown_after(0, true), COUNTDOWN_IDLE);
    }

    #[test]
    fn points_are_counted_across_resets() {
        let mut counter = PointCounter::default();
        assert_eq!(counter.passed(COUNTDOWN_IDLE - 5), 5);
        counter.reset(COUNTDOWN_IDLE - 5, 3);
        assert_eq!(counter.passed(0), 8);
        counter.reset(0, COUNTDOWN_IDLE);
        assert_eq!(counter.passed(COUNTDOWN_IDLE - 2), 10);
    }

    #[test]
    fn requests_keep_the_count_even_when_a_store_is_lost() {
        let countdown = AtomicI64::new(COUNTDOWN_IDLE);
        let mut counter = PointCounter::default();
        countdown.store(COUNTDOWN_IDLE - 10, Ordering::Relaxed); // 10 points
        counter.request_stop(&countdown);
        assert_eq!(countdown.load(Ordering::Relaxed), 1);
        assert_eq!(counter.passed(1), 10);
        // The program's racing decrement overwrites the store (it had read IDLE - 10).
        countdown.store(COUNTDOWN_IDLE - 11, Ordering::Relaxed);
        assert_eq!(counter.passed(COUNTDOWN_IDLE - 11), 11);
        countdown.store(COUNTDOWN_IDLE - 15, Ordering::Relaxed); // 4 more points
        counter.request_stop(&countdown);
        assert_eq!(counter.passed(1), 15);
        countdown.store(0, Ordering::Relaxed); // the point that fires
        assert_eq!(counter.passed(0), 16);
        counter.reset(0, COUNTDOWN_IDLE);
        assert_eq!(counter.passed(COUNTDOWN_IDLE - 4), 20);
    }

    #[test]
    fn an_armed_trigger_sets_the_countdown_until_taken() {
        let trigger = Trigger::new();
        let mut countdown = Box::new(COUNTDOWN_IDLE);
        let pointer: *mut i64 = &mut *countdown;
        // SAFETY: `countdown` outlives the thread, which is joined below.
        let points = PointCounter::shared();
        let handle = unsafe { trigger.arm(pointer, Arc::clone(&points)) };
        trigger.request();
        let deadline = Instant::now() + Duration::from_secs(10);
        // SAFETY: aligned, live; the other thread only stores atomically.
        let view = unsafe { AtomicI64::from_ptr(pointer) };
        while view.load(Ordering::Relaxed) != 1 {
            assert!(Instant::now() < deadline, "the countdown was never set");
            std::thread::yield_now();
        }
        assert!(trigger.take().is_some());
        assert!(trigger.take().is_none());
        // Nothing decremented the countdown: no point passed, whatever the thread stored.
        assert_eq!(points.lock().unwrap().passed(1), 0);
        trigger.close();
        handle.join().unwrap();
    }

    #[test]
    fn a_request_never_taken_does_not_keep_the_run_from_ending() {
        let trigger = Trigger::new();
        let mut countdown = Box::new(COUNTDOWN_IDLE);
        let pointer: *mut i64 = &mut *countdown;
        let points = PointCounter::shared();
        // SAFETY: `countdown` outlives the thread, which is joined below.
        let handle = unsafe { trigger.arm(pointer, Arc::clone(&points)) };
        assert_eq!(trigger.points_passed(), Some(0));
        // A capture requested as the program exits: nobody takes it, the run closes.
        trigger.request();
        std::thread::sleep(Duration::from_millis(5));
        trigger.close();
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            handle.join().unwrap();
            let _ = done.send(());
        });
        assert!(
            finished.recv_timeout(Duration::from_secs(10)).is_ok(),
            "the request thread kept running after close"
        );
        assert_eq!(
            trigger.points_passed(),
            None,
            "closed: no countdown to read"
        );
    }
}
