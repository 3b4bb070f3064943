//! The tamper-evident log: the latest signed checkpoint (public, for witnesses), proofs, and a
//! document version with its inclusion proof for offline checking.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiPath as Path, ApiQuery as Query, Authenticated};

fn public_key(state: &AppState) -> Option<String> {
    state.log_key.as_ref().map(|k| k.verifier().encode())
}

pub async fn checkpoint(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let cp = state.store.latest_checkpoint().await?.ok_or_else(|| ApiError::not_found("checkpoint"))?;
    Ok(Json(json!({ "size": cp.size, "root": cp.root, "time": cp.time, "note": cp.note, "public_key": public_key(&state) })))
}

pub async fn key(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let key = public_key(&state).ok_or_else(|| ApiError::not_found("log key"))?;
    Ok(Json(json!({ "public_key": key })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    leaf: u64,
    size: u64,
}

pub async fn inclusion(State(state): State<AppState>, _auth: Authenticated, Query(q): Query<InclusionQuery>) -> ApiResult<Json<Value>> {
    let proof = state.store.inclusion_proof(q.leaf, q.size).await?;
    Ok(Json(json!({ "leaf_index": q.leaf, "tree_size": q.size, "hashes": proof.iter().map(hex::encode).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: u64,
    to: u64,
}

pub async fn consistency(State(state): State<AppState>, _auth: Authenticated, Query(q): Query<ConsistencyQuery>) -> ApiResult<Json<Value>> {
    let proof = state.store.consistency_proof(q.from, q.to).await?;
    Ok(Json(json!({ "from": q.from, "to": q.to, "hashes": proof.iter().map(hex::encode).collect::<Vec<_>>() })))
}

/// A version with everything needed to check it offline with `kiroku log check`.
pub async fn version_proof(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((raw, n)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let id = kiroku_core::DocumentId::parse(raw).map_err(|_| ApiError::not_found("document"))?;
    let version: i64 = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| ApiError::not_found("version"))?;
    let proof =
        state.store.execute(kiroku_store::Command::ReadVersionProof { actor: auth.actor, id, version }).await?.into_version_proof()?;
    let mut body = json!(proof);
    body["public_key"] = json!(public_key(&state));
    Ok(Json(body))
}
