//! A job's claim kept alive while an instance works on it: renewed in the background, and a flag
//! raised when another instance took the job over (then this one stops sending and recording).

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

use super::*;

/// Jobs being worked on in this process, by (instance, job): the resumer never takes over a
/// job its own instance is still running, even when a busy database let the lease lapse.
static RUNNING: LazyLock<Mutex<HashSet<(String, Uuid)>>> =
    LazyLock::new(|| Mutex::new(HashSet::new()));

/// The running claim on one job; renewal stops when it is dropped.
pub(crate) struct Lease {
    /// Raised when the claim was lost to another instance.
    pub(crate) lost: Arc<AtomicBool>,
    key: (String, Uuid),
    renew: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Takes job `id` for this process and renews its claim every third of [`LEASE`] (sooner
    /// again after a failed renewal: a busy database must not let it lapse). `None` when this
    /// instance already runs it: taken before the claim in the database, so that two paths of
    /// one instance (a fresh start and the resumer, which share the instance id and so both
    /// win the claim) can never run one job twice — the second would find every chunk started.
    pub(crate) fn take(state: &AppState, id: Uuid) -> Option<Lease> {
        let key = (state.instance_id.clone(), id);
        let fresh = RUNNING
            .lock()
            .map(|mut running| running.insert(key.clone()))
            .unwrap_or(false);
        if !fresh {
            return None;
        }
        let lost = Arc::new(AtomicBool::new(false));
        let (flag, db, owner) = (lost.clone(), state.db.clone(), state.instance_id.clone());
        let renew = tokio::spawn(async move {
            let mut wait = LEASE / 3;
            loop {
                tokio::time::sleep(wait).await;
                match db.job_renew_lease(id, &owner, LEASE).await {
                    Ok(true) => wait = LEASE / 3,
                    Ok(false) => {
                        flag.store(true, Ordering::SeqCst);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(job = %id, error = %e, "lease renewal failed; trying again");
                        wait = Duration::from_secs(1);
                    }
                }
            }
        });
        Some(Lease { lost, key, renew })
    }

    /// Did another instance take the job over?
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renew.abort();
        if let Ok(mut running) = RUNNING.lock() {
            running.remove(&self.key);
        }
    }
}
