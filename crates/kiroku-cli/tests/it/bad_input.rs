//! Bad input of every kind gets a clear 4xx problem and changes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

async fn raw(c: &Client, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
    let resp = c
        .http
        .request(method, format!("{}{}", c.base, path))
        .bearer_auth(c.token.clone().unwrap_or_default())
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body: Value = serde_json::from_slice(&resp.bytes().await.expect("body")).unwrap_or(Value::Null);
    assert_eq!(ct, "application/problem+json", "{path}: errors are problem details");
    Resp { status, headers, body }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_problem_details_and_changes_nothing() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[("KIROKU_STORAGE_MAX_UPLOAD_MIB", "1")]);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    create_patient(&doctor, "P1").await;
    let doc = doctor.post("/api/v1/patients/P1/documents", note("本文")).await.expect(201, "doc");
    let id = doc["id"].as_str().expect("id").to_string();
    let docs = "/api/v1/patients/P1/documents".to_string();

    // (method, path, content type, body, expected status, expected problem type)
    type Case = (Method, String, &'static str, Vec<u8>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (Method::POST, docs.clone(), "application/json", b"{\"type\": ".to_vec(), 400, "/problems/malformed"),
        (Method::POST, docs.clone(), "application/json", vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'], 400, "/problems/malformed"),
        (Method::POST, docs.clone(), "text/plain", b"{}".to_vec(), 415, "/problems/unsupported-media"),
        (
            Method::POST,
            docs.clone(),
            "application/json",
            br#"{"type":"n","title":"t","body":"b","colour":"red"}"#.to_vec(),
            422,
            "/problems/validation",
        ),
        (Method::POST, docs.clone(), "application/json", br#"{"type":1,"title":"t","body":"b"}"#.to_vec(), 422, "/problems/validation"),
        (Method::POST, docs.clone(), "application/json", br#"{"type":"n","title":"","body":"b"}"#.to_vec(), 422, "/problems/validation"),
        (
            Method::POST,
            docs.clone(),
            "application/json",
            br#"{"type":"n","title":"t","body":"b","info_class":"secret"}"#.to_vec(),
            422,
            "/problems/validation",
        ),
        (
            Method::POST,
            "/api/v1/patients".into(),
            "application/json",
            r#"{"patient_id":"../../x","name":"a","name_kana":"ア","birth_date":"1990-01-01","sex":"male"}"#.as_bytes().to_vec(),
            422,
            "/problems/validation",
        ),
        (
            Method::POST,
            "/api/v1/patients".into(),
            "application/json",
            r#"{"patient_id":"P2","name":"a","name_kana":"ア","birth_date":"1990-13-01","sex":"male"}"#.as_bytes().to_vec(),
            422,
            "/problems/validation",
        ),
        (
            Method::POST,
            "/api/v1/patients".into(),
            "application/json",
            r#"{"patient_id":"P1","name":"a","name_kana":"ア","birth_date":"1990-01-01","sex":"male"}"#.as_bytes().to_vec(),
            409,
            "/problems/conflict",
        ),
        (Method::PUT, format!("/api/v1/documents/{id}"), "application/json", br#"{"body":null}"#.to_vec(), 422, "/problems/validation"),
        (
            Method::POST,
            format!("/api/v1/documents/{id}/attachments?name=..%2F..%2Fetc%2Fpasswd"),
            "application/pdf",
            b"%PDF".to_vec(),
            422,
            "/problems/validation",
        ),
        (
            Method::POST,
            format!("/api/v1/documents/{id}/attachments?name=a%2Fb.pdf"),
            "application/pdf",
            b"%PDF".to_vec(),
            422,
            "/problems/validation",
        ),
        (
            Method::POST,
            format!("/api/v1/documents/{id}/attachments?name=.env"),
            "application/pdf",
            b"%PDF".to_vec(),
            422,
            "/problems/validation",
        ),
        (Method::POST, format!("/api/v1/documents/{id}/attachments"), "application/pdf", b"%PDF".to_vec(), 422, "/problems/validation"),
        (Method::GET, format!("/api/v1/patients?q={}", "a".repeat(5000)), "application/json", Vec::new(), 422, "/problems/validation"),
        (Method::GET, "/api/v1/patients/..%2F..%2Fetc".into(), "application/json", Vec::new(), 404, "/problems/not-found"),
        (Method::GET, "/api/v1/documents/not-a-uuid".into(), "application/json", Vec::new(), 404, "/problems/not-found"),
        (Method::GET, format!("/api/v1/documents/{id}/versions/0"), "application/json", Vec::new(), 404, "/problems/not-found"),
        (Method::GET, "/api/v1/nothing-here".into(), "application/json", Vec::new(), 404, "/problems/no-route"),
        (Method::PATCH, "/api/v1/patients".into(), "application/json", b"{}".to_vec(), 405, "/problems/method-not-allowed"),
    ];
    for (method, path, ct, body, status, kind) in cases {
        let shown = path.chars().take(80).collect::<String>();
        let r = raw(&doctor, method.clone(), &path, ct, body).await;
        assert_eq!((r.status.as_u16(), r.problem_type()), (status, kind), "{method} {shown}: {}", r.body);
        assert!(r.body["title_ja"].is_string(), "a Japanese title too");
        let detail = r.body["detail"].as_str().unwrap_or("").to_lowercase();
        assert!(!detail.contains("sqlite") && !detail.contains("sqlx") && !detail.contains("panicked"), "no internals: {detail}");
    }
    // Oversize bodies over a raw connection: the client stops writing where the server stops reading,
    // so the refusal is observed without racing the server's early close.
    let token = doctor.token.clone().unwrap_or_default();
    let (status, body) = raw_oversize(
        &server.base,
        &format!("/api/v1/documents/{id}/attachments?name=big.bin"),
        &token,
        "application/octet-stream",
        1024 * 1024 + 1,
        0,
    );
    assert_eq!((status, body["type"].as_str()), (413, Some("/problems/too-large")), "declared size over the upload limit: {body}");
    let (status, body) = raw_oversize(&server.base, &docs, &token, "application/json", 3 * 1024 * 1024, 2 * 1024 * 1024 + 1);
    assert_eq!((status, body["type"].as_str()), (413, Some("/problems/too-large")), "JSON over its limit: {body}");

    let stale = doctor.send(Method::PUT, &format!("/api/v1/documents/{id}"), Some(json!({ "body": "x" })), &[("if-match", "banana")]).await;
    assert_eq!(stale.status, 422, "a malformed If-Match is refused");
    let unauth = server.client().get("/api/v1/patients?q=P").await;
    assert_eq!((unauth.status.as_u16(), unauth.problem_type()), (401, "/problems/unauthenticated"));
    let forged = Client { token: Some("forged-token".into()), ..server.client() };
    assert_eq!(forged.get("/api/v1/patients?q=P").await.status, 401);

    // Nothing of the above changed anything.
    let listed = doctor.get("/api/v1/patients/P1/documents").await.expect(200, "list");
    assert_eq!(listed["documents"].as_array().map(Vec::len), Some(1));
    let same = doctor.get(&format!("/api/v1/documents/{id}")).await.expect(200, "read");
    assert_eq!((same["version"].as_i64(), same["content_hash"].clone()), (Some(1), doc["content_hash"].clone()));
    assert_eq!(same["attachments"].as_array().map(Vec::len), Some(0));
    let found = doctor.get("/api/v1/patients?q=P2").await.expect(200, "search");
    assert_eq!(found["patients"].as_array().map(Vec::len), Some(0));
    drop(server);
    let out = kiroku(&dir.path().join("data"), &["verify"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let leftovers = std::fs::read_dir(dir.path().join("data/blobs/tmp")).expect("tmp").count();
    assert_eq!(leftovers, 0, "refused uploads leave no partial files");

    // The command line refuses bad input with a one-line reason and exit code 2.
    let out = kiroku(&dir.path().join("data"), &["user", "add", "bad name", "--role", "doctor", "--display-name", "x"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("kiroku: error:") && err.trim().lines().count() == 1, "{err}");
    let out = kiroku(&dir.path().join("data"), &["user", "add", "x1", "--role", "surgeon", "--display-name", "x"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = kiroku(&dir.path().join("data"), &["verify"], &[("KIROKU_AUTH_LOCKOUT", "3")]);
    assert_eq!(out.status.code(), Some(2), "an unknown setting stops the command");
}

/// Sends a request declaring `declared` body bytes but writing only `sent` of them, then reads the
/// answer: status and JSON body.
fn raw_oversize(base: &str, path: &str, token: &str, content_type: &str, declared: usize, sent: usize) -> (u16, Value) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {declared}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(&vec![b' '; sent]).expect("write body");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    (status, body)
}
