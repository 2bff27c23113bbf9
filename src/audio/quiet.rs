//! Keeps alsa-lib's own error lines ("ALSA lib confmisc.c:855:(parse_card) cannot find card
//! '0'", "Unknown PCM default") off stderr on a computer without a sound card: the checks
//! already say so in words an agent can act on. With `SHIFTREADY_LOG` at debug or finer the
//! lines are left alone, for diagnosis.
//!
//! alsa-lib's global handler (`snd_lib_error_set_handler`) is C-variadic, which stable Rust
//! cannot define; its per-thread handler (`snd_lib_error_set_local`, alsa-lib 1.1.6 and later)
//! takes a `va_list` instead, so every thread that calls into ALSA through cpal calls
//! [`quiet_alsa`] first. It is cheap and idempotent per thread.

/// Silences alsa-lib's error messages on this thread, unless debug logging is on.
pub fn quiet_alsa() {
    #[cfg(target_os = "linux")]
    linux::quiet();
}

#[cfg(target_os = "linux")]
mod linux {
    #![allow(unsafe_code)]

    use std::cell::Cell;
    use std::ffi::{c_char, c_int};

    thread_local! {
        static DONE: Cell<bool> = const { Cell::new(false) };
    }

    /// Drops one alsa-lib message (the signature of `snd_local_error_handler_t`).
    extern "C" fn discard(
        _file: *const c_char,
        _line: c_int,
        _function: *const c_char,
        _err: c_int,
        _fmt: *const c_char,
        _args: *mut alsa_sys::__va_list_tag,
    ) {
    }

    pub fn quiet() {
        if DONE.get() || tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        DONE.set(true);
        // SAFETY: stores a function pointer in alsa-lib's thread-local handler slot; `discard`
        // has exactly the handler's C signature and reads none of its arguments.
        unsafe {
            alsa_sys::snd_lib_error_set_local(Some(discard));
        }
    }
}
