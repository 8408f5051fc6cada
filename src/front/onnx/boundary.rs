//! The panic boundary around tract. [`super::check`] refuses the malformed
//! models known to crash tract; anything else that makes tract panic is
//! caught here and becomes an error naming the model, tract's message and
//! where it panicked, instead of a backtrace.
//!
//! The panic message is captured by a hook installed once: while a thread
//! is inside [`contain`] the hook records the message instead of printing
//! it; everywhere else it defers to the hook that was there before.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use crate::{Error, Result};

thread_local! {
    /// `Some` while this thread runs inside [`contain`]: the last message.
    static CAPTURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let captured = CAPTURE.with(|c| {
                let mut c = c.borrow_mut();
                let slot = c.as_mut()?;
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                *slot = match info.location() {
                    Some(l) => format!("{msg} (at {}:{})", l.file(), l.line()),
                    None => msg,
                };
                Some(())
            });
            if captured.is_none() {
                previous(info);
            }
        }));
    });
}

/// Runs `f` (a call into tract about the model at `path`; `what` says
/// which, e.g. "parsing"); a panic becomes [`Error::Model`].
pub(crate) fn contain<T>(path: &Path, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    install_hook();
    let outer = CAPTURE.with(|c| c.borrow_mut().replace(String::new()));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    let msg = CAPTURE.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer));
    result.unwrap_or_else(|_| {
        Err(Error::Model {
            path: path.to_owned(),
            reason: format!(
                "tract panicked while {what} the model: {}; the model is malformed in a way lfc does not check (please report it)",
                msg.unwrap_or_default()
            ),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_naming_the_model() {
        let r: Result<()> = contain(Path::new("m.onnx"), "typing", || panic!("index {} out", 7));
        let e = r.unwrap_err().to_string();
        assert!(
            e.contains("m.onnx") && e.contains("typing") && e.contains("index 7 out"),
            "{e}"
        );
        assert!(e.contains("boundary.rs"), "{e}");
        // Values and errors pass through untouched.
        assert_eq!(contain(Path::new("m"), "x", || Ok(3)).unwrap(), 3);
        let r: Result<()> = contain(Path::new("m"), "x", || Err(Error::Other("plain".into())));
        assert_eq!(r.unwrap_err().to_string(), "plain");
    }
}
