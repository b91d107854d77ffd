//! What happens when a program reaches a migration point, for every backend.
//!
//! Migration points decrement the neutral global `__xisa_countdown` and call out of the
//! program when it reaches zero (ARCHITECTURE §5): a hypercall on native targets, the import
//! `xisa.migrate` on wasm64. The backend then calls [`PointControl::at_point`], which counts
//! the point, decides from the run's [`MigrationPolicy`] (a `--checkpoint-at` point, an
//! asynchronous request from SIGUSR1 or `xisa checkpoint`) whether to capture, and re-arms the
//! countdown for the next point that matters. On a capture the backend holds the program
//! there and returns [`crate::Stop::Capture`]; the session writes the checkpoint and either
//! ends the run or lets the program carry on.
//!
//! Asynchronous requests need no cooperation from the backend: a thread stores 1 into the
//! countdown (see `Trigger::arm`), so the program stops at its very next point.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use xisa_converters::control::{MigrationPolicy, PointCounter, SharedCounter};
use xisa_converters::snapshot::{COUNTDOWN, COUNTDOWN_IDLE};
use xisa_format::image::Image;
use xisa_personality::GuestMemory;

/// The countdown is unusable: the program's image is not what the runtime expects.
#[derive(Debug, thiserror::Error)]
pub enum PointError {
    #[error("the program has no `{COUNTDOWN}` symbol (was it built by this xisa-cc?)")]
    NoCountdown,
    #[error("the countdown at {0:#x} is outside guest memory")]
    Unreachable(u64),
}

/// What the backend does at a migration point.
#[derive(Debug, PartialEq, Eq)]
pub enum PointDecision {
    /// Nothing to do: let the program go on.
    Continue,
    /// Hold the program here and report [`crate::Stop::Capture`].
    Capture(CaptureRequest),
}

/// A capture the runtime decided on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptureRequest {
    /// Migration points passed when it was decided (this one included).
    pub point: u64,
    /// When the program reached the point.
    pub reached: Instant,
    /// When the asynchronous request that caused it was made, if one did.
    pub requested: Option<Instant>,
    /// The run ends after this capture whatever the policy's `then` (a request to move).
    pub last: bool,
}

/// The migration-point side of one run.
pub struct PointControl {
    policy: MigrationPolicy,
    countdown: u64,
    counter: SharedCounter,
    /// `checkpoint_at` is used once.
    at_pending: bool,
    watcher: Option<JoinHandle<()>>,
}

impl PointControl {
    pub fn new(image: &Image, policy: MigrationPolicy) -> Result<Self, PointError> {
        let countdown = image
            .manifest()
            .symbol_address(COUNTDOWN)
            .ok_or(PointError::NoCountdown)?;
        Ok(PointControl {
            at_pending: policy.checkpoint_at.is_some(),
            policy,
            countdown,
            counter: PointCounter::shared(),
            watcher: None,
        })
    }

    pub fn policy(&self) -> &MigrationPolicy {
        &self.policy
    }

