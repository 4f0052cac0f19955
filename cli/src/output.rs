//! Where the commands print: the process's stdout and stderr, or, while a command runs inside
//! `world run` for a control-socket client ([`crate::held`]), two buffers that go back to that
//! client. Commands print through [`outln!`], [`out!`] and [`errln!`] so both work alike.

use std::cell::RefCell;

/// Most bytes one captured command may print (stdout and stderr together); past it the output
/// is cut with a note, so a client cannot make `world run` hold unbounded memory.
pub const CAPTURE_BYTES_MAX: usize = 64 << 20;

/// What a captured command printed.
#[derive(Debug, Default)]
pub struct Captured {
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

thread_local! {
    static CAPTURE: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// Which stream a line goes to.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Standard output.
    Out,
    /// Standard error.
    Err,
}

/// Writes `text` to `stream`: into the capture when one is active on this thread, else to the
/// process's stream (a closed pipe is ignored, as `println!` would not be).
pub fn write(stream: Stream, text: &str) {
    let captured = CAPTURE.with(|cell| {
        let mut cell = cell.borrow_mut();
        let Some(captured) = cell.as_mut() else {
            return false;
        };
        let used = captured.stdout.len() + captured.stderr.len();
        let target = match stream {
            Stream::Out => &mut captured.stdout,
            Stream::Err => &mut captured.stderr,
        };
        if used + text.len() <= CAPTURE_BYTES_MAX {
            target.push_str(text);
        } else if used < CAPTURE_BYTES_MAX {
            target.push_str("\n… output cut: more than the control socket carries\n");
        }
        true
    });
    if !captured {
        use std::io::Write;
        let _ = match stream {
            Stream::Out => std::io::stdout().lock().write_all(text.as_bytes()),
            Stream::Err => std::io::stderr().lock().write_all(text.as_bytes()),
        };
    }
}

/// Runs `f` with this thread's output captured; returns its result and what it printed.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Captured) {
    CAPTURE.with(|cell| *cell.borrow_mut() = Some(Captured::default()));
    let result = f();
    let captured = CAPTURE.with(|cell| cell.borrow_mut().take().unwrap_or_default());
    (result, captured)
}

/// `println!` through [`write`].
macro_rules! outln {
    () => { $crate::output::write($crate::output::Stream::Out, "\n") };
    ($($arg:tt)*) => {
        $crate::output::write($crate::output::Stream::Out, &format!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` through [`write`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write($crate::output::Stream::Out, &format!($($arg)*))
    };
}

/// `eprintln!` through [`write`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write($crate::output::Stream::Err, &format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_collects_both_streams_and_ends() {
        let (value, captured) = capture(|| {
            outln!("one {}", 1);
            out!("two");
            errln!("three");
            7
        });
        assert_eq!(value, 7);
        assert_eq!(captured.stdout, "one 1\ntwo");
        assert_eq!(captured.stderr, "three\n");
        // Outside a capture nothing is collected.
        let (_, empty) = capture(|| ());
        assert!(empty.stdout.is_empty());
    }

    #[test]
    fn capture_is_bounded() {
        let line = "x".repeat(1 << 20);
        let (_, captured) = capture(|| {
            for _ in 0..(CAPTURE_BYTES_MAX >> 20) + 3 {
                outln!("{line}");
            }
        });
        assert!(captured.stdout.len() <= CAPTURE_BYTES_MAX + 100);
        assert!(captured.stdout.ends_with("control socket carries\n"));
    }
}
