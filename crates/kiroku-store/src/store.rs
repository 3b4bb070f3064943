//! [`Store`]: the handle the server and CLI use. Commands go to the writer; session checks and
//! verification read through the backend directly.

use std::sync::Arc;

use kiroku_core::{AuditEvent, PermissionMatrix};

use crate::backend::Backend;
use crate::command::{Command, Reply};
use crate::error::{Result, StoreError};
use crate::records::*;
use crate::writer::Writer;

#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    writer: Writer,
}

impl Store {
    /// Starts the writer for `backend`. Must be called inside a tokio runtime.
    pub fn start(backend: Arc<dyn Backend>) -> Store {
        let (writer, _task) = Writer::start(backend.clone());
        Store { backend, writer }
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Executes a command through the single writer; answers once it is durable.
    pub async fn execute(&self, command: Command) -> Result<Reply> {
        self.writer.submit(command).await
    }

    /// A session by its token hash, with its account, read outside the writer.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionWithUser>> {
        let mut tx = self.backend.begin_read().await?;
        let Some(session) = tx.get_session(token_hash).await? else { return Ok(None) };
        let user = tx.get_user(session.username.as_str()).await?;
        tx.rollback().await?;
        Ok(user.map(|user| SessionWithUser { session, user }))
    }

    /// An account as stored, for checking a password before the login command.
    pub async fn user(&self, username: &str) -> Result<Option<UserRecord>> {
        let mut tx = self.backend.begin_read().await?;
        let user = tx.get_user(username).await?;
        tx.rollback().await?;
        Ok(user)
    }

    /// The last `limit` password hashes of an account, newest first.
    pub async fn password_history(&self, username: &str, limit: i64) -> Result<Vec<String>> {
        let mut tx = self.backend.begin_read().await?;
        let hashes = tx.password_history(username, limit).await?;
        tx.rollback().await?;
        Ok(hashes)
    }

    pub async fn is_initialised(&self) -> Result<bool> {
        let mut tx = self.backend.begin_read().await?;
        let n = tx.count_users().await?;
        tx.rollback().await?;
        Ok(n > 0)
    }
}

fn unexpected(reply: &Reply) -> StoreError {
    StoreError::Corrupt(format!("unexpected reply from the writer: {}", reply_name(reply)))
}

fn reply_name(reply: &Reply) -> &'static str {
    match reply {
        Reply::Done => "done",
        Reply::User(_) => "user",
        Reply::Users(_) => "users",
        Reply::LoginFailed { .. } => "login_failed",
        Reply::Matrix(_) => "matrix",
        Reply::Patient(_) => "patient",
        Reply::Patients(_) => "patients",
        Reply::Document(_) => "document",
        Reply::Documents(_) => "documents",
        Reply::Versions(_) => "versions",
        Reply::Attachment(_) => "attachment",
        Reply::Audit(_) => "audit",
    }
}

macro_rules! into {
    ($($fn:ident => $variant:ident($t:ty)),+ $(,)?) => {
        impl Reply {
            $(pub fn $fn(self) -> Result<$t> {
                match self {
                    Reply::$variant(v) => Ok(v.into()),
                    other => Err(unexpected(&other)),
                }
            })+
        }
    };
}

into! {
    into_user => User(UserRecord),
    into_users => Users(Vec<UserRecord>),
    into_matrix => Matrix(PermissionMatrix),
    into_patient => Patient(Patient),
    into_patients => Patients(Vec<Patient>),
    into_document => Document(Box<DocumentView>),
    into_documents => Documents(Vec<DocumentHead>),
    into_versions => Versions(Vec<VersionSummary>),
    into_attachment => Attachment(AttachmentRecord),
    into_audit => Audit(Vec<AuditEvent>),
}
