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
