//! End-to-end tests: each starts the real `kiroku` binary on a fresh data directory and talks to it
//! over HTTP like any client would.

mod harness;

mod access;
mod account_pages;
mod accounts;
mod backup;
mod bad_input;
mod checklist;
mod crash;
mod export;
mod governance;
mod identity;
mod ledger_pages;
mod ledgers;
mod log;
mod offline_export;
mod operations;
mod scan;
mod scan_pages;
mod sessions;
mod story;
mod tamper;
mod timestamps;
mod tls;
mod web;
mod webauthn;
