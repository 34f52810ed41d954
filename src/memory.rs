//! How the server process holds memory: mimalloc (the global allocator, set in `main.rs`)
//! tuned so that resident memory follows the load down again, which the memory budget in
//! the README relies on (`tests/api/memory.rs` measures it).
//!
//! - **No transparent huge pages.** With the kernel's THP in `madvise` mode, mimalloc asks
//!   for huge pages, and every 2 MiB region touched becomes resident whole: about 20 MiB
//!   more at rest and far more after a burst. `PR_SET_THP_DISABLE` turns them off for this
//!   process.
//! - **Freed memory goes back to the OS after 10 ms**, not mimalloc v3's default of a
//!   second (ten for whole arenas): a burst of large request bodies (stalled 4 MiB uploads)
//!   otherwise leaves hundreds of MiB resident until long after it ended.
//!
//! mimalloc's own environment variables still win: `MIMALLOC_ALLOW_THP=1` keeps huge pages,
//! `MIMALLOC_PURGE_DELAY=N` sets the delay (see mimalloc's documentation).
//!
//! This is the one module allowed `unsafe`: neither call has a safe wrapper.
#![allow(unsafe_code)]

/// mimalloc's `mi_option_purge_delay` in its v3 `mi_option_t` (libmimalloc-sys names the
/// v2 numbering only); the test below checks it against the option's v3 default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory is kept before it is returned to the OS, in milliseconds.
const PURGE_DELAY_MS: std::os::raw::c_long = 10;

/// Applies this module's settings; called first thing by `main`, before serving.
pub fn tune_allocator() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes one integer argument and changes only a flag of
        // this process's memory map; the unused arguments must be zero.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set stores an integer in mimalloc's option table; the purge
        // delay is read each time a purge is scheduled. Called before the server starts.
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_mimalloc_v3s() {
        // SAFETY: reads mimalloc's option table.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(
            default, 1000,
            "mimalloc v3's purge delay defaults to 1000 ms"
        );
    }
}
