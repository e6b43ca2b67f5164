//! A job's claim kept alive while an instance works on it: renewed in the background, and a flag
//! raised when another instance took the job over (then this one stops sending and recording).

use super::*;

/// The running claim on one job; renewal stops when it is dropped.
pub(crate) struct Lease {
    /// Raised when the claim was lost to another instance.
    pub(crate) lost: Arc<AtomicBool>,
    renew: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Renews the claim of `id` held by this instance every third of [`LEASE`].
    pub(crate) fn keep(state: &AppState, id: Uuid) -> Lease {
        let lost = Arc::new(AtomicBool::new(false));
        let (flag, db, owner) = (lost.clone(), state.db.clone(), state.instance_id.clone());
        let renew = tokio::spawn(async move {
            let mut tick = tokio::time::interval(LEASE / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                match db.job_renew_lease(id, &owner, LEASE).await {
                    Ok(true) => {}
                    Ok(false) => {
                        flag.store(true, Ordering::SeqCst);
                        break;
                    }
                    Err(e) => tracing::warn!(job = %id, error = %e, "lease renewal failed"),
                }
            }
        });
        Lease { lost, renew }
    }

    /// Did another instance take the job over?
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renew.abort();
    }
}
