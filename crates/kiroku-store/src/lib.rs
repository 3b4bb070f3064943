//! The storage interface of kiroku.
//!
//! Everything that changes state, and every read of patient data, is a [`Command`] executed by the
//! [`engine`] inside a write transaction of a [`Backend`], together with its audit event. Commands
//! reach the backend through one [`writer::Writer`] per process, which group-commits them: a batch
//! shares one durable commit, a refused command is undone before it changes anything, and no caller hears "done" before
//! the commit is durable. Backends (SQLite, PostgreSQL) only provide the primitives of [`Tx`].

pub mod backend;
pub mod command;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod fixity;
pub mod governance;
pub mod governance_ledgers;
pub mod ledger;
pub mod operations;
pub mod records;
pub mod review;
pub mod scan;
pub mod sql;
pub mod stamps;
pub mod store;
pub mod verify;
pub mod writer;

#[cfg(feature = "testkit")]
pub mod story;

pub use backend::{Backend, Tx};
pub use command::{Actor, Command, Reply};
pub use error::StoreError;
pub use records::*;
pub use store::Store;

#[doc(hidden)]
pub use {async_trait, kiroku_core, serde_json};
