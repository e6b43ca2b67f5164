//! The integration tests as one binary: one module per concern, sharing `helpers`.

mod helpers;

mod actions;
mod approvals;
mod audit;
mod auth_flow;
mod auth_hardening;
mod browser;
mod browser_approvals;
mod browser_changes;
mod browser_import;
mod browser_overview;
mod browser_portal;
mod change_befores;
mod changes;
mod compression;
mod devices;
mod export;
mod hardening;
mod import;
mod job_scale;
mod large_group;
mod metrics;
mod multi_instance;
mod overview;
mod portal;
mod proptest_parsers;
mod revert;
mod scope_matrix;
mod simulator_conformance;
mod soak;
mod static_assets;
mod storage;
mod usage;