    fn counter(&self) -> std::sync::MutexGuard<'_, PointCounter> {
        self.counter.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn countdown_bytes<'m>(
        &self,
        memory: &'m mut dyn GuestMemory,
    ) -> Result<&'m mut [u8], PointError> {
        memory
            .bytes_mut(self.countdown, 8)
            .map_err(|_| PointError::Unreachable(self.countdown))
    }

    fn read(&self, memory: &dyn GuestMemory) -> Result<i64, PointError> {
        let bytes = memory
            .bytes(self.countdown, 8)
            .map_err(|_| PointError::Unreachable(self.countdown))?;
        Ok(i64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    /// Arms the countdown before the program (re)starts and, when captures can be requested,
    /// starts the thread that turns requests into a stop at the next point. The memory must
    /// stay where it is until [`PointControl::disarm`] (or drop).
    pub fn arm(&mut self, memory: &mut dyn GuestMemory) -> Result<(), PointError> {
        // A restored program's countdown is whatever it was at its capture: count from idle.
        let first = self.policy.countdown_after(0, self.at_pending);
        {
            let mut counter = self.counter();
            *counter = PointCounter::default();
            counter.reset(COUNTDOWN_IDLE, first);
        }
        let bytes = self.countdown_bytes(memory)?;
        bytes.copy_from_slice(&first.to_le_bytes());
        if let (Some(trigger), Some(_), None) = (
            &self.policy.trigger,
            &self.policy.checkpoint_to,
            &self.watcher,
        ) {
            let pointer = bytes.as_mut_ptr().cast::<i64>();
            // SAFETY: the countdown is an 8-aligned neutral global inside guest memory, which
            // the caller keeps in place until `disarm` has closed the trigger and joined the
            // thread (the session disarms before dropping the machine; so does Drop).
            self.watcher =
                Some(unsafe { Arc::clone(trigger).arm(pointer, Arc::clone(&self.counter)) });
        }
        Ok(())
    }

    /// Called by the backend when the program reaches a migration point.
    pub fn at_point(&mut self, memory: &mut dyn GuestMemory) -> Result<PointDecision, PointError> {
        let countdown = self.read(memory)?;
        let reached = Instant::now();
        let point = self.counter().passed(countdown);
        let requested = self.policy.trigger.as_ref().and_then(|t| t.take());
        let at = self.at_pending && self.policy.checkpoint_at == Some(point);
        if at {
            self.at_pending = false;
        }
        let next = self.policy.countdown_after(point, self.at_pending);
        self.counter().reset(countdown, next);
        self.countdown_bytes(memory)?
            .copy_from_slice(&next.to_le_bytes());
        if self.policy.checkpoint_to.is_some() && (at || requested.is_some()) {
            Ok(PointDecision::Capture(CaptureRequest {
                point,
                reached,
                requested: requested.map(|r| r.at),
                last: requested.is_some_and(|r| r.last),
            }))
        } else {
            Ok(PointDecision::Continue)
        }
    }

    /// Migration points passed so far.
    pub fn points_passed(&self, memory: &dyn GuestMemory) -> u64 {
        self.read(memory)
            .map(|countdown| self.counter().passed(countdown))
            .unwrap_or(0)
    }

    /// Stops the asynchronous-request thread.
    pub fn disarm(&mut self) {
        if let Some(watcher) = self.watcher.take() {
            if let Some(trigger) = &self.policy.trigger {
                trigger.close();
            }
            let _ = watcher.join();
        }
    }
}

impl Drop for PointControl {
    fn drop(&mut self) {
        self.disarm();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xisa_converters::control::{AfterCapture, Trigger};
    use xisa_format::memory_map::{ImageLayout, MemoryMap};
    use xisa_personality::FlatMemory;

    const COUNTDOWN_AT: u64 = 0x600_0000;

    fn control(policy: MigrationPolicy) -> PointControl {
        PointControl {
            at_pending: policy.checkpoint_at.is_some(),
            policy,
            countdown: COUNTDOWN_AT,
            counter: PointCounter::shared(),
            watcher: None,
        }
    }

    fn map() -> MemoryMap {
        MemoryMap {
            image: ImageLayout {
                rodata_size: 0x1000,
                data_size: 0,
                bss_size: 0,
            },
            mem_top: 0x800_0000,
        }
    }

    /// Lets the program pass `n` points without firing (as its code would).
    fn pass(memory: &mut FlatMemory<'_>, n: i64) {
        let bytes = memory.bytes_mut(COUNTDOWN_AT, 8).unwrap();
        let value = i64::from_le_bytes(bytes.try_into().unwrap()) - n;
        bytes.copy_from_slice(&value.to_le_bytes());
    }

    fn fire(control: &mut PointControl, memory: &mut FlatMemory<'_>) -> PointDecision {
        let bytes = memory.bytes_mut(COUNTDOWN_AT, 8).unwrap();
        let value = i64::from_le_bytes(bytes.try_into().unwrap());
        assert_eq!(value, 1, "the countdown fires when it reaches zero");
        bytes.copy_from_slice(&0i64.to_le_bytes());
        control.at_point(memory).unwrap()
    }

    #[test]
    fn a_checkpoint_at_point_fires_once_at_that_point() {
        let mut data = vec![0u8; 0x800_0000];
        let mut memory = FlatMemory::new(&mut data, map());
        let mut control = control(MigrationPolicy {
            checkpoint_at: Some(5),
            checkpoint_to: Some("x.ckpt".into()),
            then: AfterCapture::Continue,
            parent: None,
            hand_over: None,
            compression: Default::default(),
            trigger: None,
            ..Default::default()
        });
        control.arm(&mut memory).unwrap();
        pass(&mut memory, 4);
        match fire(&mut control, &mut memory) {
            PointDecision::Capture(request) => assert_eq!(request.point, 5),
            other => panic!("expected a capture, got {other:?}"),
        }
        // Idle afterwards: points are only counted.
        pass(&mut memory, 7);
        assert_eq!(control.points_passed(&memory), 12);
    }

    #[test]
    fn without_a_checkpoint_file_points_are_only_counted() {
        let mut data = vec![0u8; 0x800_0000];
        let mut memory = FlatMemory::new(&mut data, map());
        let mut control = control(MigrationPolicy {
            checkpoint_at: Some(2),
            ..MigrationPolicy::default()
        });
        control.arm(&mut memory).unwrap();
        pass(&mut memory, 3);
        assert_eq!(control.points_passed(&memory), 3);
    }

    #[test]
    fn a_request_captures_at_the_next_point_and_keeps_a_pending_checkpoint_at() {
        let mut data = vec![0u8; 0x800_0000];
        let mut memory = FlatMemory::new(&mut data, map());
        let trigger = Trigger::new();
        let mut control = control(MigrationPolicy {
            checkpoint_at: Some(10),
            checkpoint_to: Some("x.ckpt".into()),
            then: AfterCapture::Continue,
            parent: None,
            hand_over: None,
            compression: Default::default(),
            trigger: Some(Arc::clone(&trigger)),
            ..Default::default()
        });
        control.arm(&mut memory).unwrap();
        pass(&mut memory, 2);
        trigger.request();
        // Wait for the request thread to make the next point fire.
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while i64::from_le_bytes(memory.bytes(COUNTDOWN_AT, 8).unwrap().try_into().unwrap()) != 1 {
            assert!(
                Instant::now() < deadline,
                "the request never reached the countdown"
            );
            std::thread::yield_now();
        }
        match fire(&mut control, &mut memory) {
            PointDecision::Capture(request) => {
                assert_eq!(request.point, 3);
                assert!(request.requested.is_some());
            }
            other => panic!("expected a capture, got {other:?}"),
        }
        // The --checkpoint-at 10 capture is still to come, seven points later.
        pass(&mut memory, 6);
        match fire(&mut control, &mut memory) {
            PointDecision::Capture(request) => {
                assert_eq!(request.point, 10);
                assert!(request.requested.is_none());
            }
            other => panic!("expected a capture, got {other:?}"),
        }
        control.disarm();
    }

    #[test]
    fn a_countdown_outside_memory_is_an_error() {
        let mut data = vec![0u8; 0x100];
        let mut memory = FlatMemory::new(&mut data, map());
        let mut control = control(MigrationPolicy::default());
        assert!(matches!(
            control.arm(&mut memory),
            Err(PointError::Unreachable(COUNTDOWN_AT))
        ));
    }
}
