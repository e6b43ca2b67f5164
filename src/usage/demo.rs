//! The demo's simulated history (filled in later).
