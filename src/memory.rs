//! Process-wide memory settings, applied once at start before any thread.
//!
//! glibc's malloc gives each thread that allocates under contention an
//! arena of its own, up to eight per core, and memory freed in one arena
//! is never reused by another. The daemon's threads (tokio workers, the
//! store worker, the outbox marker, SMTP lanes) each hold a partly used
//! arena: measured on the throughput benchmark, 33.5 MiB of private memory
//! with the default and 24.2 MiB with one arena, for the same CPU within
//! the noise (BENCHMARKS.md, "Memory"). Two arenas keep one spare for the
//! busiest pair of threads.

/// Arenas glibc's malloc may create (see the module doc).
pub const MALLOC_ARENAS: i32 = 2;

/// Cap glibc's malloc arenas at [`MALLOC_ARENAS`], unless the operator
/// chose a number with the `MALLOC_ARENA_MAX` environment variable (glibc
/// reads it itself). Does nothing on other C libraries.
pub fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes a malloc parameter; called before
        // the process starts other threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

/// Give the pages malloc holds free back to the system (glibc's
/// `malloc_trim(0)`: the top of every arena and whole free pages inside
/// them). Called by the store worker after each batch, when the batch's
/// mail, parses and rendered notices have been freed: without it the free
/// pages between live allocations stay resident, and each batch can leave
/// its pattern of them behind. Returns whether anything was released.
/// Does nothing on other C libraries.
pub fn give_back() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only releases memory malloc holds free; it
        // takes each arena's lock like any allocation.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}
