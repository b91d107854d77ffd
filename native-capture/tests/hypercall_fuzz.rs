//! The hypercall layer under random input: random system-call numbers and arguments, with
//! pointers aimed at every interesting part of a real native guest memory (guards, region
//! edges, the top of memory, wild values), served by the personality. Nothing may panic, every
//! answer must be a value or a Linux errno, and guest memory outside what a call may write
//! must stay untouched.

use proptest::prelude::*;
use xisa_format::memory_map::{
    ImageLayout, MemoryMap, NULL_GUARD_END, SHADOW_STACK, SHADOW_STACK_GUARD, STARTUP, native,
};
use xisa_native::memory::GuestRam;
use xisa_personality::{Config, GuestMemory, Mount, Outcome, Personality};

const MEM_TOP: u64 = 0x1000_0000;

fn map() -> MemoryMap {
    MemoryMap {
        image: ImageLayout {
            rodata_size: 0x2000,
            data_size: 0x1000,
            bss_size: 0x3000,
        },
        mem_top: MEM_TOP,
    }
}

/// Addresses near every boundary of the map, plus arbitrary ones.
fn address() -> impl Strategy<Value = u64> {
    let m = map();
    let edges = vec![
        0,
        NULL_GUARD_END,
        native::STACK_GUARD.start,
        native::STACK.start,
        STARTUP.start,
        SHADOW_STACK_GUARD.start,
        SHADOW_STACK.start,
        SHADOW_STACK.end,
        m.image.rodata().start,
        m.image.bss().end,
        m.brk_base(),
        MEM_TOP,
        u64::MAX,
    ];
    prop_oneof![
        prop::sample::select(edges)
            .prop_flat_map(|edge| edge.saturating_sub(64)..edge.saturating_add(64)),
        any::<u64>(),
        0..MEM_TOP,
    ]
}

fn argument() -> impl Strategy<Value = u64> {
    prop_oneof![address(), 0u64..4096, any::<u64>(), Just(u64::MAX), Just(0)]
}

/// Mostly the numbers the personality serves, sometimes anything.
fn number() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..300,
        400u64..460,
        any::<u64>(),
        Just(xisa_format::abi::XISA_CALL_BASE)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_hypercalls_never_panic(calls in prop::collection::vec((number(), prop::array::uniform6(argument())), 1..40)) {
        let sandbox = tempfile::tempdir().unwrap();
        std::fs::write(sandbox.path().join("file.txt"), b"hello").unwrap();
        let mut ram = GuestRam::new(map()).unwrap();
        let config = Config { mounts: vec![Mount { host: sandbox.path().to_path_buf(), guest: "/".into() }], map: map() };
        let mut personality = Personality::new(config).unwrap();
        personality.set_warning_sink(Box::new(|_| {}));
        // A canary in the private area, which no system call argument can legitimately reach
        // except through a pointer to it.
        ram.write(0x2_0000, b"CANARY").unwrap();
        for (nr, args) in calls {
            // Never let a call touch the real standard streams or wait for long.
            if matches!(nr, 63 | 64 | 65 | 66 | 67 | 68 | 101 | 115) && args[0] < 3 {
                continue;
            }
            if matches!(nr, 101 | 115) {
                continue;
            }
            let writes_to_canary = args.iter().any(|a| (0x1_f000..0x2_1000).contains(a));
            match personality.syscall(&mut ram, nr, args) {
                Outcome::Return(value) => prop_assert!(value >= -4095, "nr {nr}: {value}"),
                Outcome::Exit(code) => prop_assert!((0..=255).contains(&code)),
            }
            if !writes_to_canary {
                prop_assert_eq!(ram.bytes(0x2_0000, 6).unwrap(), b"CANARY");
            }
        }
    }
}
