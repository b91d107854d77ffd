//! The start-up block: what a Linux kernel puts on the initial stack, at a fixed address.

use xisa_format::memory_map::{GUEST_PAGE_SIZE, STARTUP};

use crate::abi::{
    AT_CLKTCK, AT_EGID, AT_EUID, AT_GID, AT_HWCAP, AT_NULL, AT_PAGESZ, AT_RANDOM, AT_SECURE, AT_UID,
};
use crate::errno::Errno;
use crate::guest_io::GuestMemoryExt;
use crate::memory::GuestMemory;

/// Clock ticks per second reported in `AT_CLKTCK` (Linux's `USER_HZ`).
const CLOCK_TICKS: u64 = 100;

/// Write argc, argv, envp, the auxiliary vector and their strings at `STARTUP.start`, laid
/// out exactly as musl's `__libc_start_main` expects a Linux initial stack. Returns the
/// address of argc. `E2BIG` if it does not fit in the block, `EINVAL` if a string holds a
/// NUL byte (it could not be passed through execve either).
pub fn build_startup_block(
    mem: &mut dyn GuestMemory,
    args: &[String],
    env: &[String],
    random: [u8; 16],
) -> Result<u64, Errno> {
    let block = encode(STARTUP.start, args, env, random)?;
    if block.len() as u64 > STARTUP.end - STARTUP.start {
        return Err(Errno::E2BIG);
    }
    mem.write_bytes(STARTUP.start, &block)?;
    Ok(STARTUP.start)
}

/// The block's bytes, for a block placed at guest address `base`.
fn encode(base: u64, args: &[String], env: &[String], random: [u8; 16]) -> Result<Vec<u8>, Errno> {
    if args.iter().chain(env).any(|s| s.as_bytes().contains(&0)) {
        return Err(Errno::EINVAL);
    }
    let auxv_without_random: [(u64, u64); 8] = [
        (AT_PAGESZ, GUEST_PAGE_SIZE),
        (AT_CLKTCK, CLOCK_TICKS),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_SECURE, 0),
        (AT_HWCAP, 0),
    ];
    // argc, argv + NULL, envp + NULL, auxv pairs incl. AT_RANDOM and AT_NULL.
    let words = 1 + (args.len() + 1) + (env.len() + 1) + 2 * (auxv_without_random.len() + 2);
    let strings: usize = args.iter().chain(env).map(|s| s.len() + 1).sum();
    let limit = (STARTUP.end - STARTUP.start) as usize;
    if words
        .saturating_mul(8)
        .saturating_add(16)
        .saturating_add(strings)
        > limit
    {
        return Err(Errno::E2BIG);
    }

    let random_at = base + words as u64 * 8;
    let mut string_at = random_at + 16;
    let mut vector = Vec::with_capacity(words);
    let mut text = Vec::with_capacity(strings);
    vector.push(args.len() as u64);
    for list in [args, env] {
        for s in list {
            vector.push(string_at);
            text.extend_from_slice(s.as_bytes());
            text.push(0);
            string_at += s.len() as u64 + 1;
        }
        vector.push(0);
    }
    for (key, value) in auxv_without_random {
        vector.extend([key, value]);
    }
    vector.extend([AT_RANDOM, random_at, AT_NULL, 0]);
    debug_assert_eq!(vector.len(), words);

    let mut out: Vec<u8> = vector.iter().flat_map(|w| w.to_le_bytes()).collect();
    out.extend_from_slice(&random);
    out.extend_from_slice(&text);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tests::VecMemory;

    #[test]
    fn layout_is_a_linux_initial_stack() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let args = vec!["prog".to_string(), "-x".to_string()];
        let env = vec!["HOME=/".to_string()];
        let random: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
        let sp = build_startup_block(&mut mem, &args, &env, random).unwrap();
        assert_eq!(sp, STARTUP.start);
        let word = |i: u64| mem.read_u64(sp + 8 * i).unwrap();
        assert_eq!(word(0), 2);
        assert_eq!(mem.read_cstr(word(1), 100).unwrap(), b"prog");
        assert_eq!(mem.read_cstr(word(2), 100).unwrap(), b"-x");
        assert_eq!(word(3), 0);
        assert_eq!(mem.read_cstr(word(4), 100).unwrap(), b"HOME=/");
        assert_eq!(word(5), 0);
        let mut auxv = Vec::new();
        let mut i = 6;
        loop {
            let (key, value) = (word(i), word(i + 1));
            auxv.push((key, value));
            i += 2;
            if key == AT_NULL {
                break;
            }
        }
        let get = |k: u64| auxv.iter().find(|&&(key, _)| key == k).map(|&(_, v)| v);
        assert_eq!(get(AT_PAGESZ), Some(4096));
        assert_eq!(get(AT_CLKTCK), Some(100));
        for key in [AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE, AT_HWCAP] {
            assert_eq!(get(key), Some(0), "auxv key {key}");
        }
        let random_at = get(AT_RANDOM).unwrap();
        assert!(STARTUP.contains(&random_at));
        assert_eq!(mem.bytes(random_at, 16).unwrap(), &random);
        assert_eq!(auxv.len(), 10);
        // Every pointer stays inside the block.
        for p in [word(1), word(2), word(4)] {
            assert!(STARTUP.contains(&p));
        }
    }

    #[test]
    fn too_big_is_e2big() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let huge = vec!["x".repeat(0x10_0000)];
        assert_eq!(
            build_startup_block(&mut mem, &huge, &[], [0; 16]),
            Err(Errno::E2BIG)
        );
        let many = vec![String::new(); 200_000];
        assert_eq!(
            build_startup_block(&mut mem, &many, &[], [0; 16]),
            Err(Errno::E2BIG)
        );
        // Just under the limit fits.
        let fits = vec!["y".repeat(0x10_0000 - 4096)];
        assert_eq!(
            build_startup_block(&mut mem, &fits, &[], [0; 16]),
            Ok(STARTUP.start)
        );
    }

    #[test]
    fn embedded_nul_is_rejected() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let bad = vec!["a\0b".to_string()];
        assert_eq!(
            build_startup_block(&mut mem, &bad, &[], [0; 16]),
            Err(Errno::EINVAL)
        );
    }
}
