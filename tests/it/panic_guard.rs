//! Fails a test whose console (or simulator) panicked: one process-wide panic hook records every
//! panic with the thread it happened on, and each console the helpers start holds a [`PanicGuard`]
//! that checks the record when the test drops it.
//!
//! A panic in a spawned task (a response body polled after its end, say) never reaches the test
//! itself: the connection is reset and the test may even pass. The guard makes it fail. A test's
//! own tasks run on its own thread (`#[tokio::test]`), on runtime workers (`flavor =
//! "multi_thread"`) or on an [`crate::helpers::Instance`]'s named threads; each guard looks at the
//! panics of its threads recorded while it lived.

use std::sync::{Mutex, Once, PoisonError};
use std::thread::ThreadId;

/// One recorded panic.
#[derive(Debug, Clone)]
struct Panic {
    seq: usize,
    thread: ThreadId,
    thread_name: String,
    message: String,
}

static PANICS: Mutex<Vec<Panic>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// How the names tokio gives the worker threads of a `multi_thread` test runtime start
/// (`tokio-rt-worker`, formerly `tokio-runtime-worker`).
const TOKIO_WORKER: &str = "tokio-";

fn recorded() -> std::sync::MutexGuard<'static, Vec<Panic>> {
    PANICS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs the recording hook (once per process); the previous hook still prints the panic.
fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let t = std::thread::current();
            let mut all = recorded();
            let seq = all.len();
            all.push(Panic {
                seq,
                thread: t.id(),
                thread_name: t.name().unwrap_or_default().to_owned(),
                message: info.to_string(),
            });
            drop(all);
            previous(info);
        }));
    });
}

/// Which threads a guard answers for.
enum Threads {
    /// The test's own thread, and the runtime workers when the test runtime has them.
    Test { thread: ThreadId, workers: bool },
    /// The threads of a console on a runtime of its own, all named `name`.
    Named(String),
}

/// Checks, when dropped, that no thread of its console panicked while it lived.
pub struct PanicGuard {
    threads: Threads,
    since: usize,
}

impl PanicGuard {
    /// A guard for a console running on the calling test's runtime.
    pub fn for_test() -> Self {
        install();
        let workers = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        Self {
            threads: Threads::Test {
                thread: std::thread::current().id(),
                workers,
            },
            since: recorded().len(),
        }
    }

    /// A guard for a console whose threads are all named `name`.
    pub fn for_threads(name: &str) -> Self {
        install();
        Self {
            threads: Threads::Named(name.to_owned()),
            since: recorded().len(),
        }
    }

    fn answers_for(&self, p: &Panic) -> bool {
        match &self.threads {
            Threads::Test { thread, workers } => {
                p.thread == *thread || (*workers && p.thread_name.starts_with(TOKIO_WORKER))
            }
            Threads::Named(name) => p.thread_name == *name,
        }
    }

    /// The panics of this guard's threads so far, as "thread: message".
    pub fn panics(&self) -> Vec<String> {
        recorded()
            .iter()
            .filter(|p| p.seq >= self.since && self.answers_for(p))
            .map(|p| format!("{}: {}", p.thread_name, p.message))
            .collect()
    }

    /// Fails the test when a thread of its console panicked.
    pub fn check(&self) {
        let panics = self.panics();
        assert!(
            panics.is_empty(),
            "the console panicked while the test ran:\n{}",
            panics.join("\n")
        );
    }
}

impl Drop for PanicGuard {
    fn drop(&mut self) {
        // A test that already fails has said why; its own assertion is one of the panics.
        if !std::thread::panicking() {
            self.check();
        }
    }
}
